"""Claims of the papers as data, and the predicates that decide whether a run agrees.

A `Claim` names its source (table, figure, section), the paper's value, where its results live
(a run directory under the results root, and which of its members: `{"task": "add"}`), and a
predicate. A predicate takes the selected members' summary entries, the run's summary and the
run's directory (for files such as probes/final-keys.json) and returns `(our value as text,
verdict)`, the verdict one of `AGREES`, `DISAGREES` or
`INCONCLUSIVE` with its reason. `evaluate` adds `NOT_RUN` for a claim whose run is missing, so
that no claim is ever dropped from the report. The claims themselves are experiments/claims.py.
"""

from __future__ import annotations

import dataclasses
import pathlib
from typing import Callable

import numpy as np

from grokjax.store import rundir
from grokjax.summary import grok_stats

AGREES, DISAGREES, INCONCLUSIVE, NOT_RUN = "agrees", "disagrees", "inconclusive", "not run"
Predicate = Callable[[list[dict], dict, pathlib.Path], tuple[str, str]]


@dataclasses.dataclass(frozen=True)
class Claim:
    id: str
    source: str  # e.g. 'Furuta Table A.5'
    statement: str
    paper: str  # the paper's value, as text
    run: str  # a run directory, relative to the results root
    predicate: Predicate
    members: dict = dataclasses.field(default_factory=dict)  # hparams the members must have
    paper_scale: str = ""  # e.g. 'p=97, r=0.3, 3 seeds, 3e5 steps'


def _steps(summary: dict) -> int:
    return int(summary["steps"])


def groks(min_fraction: float = 2 / 3) -> Predicate:
    """Agrees when at least `min_fraction` of the members grokked; a claim of grokking that no
    member met within the budget is inconclusive (the papers train far longer)."""
    def decide(entries, summary, run_dir):
        s = grok_stats(entries)
        value = f"{s['grokked']}/{s['seeds']} grokked" + (
            f", median step {s['grok_step_median']:.0f}" if s["grokked"] else
            f", best test acc {s['best_test_acc_median']:.3f}")
        if s["grokked"] / max(s["seeds"], 1) >= min_fraction:
            return value, AGREES
        if s["grokked"] == 0:
            return value, f"{INCONCLUSIVE}: no grokking within {_steps(summary)} steps"
        return value, DISAGREES
    return decide


def does_not_grok() -> Predicate:
    """Agrees when no member grokked (within our budget, which the verdict states)."""
    def decide(entries, summary, run_dir):
        s = grok_stats(entries)
        value = (f"{s['grokked']}/{s['seeds']} grokked, best test acc "
                 f"{s['best_test_acc_median']:.3f}")
        if s["grokked"]:
            return value, DISAGREES
        return value, f"{AGREES} (within {_steps(summary)} steps)"
    return decide


def probe_range(key: str, low: float, high: float, fmt: str = "{:.3g}") -> Predicate:
    """Agrees when the median over members of a final probe (`probes[key]`; for 'key_freqs'
    their number) lies in [low, high]."""
    def decide(entries, summary, run_dir):
        values = [len(e["probes"][key]) if key == "key_freqs" else e["probes"][key]
                  for e in entries]
        med = float(np.median(values))
        value = f"median {fmt.format(med)} (range {fmt.format(min(values))}-" \
                f"{fmt.format(max(values))})"
        return value, AGREES if low <= med <= high else DISAGREES
    return decide


def restricted_below_train(min_fraction: float = 0.5) -> Predicate:
    """Agrees when in at least `min_fraction` of the members the final restricted loss is
    below the final train loss (Nanda: the key frequencies alone fit better than the model)."""
    def decide(entries, summary, run_dir):
        below = [e["probes"]["restricted_loss"] < e["train_loss"] for e in entries]
        ratios = [e["probes"]["restricted_loss"] / e["train_loss"] for e in entries]
        value = (f"{sum(below)}/{len(below)} members below; restricted/train loss median "
                 f"{np.median(ratios):.3g}")
        return value, AGREES if sum(below) / len(below) >= min_fraction else DISAGREES
    return decide


def excluded_rises_before_grokking(factor: float = 10.0) -> Predicate:
    """Nanda's progress measures move before the test loss: with the final key frequencies
    (final-keys.json, `grokjax probe RUN --final-keys`), at the last checkpoint before a
    member's grok step its excluded loss is `factor` times its lowest value before then, and
    its restricted loss is below half its value at the first checkpoint after step 0. Agrees
    when that holds for 2/3 of the members."""
    def decide(entries, summary, run_dir):
        over = rundir.read_json(run_dir / "final-keys.json", default=None)
        if over is None:
            return "-", f"{INCONCLUSIVE}: no final-keys.json (grokjax probe RUN --final-keys)"
        steps = np.asarray(over["steps"])
        held, texts = 0, []
        for e in entries:
            i = summary["seeds"].index(e)
            before = np.flatnonzero((steps > 0) & (steps < e["grok_step"]))
            if e["grok_step"] < 0 or len(before) < 2:
                continue
            ex = np.asarray(over["excluded_loss"])[before, i]
            re = np.asarray(over["restricted_loss"])[before, i]
            rise, fall = ex[-1] / ex.min(), re[-1] / re[0]
            held += bool(rise >= factor and fall <= 0.5)
            texts.append(f"x{rise:.3g}/{fall:.2g}")
        value = (f"{held}/{len(entries)} members (excluded rise / restricted ratio by the "
                 f"checkpoint before grokking: {', '.join(texts)})")
        return value, AGREES if held / max(len(entries), 1) >= 2 / 3 else DISAGREES
    return decide


def _selected(summary: dict, members: dict) -> list[dict]:
    return [e for e in summary["seeds"]
            if all(e.get("hparams", {}).get(k) == v for k, v in members.items())]


def evaluate(claim: Claim, root: pathlib.Path) -> dict:
    """One row of the report: the claim with our value, our scale and the verdict."""
    row = {"id": claim.id, "source": claim.source, "statement": claim.statement,
           "paper": claim.paper, "paper_scale": claim.paper_scale}
    summary = rundir.read_json(root / claim.run / "summary.json", default=None)
    entries = _selected(summary, claim.members) if summary else []
    if not entries:
        return {**row, "ours": "-", "scale": "-", "verdict": NOT_RUN}
    cfg = rundir.read_json(root / claim.run / "config.json", default={})
    ours, verdict = claim.predicate(entries, summary, root / claim.run)
    scale = (f"p={summary['p']}, r={summary['train_fraction']}, {summary['steps']} steps, "
             f"{len(entries)} seed{'s' * (len(entries) != 1)}"
             + (f", {cfg['model']['variant']} model" if cfg.get("model", {}).get("variant")
                == "nanda" else ""))
    return {**row, "ours": ours, "scale": scale, "verdict": verdict}
