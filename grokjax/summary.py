"""What a run reports: summary.json, computed from its metric history alone.

The history's last log point is the final state, so a summary can be rebuilt from any final
checkpoint. Event steps come from the `mem_step` / `grok_step` records (per task, and for the
all tasks together as the last entry); -1 means never. Its `seeds` list has one entry per
member (a seed of a grid setting, with its `hparams`), counted by `n_members` (and, as files
written before members had a name hold it, by `n_seeds`: `n_members(summary)` reads either).
"""

from __future__ import annotations

import pathlib

import numpy as np

from grokjax.errors import GrokjaxError
from grokjax.store import rundir
from grokjax.store.files import RunFiles


SHARED_STEPS = ("step", "probe/step")  # the history's point axes, the same for every member


SUMMARY_KEYS = ("task", "p", "train_fraction", "steps", "grokked", "seeds")
ENTRY_KEYS = ("seed", "memorisation_step", "grok_step", "best_test_acc")


def damage(run_dir: pathlib.Path) -> tuple[dict | None, str | None]:
    """RUN/summary.json and why it cannot be used: (summary, None) if it can; (None, '') if
    there is none; (None, the reason) if it is not JSON or not a summary."""
    path = RunFiles(run_dir).summary
    if not path.exists():
        return None, ""
    try:
        summary = rundir.read_json_dict(path, SUMMARY_KEYS)
    except GrokjaxError as e:
        return None, str(e)
    if not isinstance(summary["seeds"], list) or not all(
            isinstance(e, dict) and all(k in e for k in ENTRY_KEYS) for e in summary["seeds"]):
        return None, f"{path} is damaged: its seeds are not summary entries"
    return summary, None


def n_members(summary: dict) -> int:
    """How many members (seeds, or grid settings x seeds) a summary covers."""
    return summary["n_members"] if "n_members" in summary else summary["n_seeds"]


def over_tasks(key: str, values: np.ndarray) -> np.ndarray:
    """A per-task metric [..., T] for all tasks together: losses summed (as the reference logs
    them), accuracies and probabilities averaged."""
    return values.sum(-1) if key.endswith("loss") else values.mean(-1)


def scalar_probes(history: dict) -> list[str]:
    """The probes with one value per seed and probe point ([S, P_probe]): FFD, FCR, Gini, the
    restricted and excluded loss, ... (not the spectra or key-frequency masks)."""
    return [k for k, v in history.items()
            if k.startswith("probe/") and k != "probe/step" and v.ndim == 2]


def grok_stats(entries: list[dict]) -> dict:
    """Over summary entries (seeds): how many, how many memorised and grokked, the median, min
    and max grok step of those that grokked (None if none), and the median best test
    accuracy (over the members whose accuracy is a number)."""
    done = [e["grok_step"] for e in entries if e["grok_step"] >= 0]
    return {"seeds": len(entries),
            "diverged": sum(e.get("diverged_step", -1) >= 0 for e in entries),
            "memorised": sum(e["memorisation_step"] >= 0 for e in entries),
            "grokked": len(done),
            "grok_step_median": float(np.median(done)) if done else None,
            "grok_step_min": min(done) if done else None,
            "grok_step_max": max(done) if done else None,
            "best_test_acc_median": finite_median([e["best_test_acc"] for e in entries])
            if entries else None}


def finite_median(values) -> float:
    """The median of the finite values (a diverged member's NaN left out); NaN, without
    numpy's 'All-NaN slice' warning, when there are none."""
    values = np.asarray(values, np.float64).ravel()
    finite = values[np.isfinite(values)]
    return float(np.median(finite)) if finite.size else float("nan")


def _final_probes(history: dict, final: dict, i: int) -> dict:
    out = {k[len("probe/"):]: float(final[k][i]) for k in scalar_probes(history)}
    if "probe/key_freqs" in final:
        out["key_freqs"] = [int(k) + 1 for k in np.flatnonzero(final["probe/key_freqs"][i])]
    return out


