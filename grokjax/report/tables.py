"""What the report views derive from finished runs' summaries and histories: the per-seed
table (train's end, `grokjax inspect`), the grok-step matrix over a grid (`plot`, `collect`)
and the phases found from Nanda's progress measures (`report`).
"""

from __future__ import annotations

import numpy as np

from grokjax.grid import value_text
from grokjax.summary import grok_stats, phases


def seed_table(summary: dict) -> list[str]:
    """The per-seed table of a summary, as text lines (train's end, `grokjax inspect`)."""
    axes = list(summary.get("grid", {}).get("axes", {}))
    diverged = any(e.get("diverged_step", -1) >= 0 for e in summary["seeds"])
    lines = ["".join(f"{a:>15}" for a in axes) + f"{'seed':>6} {'train acc':>10} "
             f"{'test acc':>10} {'test loss':>11} {'memorised':>10} {'grokked':>8}"
             + (f" {'diverged':>9}" if diverged else "")]
    for e in summary["seeds"]:
        mem = e["memorisation_step"] if e["memorisation_step"] >= 0 else "-"
        grok = e["grok_step"] if e["grok_step"] >= 0 else "-"
        div = e.get("diverged_step", -1)
        lines.append("".join(f"{value_text(e['hparams'][a]):>15}" for a in axes)
                     + f"{e['seed']:>6} {final_text(e, 'train_acc', '.4f'):>10} "
                     f"{final_text(e, 'test_acc', '.4f'):>10} "
                     f"{final_text(e, 'test_loss', '.3e'):>11} {mem:>10} {grok:>8}"
                     + (f" {div if div >= 0 else '-':>9}" if diverged else ""))
    return lines


def final_text(entry: dict, key: str, fmt: str) -> str:
    """A member's final metric as a table cell. The final metrics are those of its last finite
    params (a diverged member keeps them: its non-finite steps are skipped); where even those
    give no finite value (weights grown so large that the logits overflow), the cell says
    'diverged' rather than nan."""
    value = entry.get(key)
    if value is None or not np.isfinite(value):
        return "diverged" if entry.get("diverged_step", -1) >= 0 else str(value)
    return format(value, fmt)


def grok_matrix(cells: dict[tuple, list[dict]], ys: list, xs: list
                ) -> tuple[np.ndarray, np.ndarray]:
    """Summary entries grouped by (y, x) as two [y, x] arrays: the median grok step (nan where
    no seed grokked) and the fraction of seeds that grokked (nan where there is no seed)."""
    med = np.full((len(ys), len(xs)), np.nan)
    frac = np.full((len(ys), len(xs)), np.nan)
    for (y, x), entries in cells.items():
        stats = grok_stats(entries)
        if stats["seeds"]:
            frac[ys.index(y), xs.index(x)] = stats["grokked"] / stats["seeds"]
        if stats["grok_step_median"] is not None:
            med[ys.index(y), xs.index(x)] = stats["grok_step_median"]
    return med, frac


CLEANUP_RATE, CLEANUP_WINDOW = 0.01, 1000  # cleanup ends: the norm falls < 1% per 1,000 steps


def phase_steps(history: dict, over: dict) -> dict:
    """The steps each end of `measure_phases` is read at: memorisation's on the checkpoints
    of final-keys.json, circuit formation's on the logged steps, cleanup's on the probe steps
    (an end seen at one of them lies between its neighbours)."""
    return {"memorisation_end": np.asarray(over["steps"]),
            "circuit_formation_end": np.asarray(history["step"]),
            "cleanup_end": np.asarray(history["probe/step"])}


def measure_phases(history: dict, over: dict, i: int) -> dict:
    """Member i's phases found from Nanda's progress measures (his section 5.2) rather than
    from the test loss alone. `over` holds the restricted and excluded loss with the final key
    frequencies at each checkpoint (report.probe.over_training, final-keys.json).

    - Memorisation ends where the excluded loss stops falling (its minimum over the
      checkpoints before the test loss drops): from there the key frequencies carry the fit.
    - Circuit formation ends where the test loss begins its sudden drop (10% of the way down
      in log, as `phases`), while the excluded loss is high.
    - Cleanup ends at the first probe step after circuit formation from which the sum of
      squared weights falls by less than CLEANUP_RATE (1%) over the next 1,000 steps: the
      memorising components have decayed away and the norm has settled. A local criterion, so
      the mark does not move with where the run stops (a fraction of the fall to the run's
      lowest value did); a run that stops before the norm settles has no cleanup end.
    None where a phase was not reached."""
    out = {"memorisation_end": None, "circuit_formation_end": None, "cleanup_end": None}
    formed = phases(history, i)["circuit_formation_end"]
    steps = np.asarray(over["steps"])
    excluded = np.asarray(over["excluded_loss"])[:, i]
    before = np.flatnonzero((steps > 0) & (steps < (formed if formed is not None else np.inf)))
    if not len(before):
        return out
    out["memorisation_end"] = int(steps[before[np.argmin(excluded[before])]])
    if formed is None or formed <= out["memorisation_end"]:
        return out
    out["circuit_formation_end"] = formed
    probe_steps, ssw = np.asarray(history["probe/step"]), history["probe/sum_sq_weights"][i]
    for j in np.flatnonzero(probe_steps >= formed):
        ahead = np.flatnonzero(probe_steps >= probe_steps[j] + CLEANUP_WINDOW)
        if not len(ahead):
            break  # the run stops before the next 1,000 steps can be read
        if ssw[j] - ssw[ahead[0]] < CLEANUP_RATE * ssw[j]:
            out["cleanup_end"] = int(probe_steps[j])
            break
    return out
