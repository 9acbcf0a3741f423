"""`grokjax collect SWEEP_DIR`: every run of a sweep in one table.

Reads each run's summary.json (and the sweep's manifest, ROOT/sweep.json, for the runs' names
and order and for runs that have not finished; without a manifest, every run directory below
ROOT, found by its config.json, finished or not) and writes:

    ROOT/results.csv   one row per run (per grid cell for grid runs): task, p, r, the grid
                       values, seeds, memorised and grokked counts, the median and range of the
                       grok step, the median best test accuracy, steps, status
    ROOT/results.md    the same as a markdown table, the one to paste into a paper
    ROOT/seeds.csv     one row per seed: its memorisation and grok steps and accuracies
    ROOT/grok-steps.png   with --plot: the median grok step of the runs (rows, named without
                       their r part: 'x2_y2/r0.3' is row x2_y2) by r (columns), each cell
                       with the fraction of its seeds that grokked

and makes `tensorboard --logdir ROOT` compare every run in one HPARAMS table: TensorBoard reads
one hparams experiment (the hparams, their values and which differ), from whichever run it
finds first, so collect writes the experiment of all the runs into each of them (replacing the
one each run wrote for itself; run it again after adding runs, and restart TensorBoard: a
running one keeps the experiment it read).

A run cut into seed pieces (`--seeds-per-task`) is one row again. A run that has not finished
is listed with its status (running, partial (step N), new), so nothing is missed.
"""

from __future__ import annotations

import csv
import io
import pathlib
import re
import sys

from grokjax.errors import GrokjaxError
from grokjax.grid import setting_text
from grokjax.launch import sweep as sweep_lib
from grokjax.monitor import tensorboard
from grokjax.saved import open_run
from grokjax.store import files, rundir
from grokjax.report.tables import grok_matrix
from grokjax.summary import grok_stats

COLUMNS = ("run", "task", "p", "r", "setting", "seeds", "memorised", "grokked",
           "grok_step_median", "grok_step_min", "grok_step_max", "best_test_acc_median",
           "diverged", "steps", "status")
SEED_COLUMNS = ("run", "task", "p", "r", "setting", "seed", "memorisation_step", "grok_step",
                "diverged_step", "best_test_acc", "test_acc", "train_acc")


def _entries(root: pathlib.Path) -> list[dict]:
    """Every run: its group, directory and what it targets, from the manifest; without one,
    every run directory below ROOT (one with a config.json: unfinished runs too, or a
    summary.json), seed pieces 'NAME/seeds-A-B' grouped as NAME, its target and task, p and r
    read from its config.json."""
    manifest = rundir.read_json(root / sweep_lib.MANIFEST, None)
    if manifest is not None:
        return [{**r, "dir": root / r["workdir"]} for r in manifest["runs"]]
    found = sorted({p.parent for name in (files.CONFIG, files.SUMMARY)
                    for p in root.rglob(name)})
    return [{"group": re.sub(r"/seeds-[0-9_-]+$", "", str(d.relative_to(root))) if d != root
             else root.name, "dir": d, **_target(d)} for d in found]


def _target(run_dir: pathlib.Path) -> dict:
    """What a run directory's config.json says it trains to, and its task, p and r (as a
    manifest's entry holds them); nothing for a missing or damaged config.json (its summary,
    if any, still says the rest)."""
    try:
        cfg = rundir.read_json_dict(files.RunFiles(run_dir).config, ("task", "p", "train"))
        return {"target_steps": int(cfg["train"]["steps"]),
                "stop_when_grokked": bool(cfg["train"].get("stop_when_grokked", False)),
                "task": cfg["task"], "p": cfg["p"], "r": cfg.get("train_fraction")}
    except (GrokjaxError, OSError, KeyError, TypeError, ValueError):
        return {}


def _setting(hparams: dict | None) -> tuple[str | None, float | None, str]:
    """A grid member's task and train fraction (None where not gridded) and its other values
    as text."""
    hparams = dict(hparams or {})
    task, r = hparams.pop("task", None), hparams.pop("train_fraction", None)
    return task, r, setting_text(hparams)


def rows(root: pathlib.Path) -> tuple[list[dict], list[dict]]:
    """(one row per run or grid cell, one row per seed), in the sweep's order."""
    entries = _entries(root)
    if not entries:
        raise GrokjaxError(f"{root} holds no sweep.json and no run directory (no config.json),"
                           " so no finished run either; give a sweep's root directory, e.g. "
                           "runs/arithmetic")
    groups: dict[str, list[dict]] = {}
    for e in entries:
        groups.setdefault(e["group"], []).append(e)
    out, per_seed = [], []
    for group, pieces in groups.items():
        statuses, cells = [], {}
        meta = {k: pieces[0].get(k) for k in ("task", "p", "r")}
        steps = 0
        for piece in pieces:
            status = sweep_lib.run_state(piece["dir"], piece.get("target_steps"),
                                         piece.get("stop_when_grokked", False))
            statuses.append(status)
            if status not in ("finished", "damaged"):
                continue
            try:
                summary = open_run(piece["dir"]).summary  # a damaged one rebuilt
            except GrokjaxError as e:  # one damaged run: said, and the others still tabled
                print(f"grokjax: warning: {e}", file=sys.stderr, flush=True)
                continue
            statuses[-1] = "finished"
            meta = {"task": summary["task"], "p": summary["p"], "r": summary["train_fraction"]}
            steps = max(steps, summary["steps"])
            for s in summary["seeds"]:
                task, r, setting = _setting(s.get("hparams"))
                key = (meta["task"] if task is None else task, meta["r"] if r is None else r,
                       setting)
                cells.setdefault(key, []).append(s)
                per_seed.append({"run": group, **meta, "task": key[0], "r": key[1],
                                 "setting": setting,
                                 **{k: s[k] for k in ("seed", "memorisation_step", "grok_step")},
                                 "diverged_step": s.get("diverged_step", -1),
                                 **{k: round(s[k], 4)
                                    for k in ("best_test_acc", "test_acc", "train_acc")}})
        finished = statuses.count("finished")
        status = (statuses[0] if len(statuses) == 1 else "finished" if finished == len(statuses)
                  else f"{finished}/{len(statuses)} pieces finished")
        if not cells:
            out.append({"run": group, **meta, "status": status})
        for (task, r, setting), seeds in cells.items():
            out.append({"run": group, **meta, "task": task, "r": r, "setting": setting,
                        **grok_stats(seeds), "steps": steps, "status": status})
    return out, per_seed


