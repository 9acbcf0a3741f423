"""Arms against a baseline, paired over seeds: the statistics of `grokjax compare` and of the
report's speed-up claims (`claims.faster_than`).

Every arm runs on the same seeds and splits, so the comparison is paired: the bootstrap draws
seeds (with replacement, 10,000 times, a fixed numpy seed) and takes every arm's members of
those seeds together. A member that did not grok within the run is censored at the run's
length: its grok step is at least that. A median that a censored member decides is a bound
('>= 3000'), and so is a speed-up (baseline median / arm median) with a bound on either side.

Per arm: members and how many grokked, the median grok step with its 95% interval, the
speed-up against the baseline with its interval, and Prieto et al.'s stability measures at
the end of the run (the median over members of the train softmax-collapse and zero-loss
fractions, and of the cosine between the descent direction and the weights).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from grokjax.errors import GrokjaxError

N_BOOT, LEVEL, BOOT_SEED = 10_000, 0.95, 0


@dataclasses.dataclass(frozen=True)
class Arm:
    name: str
    seeds: list[int]
    steps: np.ndarray  # float [n]: each member's grok step, the run's length where censored
    censored: np.ndarray  # bool [n]
    final: dict  # stability measures at the end: median over members


def arms(summary: dict, history: dict | None = None) -> dict[str, Arm]:
    """The run's arms (in the order of grid.arms), from its summary (and history, for the
    stability measures)."""
    entries = summary["seeds"]
    if not entries or "arm" not in entries[0].get("hparams", {}):
        raise GrokjaxError("this run has no arms (grid.arms); `grokjax compare` compares the "
                           "arms of one program, e.g. a run of configs/comparison.py")
    budget = float(summary["steps"])
    out: dict[str, Arm] = {}
    for name in dict.fromkeys(e["hparams"]["arm"] for e in entries):
        index = [i for i, e in enumerate(entries) if e["hparams"]["arm"] == name]
        steps, censored = censored_steps([entries[i] for i in index], budget)
        final = {}
        if history is not None:
            for key in ("train/softmax_collapse", "train/zero_loss", "grad/descent_cos"):
                if key in history:
                    v = np.asarray(history[key])[index, -1]
                    final[key] = float(np.median(v.mean(-1) if v.ndim > 1 else v))
        out[name] = Arm(name=name, seeds=[entries[i]["seed"] for i in index],
                        steps=steps, censored=censored, final=final)
    return out


def censored_steps(entries: list[dict], budget: float) -> tuple[np.ndarray, np.ndarray]:
    """Each member's grok step, the run's length (`budget`) where it did not grok, as float;
    and which did not (censored)."""
    grok = np.asarray([e["grok_step"] for e in entries], float)
    return np.where(grok >= 0, grok, budget), grok < 0


def censored_median(steps: np.ndarray, censored: np.ndarray) -> tuple[float, bool]:
    """(median, whether it is only a lower bound): censored members sit at the budget, the
    largest value, so the median is a bound once they reach the middle."""
    order = np.argsort(steps, kind="stable")
    n = len(steps)
    mid = order[(n - 1) // 2: n // 2 + 1]  # the one or two middle members
    return float(np.median(steps)), bool(censored[mid].any())


def _paired(arm: Arm, base: Arm) -> tuple[np.ndarray, np.ndarray]:
    """Indices into each arm of their common seeds, in the same order."""
    common = [s for s in base.seeds if s in arm.seeds]
    return (np.asarray([arm.seeds.index(s) for s in common]),
            np.asarray([base.seeds.index(s) for s in common]))


def _interval(values: np.ndarray) -> tuple[float, float]:
    lo, hi = np.quantile(values, [(1 - LEVEL) / 2, (1 + LEVEL) / 2])
    return float(lo), float(hi)


def compare(arms_: dict[str, Arm], baseline: str) -> list[dict]:
    """One row per arm: grok steps and the speed-up against `baseline`, with intervals."""
    if baseline not in arms_:
        raise GrokjaxError(f"--baseline {baseline!r} is not an arm of this run "
                           f"({', '.join(arms_)})")
    base = arms_[baseline]
    rng = np.random.default_rng(BOOT_SEED)
    draws = rng.integers(0, len(base.seeds), size=(N_BOOT, len(base.seeds)))
    rows = []
    for arm in arms_.values():
        ia, ib = _paired(arm, base)
        med, bound = censored_median(arm.steps, arm.censored)
        base_med, base_bound = censored_median(base.steps[ib], base.censored[ib])
        boot = np.median(arm.steps[ia][draws % len(ia)], axis=1)
        boot_base = np.median(base.steps[ib][draws % len(ib)], axis=1)
        rows.append({
            "arm": arm.name, "n": len(arm.steps), "grokked": int((~arm.censored).sum()),
            "median": med, "median_is_bound": bound, "median_ci": _interval(boot),
            "speedup": base_med / med, "speedup_bound": ("lower" if base_bound and not bound
                                                         else "upper" if bound and not base_bound
                                                         else "none" if bound and base_bound
                                                         else ""),
            "speedup_ci": _interval(boot_base / boot), **arm.final})
    return rows


def _fmt_steps(value: float, bound: bool) -> str:
    return f"{'>= ' if bound else ''}{value:,.0f}"


def fmt_speedup(row: dict) -> str:
    """'2.31x [1.80, 3.05]', with '>= '/'<= ' where a censored median bounds it."""
    if row["speedup_bound"] == "none":
        return "- (neither grokked)"
    prefix = {"lower": ">= ", "upper": "<= ", "": ""}[row["speedup_bound"]]
    lo, hi = row["speedup_ci"]
    return f"{prefix}{row['speedup']:.2f}x [{lo:.2f}, {_fmt_inf(hi)}]"


def _fmt_inf(x: float) -> str:
    return "inf" if math.isinf(x) else f"{x:.2f}"


def table(rows: list[dict], baseline: str, budget: int) -> str:
    """The rows as a Markdown table."""
    lines = [f"| arm | grokked | median grok step [95% CI] | speed-up vs {baseline} [95% CI] "
             "| softmax collapse | zero loss | cos(-g, w) |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lo, hi = r["median_ci"]
        ci = f"[{lo:,.0f}, {'>= ' if hi >= budget else ''}{hi:,.0f}]"
        stab = [r.get(k) for k in ("train/softmax_collapse", "train/zero_loss",
                                   "grad/descent_cos")]
        lines.append(f"| {r['arm']} | {r['grokked']}/{r['n']} | "
                     f"{_fmt_steps(r['median'], r['median_is_bound'])} {ci} | "
                     f"{fmt_speedup(r)} | "
                     + " | ".join("-" if v is None else f"{v:.3f}" for v in stab) + " |")
    return "\n".join(lines)


