"""`grokjax collect SWEEP_DIR`: every run of a sweep in one table.

Reads each run's summary.json (and the sweep's manifest, ROOT/sweep.json, for the runs' names
and order and for runs that have not finished) and writes:

    ROOT/results.csv   one row per run (per grid cell for grid runs): task, p, r, the grid
                       values, seeds, memorised and grokked counts, the median and range of the
                       grok step, the median best test accuracy, steps, status
    ROOT/results.md    the same as a markdown table, the one to paste into a paper
    ROOT/seeds.csv     one row per seed: its memorisation and grok steps and accuracies
    ROOT/grok-steps.png   with --plot: the median grok step of the runs (rows, named without
                       their r part: 'x2_y2/r0.3' is row x2_y2) by r (columns), each cell
                       with the fraction of its seeds that grokked

A run cut into seed pieces (`--seeds-per-task`) is one row again. A run that has not finished
is listed with its status (running, partial at step N, not started), so nothing is missed.
"""

from __future__ import annotations

import csv
import io
import pathlib
import re

import numpy as np

from grokjax import rundir
from grokjax import sweep as sweep_lib
from grokjax.errors import GrokjaxError
from grokjax.summary import grok_stats

COLUMNS = ("run", "task", "p", "r", "setting", "seeds", "memorised", "grokked",
           "grok_step_median", "grok_step_min", "grok_step_max", "best_test_acc_median",
           "steps", "status")
SEED_COLUMNS = ("run", "task", "p", "r", "setting", "seed", "memorisation_step", "grok_step",
                "best_test_acc", "test_acc", "train_acc")


def _entries(root: pathlib.Path) -> list[dict]:
    """(group, directory) of every run: from the manifest, else every summary.json below."""
    manifest = rundir.read_json(root / sweep_lib.MANIFEST, None)
    if manifest is not None:
        return [{"group": r["group"], "dir": root / r["workdir"]} for r in manifest["runs"]]
    found = sorted(p.parent for p in root.rglob("summary.json"))
    return [{"group": str(d.relative_to(root)) if d != root else root.name, "dir": d}
            for d in found]


def _status(workdir: pathlib.Path) -> tuple[str, dict | None]:
    summary = rundir.read_json(workdir / "summary.json", None)
    if rundir.is_locked(workdir):
        return "running", summary
    if summary is not None:
        return "finished", summary
    ckpts = workdir / "checkpoints"
    steps = sorted(int(c.name) for c in ckpts.iterdir() if c.name.isdigit()) if ckpts.is_dir() else []
    return (f"partial (step {steps[-1]})" if steps else "not started"), None


def _setting(hparams: dict | None) -> tuple[float | None, str]:
    """A grid member's train fraction (None if not gridded) and its other values as text."""
    hparams = dict(hparams or {})
    r = hparams.pop("train_fraction", None)
    return r, ", ".join(f"{k}={v:g}" for k, v in hparams.items())