def phases(history: dict, i: int) -> dict:
    """Seed i's phases (Nanda's section 5.2), marked on its test loss:

    memorisation ends at the memorisation step; circuit formation then runs until the log test
    loss has fallen 10% of the way from its peak after memorisation to its final value, and
    cleanup until it has fallen 90% of the way. None where a phase was not reached (a seed that
    never memorised, or whose test loss never fell by a factor of 10)."""
    mem = int(history["mem_step"][i, -1, -1])
    out = {"memorisation_end": mem if mem >= 0 else None, "circuit_formation_end": None,
           "cleanup_end": None}
    if mem < 0:
        return out
    steps = history["step"]
    log_loss = np.log(np.maximum(history["test/loss"][i].sum(-1), 1e-30))
    after = steps >= mem
    peak_at = int(np.argmax(np.where(after, log_loss, -np.inf)))
    peak, end = log_loss[peak_at], log_loss[-1]
    if peak - end < np.log(10):
        return out
    for key, frac in (("circuit_formation_end", 0.1), ("cleanup_end", 0.9)):
        below = (np.arange(len(steps)) >= peak_at) & (log_loss <= peak - frac * (peak - end))
        out[key] = int(steps[np.argmax(below)])
    return out


def diverged_steps(history: dict) -> np.ndarray:
    """[M]: each member's first step skipped as non-finite (program.train_step), -1 if none;
    histories written before grokjax recorded it have none."""
    skips = history.get("skip_step")
    if skips is None:
        return np.full(history["mem_step"].shape[0], -1, np.int64)
    hit = skips >= 0
    return np.where(hit.any(1), skips[np.arange(len(skips)), hit.argmax(1)], -1)


def summarize(cfg, member_seeds: list[int], split_seeds: list[int], task_names, history: dict,
              members=None) -> dict:
    """Per member: the final metrics (per task for mixtures), memorisation and grok steps, and
    the best test accuracy (mean over tasks); plus counts over members and the grok-step range.
    For a grid (`members`, grokjax.grid.Members), each entry also has its `hparams`, and `grid`
    lists every setting with its seeds grokked and median grok step."""
    names = list(task_names)
    final = {k: v[:, -1] for k, v in history.items() if k not in SHARED_STEPS}
    mem, grok = final["mem_step"], final["grok_step"]  # [S, T+1]; the last entry: all tasks
    test_acc = history["test/acc"].mean(-1)  # [S, P]
    diverged = diverged_steps(history)
    per_seed = []
    for i, seed in enumerate(member_seeds):
        acc = np.where(np.isfinite(test_acc[i]), test_acc[i], -np.inf)  # a diverged member's NaN
        best = int(np.argmax(acc))
        entry = {"seed": seed, "split_seed": split_seeds[i],
                 "memorisation_step": int(mem[i, -1]), "grok_step": int(grok[i, -1]),
                 "best_test_acc": float(test_acc[i, best]),
                 "best_test_acc_step": int(history["step"][best]),
                 "diverged_step": int(diverged[i])}
        for split in ("train", "test"):
            for metric in ("loss", "acc", "prob"):
                key = f"{split}/{metric}"
                entry[f"{split}_{metric}"] = float(over_tasks(key, final[key][i]))
        entry["l2_norm"] = float(final["norm/total"][i])
        if members is not None and members.axes:
            entry["hparams"] = members.hparams(i)
        if "probe/ffd/W_E" in final:
            entry["probes"] = _final_probes(history, final, i)
        entry["phases"] = phases(history, i)
        if len(names) > 1:
            entry["tasks"] = {
                name: {"memorisation_step": int(mem[i, t]), "grok_step": int(grok[i, t]),
                       **{f"{s}_{m}": float(final[f"{s}/{m}"][i][t])
                          for s in ("train", "test") for m in ("loss", "acc", "prob")}}
                for t, name in enumerate(names)}
        per_seed.append(entry)
    stats = grok_stats(per_seed)
    return {
        "task": cfg.task, "p": cfg.p, "train_fraction": cfg.train_fraction,
        "steps": int(history["step"][-1]),
        "n_members": stats["seeds"],
        "n_seeds": stats.pop("seeds"),  # the same count, under the name older files have
        **stats,
        "seeds": per_seed,
        **({"grid": _grid_cells(per_seed, members)} if members is not None and members.axes
           else {}),
    }


def _grid_cells(per_seed: list[dict], members) -> dict:
    cells: dict[tuple, list[dict]] = {}
    for e in per_seed:
        cells.setdefault(tuple(e["hparams"].values()), []).append(e)
    rows = [{**dict(zip(members.axes, values)), **grok_stats(entries),
             "test_acc_median": finite_median([e["test_acc"] for e in entries])}
            for values, entries in cells.items()]
    return {"axes": {a: list(v) for a, v in members.axes.items()}, "cells": rows}