def markdown(table: list[dict]) -> str:
    """The table a user pastes into a paper."""
    grid = any(r.get("setting") for r in table)
    diverged = any(r.get("diverged") for r in table)
    head = ["run", "task", "p", "r", *(["setting"] if grid else []), "grokked",
            "median grok step", "grok step range", "best test acc",
            *(["diverged"] if diverged else []), "status"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in table:
        if "seeds" not in r:
            cells = [r["run"], r.get("task") or "?", r.get("p") or "", r.get("r") or "",
                     *([""] if grid else []), "-", "-", "-", "-", *(["-"] if diverged else []),
                     r["status"]]
        else:
            med = "-" if r["grok_step_median"] is None else f"{r['grok_step_median']:.0f}"
            rng = ("-" if r["grok_step_min"] is None
                   else f"{r['grok_step_min']}-{r['grok_step_max']}")
            cells = [r["run"], r["task"], r["p"], f"{r['r']:g}",
                     *([r["setting"]] if grid else []), f"{r['grokked']}/{r['seeds']}", med,
                     rng, f"{r['best_test_acc_median']:.3f}",
                     *([f"{r['diverged']}/{r['seeds']}"] if diverged else []), r["status"]]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    return "\n".join(lines) + "\n"


def _csv(table: list[dict], columns: tuple[str, ...]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    w.writerows({k: ("" if r.get(k) is None else r.get(k)) for k in columns} for r in table)
    return buf.getvalue()


def _row_label(run: str, setting: str) -> str:
    """A figure row: the run's name without its r part ('x2_y2/r0.3' -> 'x2_y2'), with its
    grid setting, if any."""
    name = re.sub(r"(^|/)r[0-9.]+(?=/|$)", "", run).strip("/") or run
    return name + (f" [{setting}]" if setting else "")


def plot(per_seed: list[dict], title: str, path: pathlib.Path) -> None:
    """Runs (rows, named without their r part; a task grid's run a row per task) by r
    (columns): the median grok step, and the fraction of seeds that grokked."""
    tasks: dict[str, set] = {}
    for s in per_seed:
        tasks.setdefault(s["run"], set()).add(s["task"])
    cells: dict[tuple[str, float], list[dict]] = {}
    for s in per_seed:
        label = _row_label(s["run"], s["setting"])
        if len(tasks[s["run"]]) > 1:
            label = f"{label}: {s['task']}"
        cells.setdefault((label, s["r"]), []).append(s)
    from grokjax.report import draw  # pylint: disable=import-outside-toplevel  (matplotlib)
    ys = list(dict.fromkeys(label for label, _ in cells))[::-1]  # the first run at the top
    xs = sorted({r for _, r in cells})
    med, frac = grok_matrix(cells, ys, xs)
    draw.grid_heatmap(xs, ys, med, frac, "train fraction r", "run", title, path)


def merge_boards(root: pathlib.Path) -> str | None:
    """One HPARAMS experiment over every run below ROOT, written into each run's TensorBoard
    files (monitor.tensorboard.merge_experiments), so that `tensorboard --logdir ROOT`
    compares them all; returns that command (None: no run has TensorBoard files)."""
    runs = []
    for entry in _entries(root):
        try:
            runs.append((entry["dir"], open_run(entry["dir"]).cfg))
        except GrokjaxError:  # not started, or its config.json is damaged: no board to merge
            continue
    try:
        if not tensorboard.merge_experiments(runs):
            return None
    except GrokjaxError as e:  # a run directory this user cannot write (the tables are written)
        print(f"grokjax: warning: the runs' HPARAMS experiments were not merged: {e}",
              file=sys.stderr)
        return None
    return tensorboard.command(root, max(tensorboard.images_per_tag(cfg) for _, cfg in runs))


def write(root: pathlib.Path, out: str | pathlib.Path | None = None, figure: bool = False
          ) -> tuple[str, list[pathlib.Path], str | None]:
    """Writes the tables (and with `figure` the heatmap), and merges the runs' HPARAMS
    experiments (merge_boards); returns the markdown table, the paths written and the
    command that opens TensorBoard over them all."""
    if not root.is_dir():
        raise GrokjaxError(f"{root} is not a directory; give a sweep's root, e.g. runs/arithmetic")
    table, per_seed = rows(root)
    out = pathlib.Path(out) if out else root
    out.mkdir(parents=True, exist_ok=True)
    files = {"results.csv": _csv(table, COLUMNS), "results.md": markdown(table),
             "seeds.csv": _csv(per_seed, SEED_COLUMNS)}
    written = []
    for name, text in files.items():
        (out / name).write_text(text)
        written.append(out / name)
    if figure and per_seed:
        written.append(out / "grok-steps.png")
        plot(per_seed, f"{root.name}: median grok step ({len(per_seed)} seeds)", written[-1])
    return files["results.md"], written, merge_boards(root)