def rows(root: pathlib.Path) -> tuple[list[dict], list[dict]]:
    """(one row per run or grid cell, one row per seed), in the sweep's order."""
    entries = _entries(root)
    if not entries:
        raise GrokjaxError(f"{root} holds no finished run (no summary.json) and no sweep.json; "
                           "give a sweep's root directory, e.g. runs/arithmetic")
    groups: dict[str, list[dict]] = {}
    for e in entries:
        groups.setdefault(e["group"], []).append(e)
    out, per_seed = [], []
    for group, pieces in groups.items():
        statuses, cells, meta = [], {}, {}
        for piece in pieces:
            status, summary = _status(piece["dir"])
            statuses.append(status)
            if summary is None:
                continue
            meta = {"task": summary["task"], "p": summary["p"], "r": summary["train_fraction"],
                    "steps": max(meta.get("steps", 0), summary["steps"])}
            for s in summary["seeds"]:
                r, setting = _setting(s.get("hparams"))
                key = (meta["r"] if r is None else r, setting)
                cells.setdefault(key, []).append(s)
                per_seed.append({"run": group, "task": meta["task"], "p": meta["p"],
                                 "r": key[0], "setting": setting, "seed": s["seed"],
                                 "memorisation_step": s["memorisation_step"],
                                 "grok_step": s["grok_step"],
                                 "best_test_acc": round(s["best_test_acc"], 4),
                                 "test_acc": round(s["test_acc"], 4),
                                 "train_acc": round(s["train_acc"], 4)})
        finished = sum(s == "finished" for s in statuses)
        status = ("finished" if finished == len(statuses) else statuses[0] if len(statuses) == 1
                  else f"{finished}/{len(statuses)} pieces finished")
        if not cells:
            task = _configured_task(pieces[0]["dir"])
            out.append({"run": group, **task, "status": status})
            continue
        for (r, setting), seeds in cells.items():
            stats = grok_stats(seeds)
            done = [s["grok_step"] for s in seeds if s["grok_step"] >= 0]
            out.append({
                "run": group, "task": meta["task"], "p": meta["p"], "r": r, "setting": setting,
                "seeds": stats["seeds"],
                "memorised": sum(s["memorisation_step"] >= 0 for s in seeds),
                "grokked": stats["grokked"], "grok_step_median": stats["grok_step_median"],
                "grok_step_min": min(done) if done else None,
                "grok_step_max": max(done) if done else None,
                "best_test_acc_median": round(float(np.median(
                    [s["best_test_acc"] for s in seeds])), 4),
                "steps": meta["steps"], "status": status})
    return out, per_seed


def _configured_task(workdir: pathlib.Path) -> dict:
    cfg = rundir.read_json(workdir / "config.json", None)
    return ({"task": cfg["task"], "p": cfg["p"], "r": cfg["train_fraction"]} if cfg else {})


def markdown(table: list[dict]) -> str:
    """The table a user pastes into a paper."""
    grid = any(r.get("setting") for r in table)
    head = ["run", "task", "p", "r", *(["setting"] if grid else []), "grokked",
            "median grok step", "grok step range", "best test acc", "status"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in table:
        if "seeds" not in r:
            cells = [r["run"], r.get("task", "?"), r.get("p", ""), r.get("r", ""),
                     *([""] if grid else []), "-", "-", "-", "-", r["status"]]
        else:
            med = "-" if r["grok_step_median"] is None else f"{r['grok_step_median']:.0f}"
            rng = ("-" if r["grok_step_min"] is None
                   else f"{r['grok_step_min']}-{r['grok_step_max']}")
            cells = [r["run"], r["task"], r["p"], f"{r['r']:g}",
                     *([r["setting"]] if grid else []), f"{r['grokked']}/{r['seeds']}", med,
                     rng, f"{r['best_test_acc_median']:.3f}", r["status"]]
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
    """Runs (rows, named without their r part) by r (columns): the median grok step, and the
    fraction of seeds that grokked."""
    from grokjax import plots  # pylint: disable=import-outside-toplevel  (matplotlib)
    cells: dict[tuple[str, float], list[dict]] = {}
    for s in per_seed:
        cells.setdefault((_row_label(s["run"], s["setting"]), s["r"]), []).append(s)
    ys = list(dict.fromkeys(label for label, _ in cells))
    xs = sorted({r for _, r in cells})
    med = np.full((len(ys), len(xs)), np.nan)
    frac = np.full((len(ys), len(xs)), np.nan)
    for (label, r), seeds in cells.items():
        y, x = ys.index(label), xs.index(r)
        stats = grok_stats(seeds)
        frac[y, x] = stats["grokked"] / stats["seeds"]
        med[y, x] = stats["grok_step_median"] if stats["grokked"] else np.inf
    # the sweep's first run at the top
    plots.grid_heatmap(xs, ys[::-1], med[::-1], frac[::-1], "train fraction r", "run", title,
                       path)


def write(root: pathlib.Path, out: str | pathlib.Path | None = None, draw: bool = False
          ) -> list[pathlib.Path]:
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
    print(files["results.md"], end="")
    if draw and per_seed:
        written.append(out / "grok-steps.png")
        n = sum(r.get("seeds", 0) for r in table)
        plot(per_seed, f"{root.name}: median grok step ({n} seeds)", written[-1])
    return written
