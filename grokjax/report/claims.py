"""Claims of the papers as data, and the predicates that decide whether a run agrees.

A `Claim` names its source (table, figure, section), the paper's value, where its results live
(a run directory under the results root, and which of its members: `{"task": "add"}`), and a
predicate. A predicate takes the selected members' summary entries, the run's summary and the
run's directory (for files such as probes/final-keys.json) and returns `(our value as text,
verdict)`, the verdict one of `AGREES`, `DISAGREES`, `CONSISTENT` or `INCONCLUSIVE` with its
reason. `evaluate` adds `NOT_RUN` for a claim whose run is missing, so that no claim is ever
dropped from the report. The claims themselves are experiments/claims.py.

Every rule can come out either way (tests/test_verdicts.py feeds each one members that agree,
members that disagree and a run too short to say). A claim that something does not happen
(does not grok) agrees only where our run was as long as the paper's (`paper_steps`), or where
a task of comparable difficulty that the paper says groks (`control`, members of the same run)
grokked within the same budget; otherwise it is `CONSISTENT` ("consistent so far, N of M
steps"), counted apart, and a claim that names a control stays `CONSISTENT` at any length
while the control has not grokked. A claim that something does happen (groks) that too few
members met within the paper's budget disagrees; within a shorter one it is inconclusive, as
it is for a claim whose paper gives no budget (`paper_steps` None: such a claim can agree, never
disagree, and every claim of experiments/claims.py that needs one names it).
"""

from __future__ import annotations

import dataclasses
import pathlib
import sys
from typing import Callable

import numpy as np

from grokjax.config import base_config
from grokjax.errors import GrokjaxError
from grokjax.saved import open_run
from grokjax.store import rundir
from grokjax.store.files import RunFiles
from grokjax.report import runs, speedup
from grokjax.report.tables import measure_phases, phase_steps
from grokjax.summary import grok_stats

AGREES, DISAGREES, INCONCLUSIVE, NOT_RUN = "agrees", "disagrees", "inconclusive", "not run"
CONSISTENT = "consistent so far"
# said in a verdict that more seeds, not a longer run, would settle (`settle` reads it)
WITHIN_SPREAD = "within the spread over seeds"
_DEFAULT_THRESHOLD = base_config().train.acc_threshold  # a row names any other
_TINY = float(np.finfo(np.float64).tiny)  # a loss that is exactly 0 (float32) divides as this
NO_FINAL_KEYS = f"{INCONCLUSIVE}: no final-keys.json (grokjax probe RUN --final-keys)"
Predicate = Callable[[list[dict], dict, pathlib.Path], tuple[str, str]]


def _grokked(entries: list[dict]) -> list[dict]:
    """The members that grokked."""
    return [e for e in entries if e["grok_step"] >= 0]


def _grokked_and_memorised(entries: list[dict]) -> list[dict]:
    """The members that grokked and memorised (both marks found)."""
    return [e for e in _grokked(entries) if e["memorisation_step"] >= 0]


def judges(members: Callable[[list[dict]], list[dict]]):
    """Marks a rule that judges only some of a run's members (e.g. `_grokked`: a probe of the
    grokked algorithm): `evaluate` counts the seeds a verdict rests on from `members(entries)`,
    not from every member of the run."""
    def mark(decide: Predicate) -> Predicate:
        decide.judges = members
        return decide
    return mark


@dataclasses.dataclass(frozen=True)
class Claim:
    id: str
    source: str  # e.g. 'Furuta Table A.5'
    statement: str
    paper: str  # the paper's value, as text
    # a run directory relative to the results root, or several, the first that exists read
    # (e.g. the paper-scale run, then the reduced one)
    run: str | tuple[str, ...]
    predicate: Predicate
    members: dict = dataclasses.field(default_factory=dict)  # hparams the members must have
    paper_scale: str = ""  # e.g. 'p=97, r=0.3, 3 seeds, 3e5 steps'
    # the paper's budget and seeds as numbers (None: the paper does not say): a run at least
    # as long, with at least as many seeds, is at the paper's scale; the rules judge "does not
    # grok yet" against this budget (`evaluate` hands it to them)
    paper_steps: int | None = None
    paper_seeds: int | None = None
    not_run_why: str = ""  # why the claim has no run yet, said in its verdict
    # what would settle a verdict taken at another setting than the paper's (its task or
    # model, not only its budget): the command of the paper's setting and its cost
    settle_by: str = ""
    # where the report's matrix figures show the selected members: (figure, row, column); a
    # column with '{r}' splits the members by train fraction
    cells: tuple[tuple[str, str, str], ...] = ()
    # a control in another run (a from-scratch run for a transfer): (run or runs, as `run`;
    # members); the report hands its summary to the rule as summary['control']
    control: tuple | None = None
    # the id of the claim that this row tests at another scale (e.g. 'A.5 a+b' for its CPU
    # run): the report's headline counts a claim once, by its row at the largest scale run
    same_as: str = ""
    # False for a question that the paper does not test (a user's, a mechanism's implication):
    # reported, with its verdict, but not counted in the report's headline
    papers: bool = True


def _steps(summary: dict) -> int:
    return int(summary["steps"])


def groks(min_fraction: float = 2 / 3, near: int | None = None,
          factor: float = 2.0) -> Predicate:
    """Agrees when at least `min_fraction` of the members grokked (and, given the paper's grok
    step `near`, their median grok step is within `factor` of it: else disagrees). Fewer
    disagree where the run was as long as the paper's `paper_steps`; within a shorter budget
    (or where the paper gives none) the members that have not grokked yet may still, so it is
    inconclusive."""
    def decide(entries, summary, run_dir):
        budget = _budget(summary)
        s = grok_stats(entries)
        value = f"{s['grokked']}/{s['seeds']} grokked" + (
            f", median step {s['grok_step_median']:.0f}" if s["grokked"] else
            f", best test acc {s['best_test_acc_median']:.3f}")
        if s["grokked"] / max(s["seeds"], 1) >= min_fraction:
            if near is not None and not near / factor <= s["grok_step_median"] <= near * factor:
                return value + f" (the paper's ~{near}, x{factor:g} allowed)", DISAGREES
            return value, AGREES
        if not _at_budget(summary, budget):
            return value, _short_of_grokking(s["grokked"], summary, budget)
        return value, DISAGREES
    return decide


def _short_of_grokking(grokked: int, summary: dict, paper_steps: int | None) -> str:
    """The verdict of a claim of grokking that too few members met within a run shorter than
    the paper's."""
    return (f"{INCONCLUSIVE}: " + ("no grokking" if not grokked else "too few grokked")
            + f" within {_steps(summary)} steps"
            + (f" of the paper's {paper_steps}" if paper_steps else ""))


def _budget(summary: dict) -> int | None:
    """The paper's budget a rule judges by: its claim's `paper_steps`, which `evaluate` hands
    to the rule in the summary (None: the paper gives none), so that a claim states its budget
    once and no rule keeps one of its own."""
    return summary.get("paper_steps")


def _at_budget(summary: dict, paper_steps: int | None) -> bool:
    return paper_steps is not None and _steps(summary) >= paper_steps


def does_not_grok(control: dict | None = None, memorised: bool = False) -> Predicate:
    """Agrees when no member grokked and either the run was as long as the paper's
    `paper_steps` or the `control` members of the same run (a task of comparable difficulty
    that the paper says groks, e.g. {'task': 'add'}, or a method the paper says groks where
    this one does not) grokked in 2/3 of their seeds within it; otherwise, with no member
    grokked, consistent so far (with neither a budget nor a control: agrees at any length).
    A claim that names a control needs it: where the control did not grok either, the run
    does not tell the two apart, and the claim is consistent so far at any length, the
    paper's budget included.
    Any member that grokked disagrees. `memorised`: the claim is that the model stops at
    memorisation, so where fewer than 2/3 of the members end with their train set memorised
    (final train accuracy at the run's own threshold, train.acc_threshold, which `evaluate`
    hands to the rule in the summary) the run says nothing of it: inconclusive (training that
    loses its train set is neither)."""
    def decide(entries, summary, run_dir):
        budget = _budget(summary)
        s = grok_stats(entries)
        value = (f"{s['grokked']}/{s['seeds']} grokked, best test acc "
                 f"{s['best_test_acc_median']:.3f}")
        if s["grokked"]:
            return value, DISAGREES
        if memorised:
            final = [e.get("train_acc", np.nan) for e in entries]
            threshold = summary.get("acc_threshold")
            if threshold is None:
                return value, (f"{INCONCLUSIVE}: the run's config.json gives no "
                               "train.acc_threshold to say what a memorised train set is")
            held = sum(a >= threshold for a in final)
            value += f", final train acc median {np.nanmedian(final):.3f}"
            if not _share(held, len(entries)):
                return value, (f"{INCONCLUSIVE}: {held}/{len(entries)} members hold their train "
                               f"set at the end (train accuracy >= {threshold:g}): not stopped "
                               "at memorisation")
        controls = selected(summary, control) if control else []
        c = grok_stats(controls) if controls else None
        label = ", ".join(f"{k}={v}" for k, v in (control or {}).items())
        if c and _share(c["grokked"], c["seeds"]):
            return (value + f"; the control {label} grokked ({c['grokked']}/{c['seeds']}, "
                    f"median step {c['grok_step_median']:.0f})",
                    f"{AGREES} (within {_steps(summary)} steps, where the control grokked)")
        if c:
            value += f"; the control {label} grokked {c['grokked']}/{c['seeds']}"
        if budget is not None and not _at_budget(summary, budget):
            return value, f"{CONSISTENT} ({_steps(summary)} of {budget} steps)"
        if control is None:
            return value, f"{AGREES} (within {_steps(summary)} steps)"
        # a setting where the control does not grok either tells the two apart in nothing,
        # however long it ran
        return value, f"{CONSISTENT} ({_steps(summary)} steps; the control did not grok)"
    return decide


def probe_range(key: str, low: float, high: float, fmt: str = "{:.3g}",
                still: float = 0.02) -> Predicate:
    """Agrees when the median over the grokked members of a final probe (`probes[key]`; for
    'key_freqs' their number) lies in [low, high]; inconclusive when none grokked (a probe of
    the grokked algorithm says nothing of a model that has not found it) or a member's value
    is missing or not a number. A median outside the range disagrees, unless the run stopped
    before the paper measured (`paper_steps`) while the value was still moving toward the
    range fast enough to reach it there: each grokked member whose change over the last sixth
    of the run (the run's history, `probe/<key>`) exceeds `still` in that direction is
    continued in a straight line to the paper's step, the others held where they are; where
    the median of those projections reaches the range, the verdict is inconclusive. (Per
    member, not the median change: seeds that grokked early settle while late ones still
    climb, and the median of their changes says nothing of where the median value goes.) A
    value that has settled outside the range, moves too slowly to reach it, or was taken at
    the paper's step disagrees."""
    @judges(_grokked)
    def decide(entries, summary, run_dir):
        budget = _budget(summary)
        entries = _grokked(entries)
        if not entries:
            return "none grokked", f"{INCONCLUSIVE}: no grokking within {_steps(summary)} steps"
        values = [e.get("probes", {}).get(key) for e in entries]
        values = [len(v) if key == "key_freqs" and v is not None else v for v in values]
        if any(v is None or not np.isfinite(v) for v in values):
            return "-", f"{INCONCLUSIVE}: a grokked member has no {key} (or not a number)"
        med = float(np.median(values))
        value = f"median {fmt.format(med)} (range {fmt.format(min(values))}-" \
                f"{fmt.format(max(values))})"
        if low <= med <= high:
            return value, AGREES
        trend = (None if budget is None or _at_budget(summary, budget)
                 else _recent_change(entries, summary, run_dir, f"probe/{key}"))
        if trend is not None:
            window, changes = trend
            moving = [c if (c > still if med < low else c < -still) else 0.0 for c in changes]
            there = float(np.median([v + c * (budget - _steps(summary)) / window
                                     for v, c in zip(values, moving)]))
            value += (f"; median change {np.median(changes):+.3g} over its last {window} "
                      f"steps, {sum(c != 0 for c in moving)}/{len(changes)} members moving "
                      f"toward the range (median projected to step {budget}: "
                      f"{fmt.format(there)})")
            reaches = low <= there if med < low else there <= high
            if any(moving) and reaches:
                return value, (f"{INCONCLUSIVE}: still moving toward [{fmt.format(low)}, "
                               f"{fmt.format(high)}] at {_steps(summary)} of the paper's "
                               f"{budget} steps")
        return value, DISAGREES
    return decide


def _recent_change(entries: list[dict], summary: dict, run_dir: pathlib.Path | None,
                   key: str) -> tuple[int, list[float]] | None:
    """(window, each member's change of history[key] over the last sixth of the run's probe
    steps, at least one probe interval); None where the history lacks a scalar per probe step
    of it, or has fewer than two probe steps."""
    history = _history(run_dir) if run_dir is not None else None
    if (history is None or key not in history or "probe/step" not in history
            or history[key].ndim != 2 or len(history["probe/step"]) < 2):
        return None
    steps = history["probe/step"]
    last = len(steps) - 1
    start = min(int(np.searchsorted(steps, steps[last] - steps[last] / 6)), last - 1)
    values = history[key]
    return int(steps[last] - steps[start]), [
        float(values[_index(summary, e)][last] - values[_index(summary, e)][start])
        for e in entries]


def key_frequency_ablation(destroyed: float = 0.1, kept: float = 0.95) -> Predicate:
    """Nanda §4 (ablations in Fourier space), from the run's `grokjax probe` report: removing
    a grokked member's key frequencies from W_E leaves at most `destroyed` accuracy on all p^2
    inputs, and keeping only them (every other frequency removed) at least `kept`. Agrees when
    2/3 of the grokked members hold both; inconclusive when none grokked or the run has no
    probe report."""
    @judges(_grokked)
    def decide(entries, summary, run_dir):
        grokked = {e["seed"] for e in _grokked(entries)}
        if not grokked:
            return "none grokked", f"{INCONCLUSIVE}: no grokking within {_steps(summary)} steps"
        found = runs.latest_probe_report(RunFiles(run_dir).probes)
        report = rundir.read_json(found[1]) if found else None
        if report is None:
            return "-", f"{INCONCLUSIVE}: no probe report (grokjax probe {run_dir})"
        rows = [e["ablation"] for e in report["seeds"]
                if e["seed"] in grokked and "without_all_other_freqs_acc" in e.get("ablation", {})]
        if not rows:
            return "-", (f"{INCONCLUSIVE}: the probe report has no keys-only ablation "
                         f"(grokjax probe {run_dir} again)")
        held = sum(a["without_all_key_freqs_acc"] <= destroyed
                   and a["without_all_other_freqs_acc"] >= kept for a in rows)
        value = (f"acc {_span([a['intact_acc'] for a in rows])}; without the key frequencies "
                 f"{_span([a['without_all_key_freqs_acc'] for a in rows])}; with only them "
                 f"{_span([a['without_all_other_freqs_acc'] for a in rows])} "
                 f"(step {report['step']}, {held}/{len(rows)} hold)")
        return value, AGREES if _share(held, len(rows)) else DISAGREES
    return decide


def _span(values: list[float], fmt: str = "{:.3f}") -> str:
    return (f"{fmt.format(min(values))}-{fmt.format(max(values))}" if len(values) > 1
            else fmt.format(values[0]))


def _seeds(entries: list[dict]) -> str:
    return runs.seeds_text(len({e["seed"] for e in entries}))


def transfer_effect(expect: str) -> Predicate:
    """A transfer against its from-scratch control (the claim's `control`, another run, whose
    seeds may be others than the transfer's): the median grok steps, censored at each run's
    length (grokjax.report.speedup: a median that a member that did not grok decides is a lower
    bound). 'helps': agrees when the transfer's median is below the control's; disagrees when
    above or equal. 'hurts': the converse.
    Inconclusive where both medians are bounds, or where a bound lies at or below the other's
    grok step (the run that did not grok stopped before it)."""
    assert expect in ("helps", "hurts"), expect

    def decide(entries, summary, run_dir):
        control = summary.get("control")
        if not control or not control["entries"]:
            return "-", f"{INCONCLUSIVE}: the from-scratch control has not been run"
        ours, ours_bound = speedup.censored_median(
            *speedup.censored_steps(entries, _steps(summary)))
        theirs, theirs_bound = speedup.censored_median(
            *speedup.censored_steps(control["entries"], control["steps"]))

        def text(m, bound):
            return f">= {m:.0f} (not grokked)" if bound else f"{m:.0f}"
        value = (f"transfer {text(ours, ours_bound)} ({_seeds(entries)}), from scratch "
                 f"{text(theirs, theirs_bound)} ({control['run']}, "
                 f"{_seeds(control['entries'])})")
        if ours_bound and theirs_bound:
            return value, f"{INCONCLUSIVE}: neither grokked"
        if ours_bound and theirs >= ours or theirs_bound and ours >= theirs:
            return value, (f"{INCONCLUSIVE}: the run that did not grok stopped before the "
                           f"other's grok step (or at it)")
        if ours == theirs:  # neither helps nor hurts
            return value, DISAGREES
        faster = ours < theirs
        return value, AGREES if faster == (expect == "helps") else DISAGREES
    return decide


def _restricted(entries: list[dict], summary: dict, run_dir: pathlib.Path, keys_only: bool
                ) -> tuple[list[float] | None, str]:
    """The members' final restricted loss: Nanda's, with the per-class constant, from the
    summary's probes; or (`keys_only`) Furuta's, only the key frequencies' components (App. E),
    from the run's `grokjax probe` report of its final step (members in the summary's order),
    with Nanda's beside it in the text. None, with the reason, where it is not there."""
    nanda = [e.get("probes", {}).get("restricted_loss") for e in entries]
    if not keys_only:
        if None in nanda:
            return None, f"{INCONCLUSIVE}: the run's probes have no restricted loss"
        return nanda, ""
    found = runs.latest_probe_report(RunFiles(run_dir).probes) if run_dir else None
    report = rundir.read_json(found[1]) if found else None
    rows = (report or {}).get("seeds", [])
    at = [_index(summary, e) for e in entries]
    if (not found or found[0] != _steps(summary) or len(rows) != len(summary["seeds"])
            or any(rows[i].get("restricted_loss_keys_only") is None for i in at)):
        return None, (f"{INCONCLUSIVE}: no probe report of the final step with Furuta's "
                      f"restricted loss (grokjax probe {run_dir})")
    losses = [rows[i]["restricted_loss_keys_only"] for i in at]
    with_constant = ("" if None in nanda else
                     f"; with the per-class constant (Nanda's) {_span(nanda, '{:.3g}')}")
    return losses, with_constant


def _restricted_rule(judge: Callable[[list[dict], list[float], list[float], str],
                                      tuple[str, str]], keys_only: bool) -> Predicate:
    """A rule on the grokked members' final restricted loss (`_restricted`) and its ratio to
    their final train loss: `judge(grokked, losses, ratios, note)` gives the value and verdict
    (each rule's own `decide`); inconclusive when none grokked or the losses are not there."""
    @judges(_grokked)
    def rule(entries, summary, run_dir):
        grokked = _grokked(entries)
        if not grokked:
            return "none grokked", f"{INCONCLUSIVE}: no grokking within {_steps(summary)} steps"
        losses, note = _restricted(grokked, summary, run_dir, keys_only)
        if losses is None:
            return "-", note
        return judge(grokked, losses,
                     [r / max(e["train_loss"], _TINY) for r, e in zip(losses, grokked)], note)
    return rule


def restricted_below_train(min_fraction: float = 0.5, keys_only: bool = False) -> Predicate:
    """Agrees when in at least `min_fraction` of the grokked members the final restricted loss
    is below the final train loss (Nanda: the key frequencies alone fit better than the model);
    inconclusive when none grokked. `keys_only`: Furuta's restricted loss (`_restricted`)."""
    def decide(grokked, losses, ratios, note):
        below = sum(r < e["train_loss"] for r, e in zip(losses, grokked))
        value = (f"{below}/{len(grokked)} members below; restricted/train loss median "
                 f"{np.median(ratios):.3g}" + (f" (restricted {_span(losses, '{:.3g}')}{note})"
                                                if keys_only else ""))
        return value, AGREES if below / len(grokked) >= min_fraction else DISAGREES
    return _restricted_rule(decide, keys_only)


def excluded_rises_before_grokking(factor: float = 10.0, high_test_loss: float = 1.0
                                   ) -> Predicate:
    """Nanda's progress measures move before the test loss: with the final key frequencies
    (final-keys.json, `grokjax probe RUN --final-keys`), at the last checkpoint by the end of
    circuit formation (tables.measure_phases) the excluded loss is `factor` times its lowest
    value before then and the restricted loss below half its value at the first checkpoint
    after step 0, while the test loss there is still at least `high_test_loss` (nats; chance
    is ln p). Agrees when that holds for 2/3 of the members; inconclusive where circuit
    formation was not found (the run did not grok)."""
    def decide(entries, summary, run_dir):
        over = rundir.read_json(RunFiles(run_dir).final_keys, default=None)
        history = _history(run_dir)
        if over is None or history is None:
            return "-", NO_FINAL_KEYS
        steps = np.asarray(over["steps"])
        held, texts, found = 0, [], 0
        for e in entries:
            i = _index(summary, e)
            formed = measure_phases(history, over, i)["circuit_formation_end"]
            before = np.flatnonzero((steps > 0) & (steps <= (formed or -1)))
            if formed is None or len(before) < 2:
                texts.append("circuit formation not found")
                continue
            found += 1
            ex = np.asarray(over["excluded_loss"])[before, i]
            re = np.asarray(over["restricted_loss"])[before, i]
            at = int(np.searchsorted(history["step"], steps[before[-1]]))
            test = float(np.asarray(history["test/loss"])[i].reshape(-1)[
                min(at, len(history["step"]) - 1)])
            rise, fall = ex[-1] / ex.min(), re[-1] / re[0]
            held += bool(rise >= factor and fall <= 0.5 and test >= high_test_loss)
            texts.append(f"x{rise:.3g}/{fall:.2g}/test {test:.2g}")
        value = (f"{held}/{len(entries)} members (at the end of circuit formation: excluded "
                 f"rise / restricted ratio / test loss: {', '.join(texts)})")
        if not found:
            return value, f"{INCONCLUSIVE}: circuit formation not found in {_steps(summary)} steps"
        return value, AGREES if held / max(len(entries), 1) >= 2 / 3 else DISAGREES
    return decide


def _history(run_dir: pathlib.Path) -> dict | None:
    path = RunFiles(run_dir).history
    return rundir.read_npz(path) if path.exists() else None


def _index(summary: dict, entry: dict) -> int:
    return next(i for i, e in enumerate(summary["seeds"]) if e is entry)


def _share(held: int, n: int, fraction: float = 2 / 3) -> bool:
    return n > 0 and held / n >= fraction


def restricted_above_train(factor: float = 100.0, keys_only: bool = False) -> Predicate:
    """Agrees when in 2/3 of the grokked members the final restricted loss is at least
    `factor` times the final train loss (Furuta's subtraction: its key frequencies alone do
    not fit); inconclusive when none grokked. `keys_only`: Furuta's restricted loss
    (`_restricted`)."""
    def decide(grokked, losses, ratios, note):
        train = np.median([e["train_loss"] for e in grokked])
        value = (f"restricted loss median {np.median(losses):.3g} (train loss {train:.3g}), "
                 f"ratio {np.median(ratios):.3g}{note}")
        return value, (AGREES if _share(sum(r >= factor for r in ratios), len(ratios))
                       else DISAGREES)
    return _restricted_rule(decide, keys_only)


SPARSE, ALL = 0.25, 0.75  # FFD at most / at least: a few key frequencies / (nearly) all
BIASED = 2 / 3  # the larger of the cos and sin shares of the key components, at least


def key_bias(mu: np.ndarray, nu: np.ndarray, eta: float = 0.5) -> float:
    """The cos share of a spectrum's key components: sum ||mu_k|| / sum (||mu_k|| + ||nu_k||)
    over the frequencies whose larger component exceeds `eta` times the largest (FFD's
    threshold). 0.5 is unbiased; FCR, which averages every frequency, is dominated by the
    noise of the non-key ones in a sparse spectrum."""
    big = np.maximum(mu, nu) > eta * max(mu.max(), nu.max())
    return float(mu[big].sum() / (mu[big].sum() + nu[big].sum()))


def spectra_shape(frequencies: dict[str, str] | None = None,
                  biased: tuple[str, ...] = (), band: float = 0.02) -> Predicate:
    """Furuta's spectra (Figs. 3, 5, 7) at each grokked member's final probe: `frequencies`
    maps a weight ('W_E', 'W_L') to 'sparse' (FFD <= SPARSE) or 'all' (FFD >= ALL); each
    weight of `biased` has its key components biased to cos or to sin (`key_bias` at least
    BIASED either way: the paper says cos, and its App. B code may swap the labels, so the
    direction is reported, not judged). A member's margin is how far its closest condition
    clears its threshold (negative: it misses). Agrees when 2/3 of the grokked members meet
    every condition by at least `band`, disagrees when 2/3 miss one by at least `band`, and is
    inconclusive where the members within `band` of a threshold decide it (as
    `spectrum_pattern`: seeds of one task differ by more, e.g. subtraction's W_L cos shares
    0.55-0.72) and when none grokked."""
    frequencies = frequencies or {}

    @judges(_grokked)
    def decide(entries, summary, run_dir):
        grokked = _grokked(entries)
        history = _history(run_dir)
        if not grokked:
            return "none grokked", f"{INCONCLUSIVE}: no grokking within {_steps(summary)} steps"
        weights = sorted(set(frequencies) | set(biased))
        if history is None or any(f"probe/{w}/{k}" not in history
                                  for w in weights for k in ("mu", "nu")):
            return "-", f"{INCONCLUSIVE}: the run's history has no spectra"
        margins, texts = [], []
        for e in grokked:
            i, edge, parts = _index(summary, e), float("inf"), []
            for w in weights:
                ffd = float(history[f"probe/ffd/{w}"][i][-1])
                cos = key_bias(history[f"probe/{w}/mu"][i][-1], history[f"probe/{w}/nu"][i][-1])
                if w in frequencies:
                    edge = min(edge, SPARSE - ffd if frequencies[w] == "sparse" else ffd - ALL)
                if w in biased:
                    edge = min(edge, max(cos, 1 - cos) - BIASED)
                parts.append(f"{w} FFD {ffd:.2f}, cos share {cos:.2f}")
            margins.append(edge)
            texts.append("; ".join(parts) + (f" (margin {edge:+.3f})" if np.isfinite(edge)
                                             else ""))
        holds, misses, undecided = _by_band(margins, band, "the shape", "grokked members")
        return " | ".join(texts), AGREES if holds else DISAGREES if misses else undecided
    return decide


def _by_band(margins: list[float], band: float, what: str, members: str
             ) -> tuple[bool, bool, str]:
    """Members' margins against a threshold (negative: it misses): whether 2/3 clear it by at
    least `band`, whether 2/3 miss it by as much, and the inconclusive verdict for neither (the
    members within `band` decide it, `WITHIN_SPREAD`)."""
    n = len(margins)
    holds, misses = sum(m >= band for m in margins), sum(m <= -band for m in margins)
    return _share(holds, n), _share(misses, n), (
        f"{INCONCLUSIVE}: {what} holds by {band:g} or more in {holds}, misses by as much in "
        f"{misses} and is closer in {n - holds - misses} of {n} {members}, {WITHIN_SPREAD}")


def spectrum_pattern(ffd: str, fcr: str, weight: str = "W_E", by: float = 0.1,
                     needs_grokking: bool = True, band: float = 0.02) -> Predicate:
    """Furuta's Fig. 8: how FFD and FCR of `weight` move from initialisation to the grok step
    (the first probe at or after it: the paper's inflection points line up with test-accuracy
    saturation, so where the run stops after grokking does not move the verdict; a member that
    did not grok is read at the end of its run), each 'falls' (by at least `by`), 'flat'
    (changes by less) or 'any' (the paper says nothing of it). Each member's margin is how far
    its change clears `by` (negative: the pattern misses). Agrees when the pattern holds by a
    margin of at least `band` in 2/3 of the members, disagrees when it misses by at least
    `band` in 2/3 of them; where the members within `band` decide it, inconclusive until more
    seeds say (`band` 0.02, a fifth of `by`: finer than the seeds of one task agree, e.g. the
    FCR(W_E) changes of add's three seeds at their grok steps, -0.09, -0.09 and -0.05 in
    table_a5-cpu3). Inconclusive too, whatever the pattern, where no member grokked although
    the paper's curves run through grokking (`needs_grokking`), and where the pattern does
    not clearly hold with fewer than 2/3 grokked in a run shorter than the paper's
    `paper_steps` (the others, read at the end, may still move). A pattern of a task that
    does not grok (not `needs_grokking`) that holds within a shorter run is consistent so
    far: it may yet move."""
    def margin(want, change):
        return {"falls": -change - by, "flat": by - abs(change)}.get(want, float("inf"))

    def decide(entries, summary, run_dir):
        budget = _budget(summary)
        history = _history(run_dir)
        if history is None or f"probe/ffd/{weight}" not in history:
            return "-", f"{INCONCLUSIVE}: the run's history has no FFD/FCR of {weight}"
        steps = history.get("probe/step")
        margins, texts = [], []
        for e in entries:
            i = _index(summary, e)
            d, r = history[f"probe/ffd/{weight}"][i], history[f"probe/fcr/{weight}"][i]
            at = len(d) - 1
            if e["grok_step"] >= 0 and steps is not None:
                at = min(int(np.searchsorted(steps, e["grok_step"])), len(d) - 1)
            dd, dr = d[at] - d[0], r[at] - r[0]
            edge = min(margin(ffd, dd), margin(fcr, dr))
            margins.append(edge)
            where = f"at step {int(steps[at])}" if steps is not None else "at the end"
            texts.append(f"FFD {d[0]:.2f}->{d[at]:.2f}, FCR {r[0]:.2f}->{r[at]:.2f} {where}"
                         + (f" (margin {edge:+.3f})" if np.isfinite(edge) else ""))
        value = "; ".join(texts)
        grokked = len(_grokked(entries))
        if needs_grokking and not grokked:
            return value, f"{INCONCLUSIVE}: no grokking within {_steps(summary)} steps"
        n = len(entries)
        holds, misses, undecided = _by_band(margins, band, "the pattern", "members")
        if holds:
            if not needs_grokking and budget is not None and not _at_budget(summary, budget):
                return value, f"{CONSISTENT} ({_steps(summary)} of {budget} steps)"
            return value, AGREES
        if needs_grokking and not _share(grokked, n) and not _at_budget(summary, budget):
            return value, (f"{INCONCLUSIVE}: {grokked}/{n} grokked within {_steps(summary)} "
                           "steps; the rest may still move")
        return value, DISAGREES if misses else undecided
    return decide


def task_groks(task: str, expected: bool = True) -> Predicate:
    """For a mixture: whether `task` groks inside it (its own grok step, summary 'tasks'). As
    `groks` (`expected`): too few grokking within the paper's `paper_steps` disagrees, within
    fewer steps is inconclusive. As `does_not_grok` (not `expected`): any grokking disagrees,
    none agrees at the paper's budget and is consistent so far below it."""
    def decide(entries, summary, run_dir):
        budget = _budget(summary)
        per = [e.get("tasks", {}).get(task) for e in entries]
        if None in per:
            return "-", f"{INCONCLUSIVE}: the run has no task {task!r}"
        steps = [t["grok_step"] for t in per if t["grok_step"] >= 0]
        value = (f"{len(steps)}/{len(per)} grokked {task}"
                 + (f", median step {np.median(steps):.0f}" if steps else "")
                 + f", test acc median {np.median([t['test_acc'] for t in per]):.3f}")
        at_budget = budget is None or _at_budget(summary, budget)
        if expected:
            return value, AGREES if _share(len(steps), len(per)) else (
                DISAGREES if _at_budget(summary, budget)
                else _short_of_grokking(len(steps), summary, budget))
        if steps:
            return value, DISAGREES
        return value, (f"{AGREES} (within {_steps(summary)} steps)" if at_budget
                       else f"{CONSISTENT} ({_steps(summary)} of {budget} steps)")
    return decide


def groks_last(task: str) -> Predicate:
    """For a mixture: `task` is the last of its tasks to grok, in 2/3 of the members."""
    def decide(entries, summary, run_dir):
        held, texts = 0, []
        for e in entries:
            steps = {t: v["grok_step"] for t, v in e.get("tasks", {}).items()}
            if task not in steps or min(steps.values()) < 0:
                texts.append("not every task grokked")
                continue
            held += steps[task] == max(steps.values())
            texts.append(", ".join(f"{t} {s}" for t, s in steps.items()))
        value = "grok steps: " + "; ".join(texts)
        if not any(t != "not every task grokked" for t in texts):
            return value, f"{INCONCLUSIVE}: the mixture did not grok within {_steps(summary)} steps"
        return value, AGREES if _share(held, len(entries)) else DISAGREES
    return decide


def no_grokking_delay(max_ratio: float = 2.0, max_share: float = 0.1) -> Predicate:
    """Train and test accuracy rise together, in 2/3 of the members. With the claim's
    `control` (a run of the same model where it groks, e.g. at a smaller train fraction): each
    member's delay from memorisation to grokking is at most `max_share` of the control's
    median delay, grokking's own delay being the yardstick (a delay of 200 steps is "almost at
    once" beside one of 7,000; beside the memorisation step, itself a few hundred steps at a
    large fraction, it is not). Without a control: the grok step is at most `max_ratio` times
    the memorisation step. A member that fits and never generalises within the run
    disagrees; a control with no member that memorised and grokked is inconclusive."""
    def decide(entries, summary, run_dir):
        control = summary.get("control")
        yardstick = None
        if control is not None:
            delays = [e["grok_step"] - e["memorisation_step"]
                      for e in _grokked_and_memorised(control["entries"])]
            if not delays:
                return "-", (f"{INCONCLUSIVE}: the control ({control['run']}) has no member "
                             "that memorised and grokked")
            yardstick = float(np.median(delays))
        held, texts = 0, []
        for e in entries:
            mem, grok = e["memorisation_step"], e["grok_step"]
            if yardstick is None:
                held += mem >= 0 and 0 <= grok <= max_ratio * max(mem, 1)
            else:
                held += mem >= 0 and 0 <= grok and grok - mem <= max_share * yardstick
            texts.append(f"memorised {mem if mem >= 0 else '-'}, grokked "
                         f"{grok if grok >= 0 else '-'}")
        value = "; ".join(texts)
        if yardstick is not None:
            value += (f"; the delay against {yardstick:,.0f} steps, the median of "
                      f"{control['run']} ({_seeds(control['entries'])})")
        if not any(e["memorisation_step"] >= 0 for e in entries):
            return value, (f"{INCONCLUSIVE}: the train set was not fitted within "
                           f"{_steps(summary)} steps")
        return value, AGREES if _share(held, len(entries)) else DISAGREES
    return decide


def steps_per_percent(r_low: float, r_high: float, low: float, high: float) -> Predicate:
    """Power: the median grok step at train fraction `r_low` over that at `r_high`, as the
    extra steps per percentage point of data ((ratio)^(1/points) - 1); agrees when it lies in
    [low, high]. The medians count a member that did not grok at the run's length
    (speedup.censored_median); inconclusive where either median is only such a bound."""
    def decide(entries, summary, run_dir):
        def median_at(r):  # (median, only a bound): a fraction with no members is a bound
            es = [e for e in entries if abs(setting(e, summary, "train_fraction") - r) < 1e-9]
            return (speedup.censored_median(*speedup.censored_steps(es, _steps(summary)))
                    if es else (None, True))
        at = {r: median_at(r) for r in (r_low, r_high)}
        if any(bound for _, bound in at.values()):
            return "-", (f"{INCONCLUSIVE}: the median grok step at r = {r_low} or r = {r_high} "
                         f"is only a lower bound (too few grokked within {_steps(summary)} "
                         f"steps)")
        (m_low, _), (m_high, _) = at[r_low], at[r_high]
        per = (m_low / m_high) ** (1 / round(100 * (r_high - r_low))) - 1
        value = (f"median grok step {m_low:.0f} at r = {r_low}, "
                 f"{m_high:.0f} at r = {r_high}: {per:+.0%} per point")
        return value, AGREES if low <= per <= high else DISAGREES
    return decide


def _smallest_r(entries: list[dict], summary: dict) -> tuple[str, float | None]:
    """Over a train-fraction grid: each r's grokked members as text, and the smallest r at
    which 2/3 of the members grokked (None where none did)."""
    by_r: dict[float, list[dict]] = {}
    for e in entries:
        by_r.setdefault(setting(e, summary, "train_fraction"), []).append(e)
    ok = [r for r, es in sorted(by_r.items())
          if _share(len(_grokked(es)), len(es))]
    value = ", ".join(f"r={r:g}: {grok_stats(es)['grokked']}/{len(es)}"
                      for r, es in sorted(by_r.items()))
    return value, (ok[0] if ok else None)


def smallest_grokking_r(expected: float) -> Predicate:
    """Over a train-fraction grid: the smallest r at which 2/3 of the members grokked. Agrees
    when it is `expected` and the run was as long as the paper's `paper_steps` (within a
    shorter one a smaller r may still grok: consistent so far); a smaller r disagrees (the
    paper trained longer and saw none); a larger one, or none, disagrees at the paper's budget
    and is inconclusive below it."""
    def decide(entries, summary, run_dir):
        budget = _budget(summary)
        value, smallest = _smallest_r(entries, summary)
        rs = sorted({setting(e, summary, "train_fraction") for e in entries})
        at_budget = _at_budget(summary, budget)
        if smallest is None:
            return value + "; none grokked", (DISAGREES if at_budget else
                                              f"{INCONCLUSIVE}: no r of {rs} grokked "
                                              f"within {_steps(summary)} steps")
        value += f"; smallest r that groks {smallest:g}"
        if abs(smallest - expected) < 1e-9:
            return value, (AGREES if budget is None or at_budget
                           else f"{CONSISTENT} ({_steps(summary)} of {budget} steps)")
        if smallest < expected or at_budget:
            return value, DISAGREES
        return value, (f"{INCONCLUSIVE}: r = {expected:g} did not grok within "
                       f"{_steps(summary)} steps")
    return decide


def less_data_with(axis: str, off: float = 0.0, factor: float = 0.5) -> Predicate:
    """Over a grid of train fraction x `axis` (Power: weight decay): the smallest r that groks
    with the intervention (`axis` != `off`) is at most `factor` times the smallest r that groks
    without it. Where nothing groks without it, agrees when even the grid's largest r is at
    least 1/factor times the smallest with it. Within a run shorter than the paper's
    `paper_steps` either smallest r may still fall: an agreement is consistent so far and a
    disagreement inconclusive; nothing grokking with the intervention disagrees at the
    budget and is inconclusive below it (or where the paper gives none)."""
    def decide(entries, summary, run_dir):
        budget = _budget(summary)
        on = [e for e in entries if setting(e, summary, axis) != off]
        without = [e for e in entries if setting(e, summary, axis) == off]
        if not on or not without:
            return "-", f"{INCONCLUSIVE}: the grid needs members with and without {axis}"
        (text_on, r_on), (text_off, r_off) = _smallest_r(on, summary), _smallest_r(without,
                                                                                   summary)
        value = (f"{axis} on: {text_on}; off: {text_off}; smallest r that groks "
                 f"{r_on if r_on is not None else '-'} against "
                 f"{r_off if r_off is not None else '-'}")
        short = budget is not None and not _at_budget(summary, budget)
        if r_on is None:
            return value, (DISAGREES if _at_budget(summary, budget) else
                           f"{INCONCLUSIVE}: no r grokked with {axis} within "
                           f"{_steps(summary)} steps")
        if r_off is None:
            largest = max(setting(e, summary, "train_fraction") for e in without)
            if largest * factor >= r_on - 1e-9:
                return value, (f"{CONSISTENT} ({_steps(summary)} of {budget} steps)"
                               if short else AGREES)
            return value, (f"{INCONCLUSIVE}: no r grokked without {axis} within "
                           f"{_steps(summary)} steps, and the grid's largest is under "
                           f"{1 / factor:g}x {r_on:g}")
        if r_on <= factor * r_off + 1e-9:
            return value, (f"{CONSISTENT} ({_steps(summary)} of {budget} steps)"
                           if short else AGREES)
        return value, (f"{INCONCLUSIVE}: the smallest r of either may still fall within the "
                       f"paper's {budget} steps" if short else DISAGREES)
    return decide


def _phases_verdict(value: str, held: int, found: list[dict], summary: dict,
                    paper_steps: int | None) -> tuple[str, str]:
    """The verdict of a rule over the members' phases: agrees when 2/3 of the members hold;
    inconclusive while the members whose cleanup has not ended could still make 2/3 (in a run
    shorter than the paper's `paper_steps`; at it, they count as not holding); else
    disagrees."""
    if _share(held, len(found)):
        return value, AGREES
    complete = sum(None not in ph.values() for ph in found)
    if not _at_budget(summary, paper_steps) and _share(held + len(found) - complete,
                                                        len(found)):
        return value, (f"{INCONCLUSIVE}: cleanup ended in {complete}/{len(found)} members "
                       f"within {_steps(summary)} steps")
    return value, DISAGREES


def _member_phases(entries, summary, run_dir):
    inputs = _phase_inputs(run_dir)
    return None if inputs is None else [measure_phases(*inputs, _index(summary, e))
                                        for e in entries]


def _phase_inputs(run_dir) -> tuple[dict, dict] | None:
    """The run's history and final-keys.json (the measures at each checkpoint), or None."""
    over = rundir.read_json(RunFiles(run_dir).final_keys, default=None)
    history = _history(run_dir)
    return None if over is None or history is None else (history, over)


def _placed(grid, at: int, mark: int, factor: float) -> bool | None:
    """Whether an end seen at `at` on the steps `grid` lies within `factor` of `mark`: True
    where the open interval between `at`'s neighbours on the grid lies inside the window,
    False where it lies wholly outside it, None where it straddles an edge (the grid cannot
    say)."""
    grid = np.asarray(grid)
    before, after = grid[grid < at], grid[grid > at]
    lo = int(before.max()) if len(before) else at
    hi = int(after.min()) if len(after) else at
    if mark / factor <= lo and hi <= mark * factor:
        return True
    if hi <= mark / factor or lo >= mark * factor:
        return False
    return None


def phases_at_marks(marks: tuple[int, int, int], factor: float = 2.0) -> Predicate:
    """Nanda §5.2's three phases, found from the progress measures (tables.measure_phases),
    against the paper's marks (where memorisation, circuit formation and cleanup end), each
    within `factor` of its mark (the paper's marks are one seed's; seeds grok thousands of
    steps apart). A mark is judged only where the steps it was read at resolve it: each end
    lies between the neighbours of the step where it was seen (tables.phase_steps), and that
    interval must lie inside the window (held) or wholly outside it (missed); one that
    straddles its edge is unresolved, said and not counted (`_placed`: checkpoints every 1,000
    steps cannot place memorisation's end against 1.4k within x2, an end seen at 1.0k lies
    anywhere in (0, 2.0k)). A member holds when all three are found, in order, and
    no resolved mark is missed, and at least one is held. Agrees when 2/3 of the members hold;
    inconclusive while the members whose cleanup has not ended within a run shorter than the
    paper's `paper_steps` could still make 2/3 (`_phases_verdict`); else disagrees."""
    ends = ("memorisation_end", "circuit_formation_end", "cleanup_end")
    names = ("memorisation", "circuit formation", "cleanup")

    def decide(entries, summary, run_dir):
        budget = _budget(summary)
        inputs = _phase_inputs(run_dir)
        if inputs is None:
            return "-", NO_FINAL_KEYS
        grids = phase_steps(*inputs)
        found = [measure_phases(*inputs, _index(summary, e)) for e in entries]
        held, unresolved = 0, dict.fromkeys(ends, 0)
        for ph in (ph for ph in found if None not in ph.values()):
            placed = {k: _placed(grids[k], ph[k], m, factor) for k, m in zip(ends, marks)}
            for k in ends:
                unresolved[k] += placed[k] is None
            judged = [v for v in placed.values() if v is not None]
            held += ph[ends[0]] < ph[ends[1]] < ph[ends[2]] and bool(judged) and all(judged)
        texts = ["/".join("-" if ph[k] is None else f"{ph[k] / 1000:.1f}k" for k in ends)
                 for ph in found]
        value = (f"{held}/{len(found)} members within x{factor:g} of "
                 + "/".join(f"{m / 1000:.1f}k" for m in marks)
                 + "; ends (memorisation/circuit/cleanup): " + ", ".join(texts)
                 + "".join(f"; {name} unresolved by its steps in {n}/{len(found)}, not judged"
                           for name, n in zip(names, unresolved.values()) if n))
        return _phases_verdict(value, held, found, summary, budget)
    return decide


def gini_rises_at_cleanup(weights: tuple[str, ...] = ("W_E", "W_L"),
                          factor: float = 2.0) -> Predicate:
    """Nanda: the Gini coefficient of the Fourier components of W_E and W_L rises sharply in
    cleanup: its rise per step there is at least `factor` times that in circuit formation, for
    every weight, in 2/3 of the members (phases from the measures); inconclusive while the
    members whose cleanup has not ended could still make 2/3 (`_phases_verdict`)."""
    def decide(entries, summary, run_dir):
        budget = _budget(summary)
        found = _member_phases(entries, summary, run_dir)
        if found is None:
            return "-", NO_FINAL_KEYS
        history = _history(run_dir)
        steps = history["probe/step"]
        held, texts = 0, []
        for e, ph in zip(entries, found):
            if None in ph.values():
                texts.append("phases not found")
                continue
            i, rates = _index(summary, e), []
            for w in weights:
                g = history[f"probe/gini/{w}"][i]
                at = [g[np.searchsorted(steps, ph[k])] for k in ph]
                cf = (at[1] - at[0]) / (ph["circuit_formation_end"] - ph["memorisation_end"])
                cu = (at[2] - at[1]) / (ph["cleanup_end"] - ph["circuit_formation_end"])
                rates.append((cf, cu))
            held += all(cu > 0 and cu >= factor * max(cf, 0) for cf, cu in rates)
            texts.append(", ".join(f"{w} {1e3 * cf:+.3f}/{1e3 * cu:+.3f}"
                                   for w, (cf, cu) in zip(weights, rates)))
        value = (f"{held}/{len(found)} members; Gini rise per 1k steps, circuit formation/"
                 f"cleanup: " + "; ".join(texts))
        return _phases_verdict(value, held, found, summary, budget)
    return decide


def weight_norm_falls_in_phases() -> Predicate:
    """Nanda §5.2: the sum of squared weights falls during circuit formation and again during
    cleanup (its value at the end of each phase below that at its start; phases from the
    measures, tables.measure_phases), in 2/3 of the members; inconclusive while the members
    whose cleanup has not ended could still make 2/3 (`_phases_verdict`)."""
    def decide(entries, summary, run_dir):
        budget = _budget(summary)
        found = _member_phases(entries, summary, run_dir)
        if found is None:
            return "-", NO_FINAL_KEYS
        history = _history(run_dir)
        steps = np.asarray(history["probe/step"])
        held, texts = 0, []
        for e, ph in zip(entries, found):
            if None in ph.values():
                texts.append("phases not found")
                continue
            ssw = history["probe/sum_sq_weights"][_index(summary, e)]
            at = [float(ssw[min(np.searchsorted(steps, ph[k]), len(steps) - 1)]) for k in ph]
            held += at[1] < at[0] and at[2] < at[1]
            texts.append("/".join(f"{v:.0f}" for v in at))
        value = (f"{held}/{len(found)} members; sum of squared weights at the ends of "
                 f"memorisation/circuit formation/cleanup: " + ", ".join(texts))
        return _phases_verdict(value, held, found, summary, budget)
    return decide


def weight_norm_rises_then_ends_below_init(rise: float = 1.0) -> Predicate:
    """Omnigrok's LU picture without the norm constraint: the weight norm (sqrt of the sum of
    squared weights) grows while the model memorises (its largest value up to the memorisation
    step above `rise` times the initial one) and ends below its initial value, in 2/3 of the
    grokked members; inconclusive when none grokked (weight decay has not yet shrunk it)."""
    @judges(_grokked_and_memorised)
    def decide(entries, summary, run_dir):
        history = _history(run_dir)
        if history is None or "probe/sum_sq_weights" not in history:
            return "-", f"{INCONCLUSIVE}: the run's history has no sum of squared weights"
        grokked = _grokked_and_memorised(entries)
        if not grokked:
            return "none grokked", f"{INCONCLUSIVE}: no grokking within {_steps(summary)} steps"
        steps = np.asarray(history["probe/step"])
        held, texts = 0, []
        for e in grokked:
            norm = np.sqrt(history["probe/sum_sq_weights"][_index(summary, e)])
            peak = norm[: np.searchsorted(steps, e["memorisation_step"], side="right")].max()
            up, end = peak / norm[0], norm[-1] / norm[0]
            held += up > rise and end < 1.0
            texts.append(f"x{up:.2f} by memorisation, x{end:.2f} at the end")
        value = f"{held}/{len(grokked)} grokked members; norm over its initial value: " + \
            "; ".join(texts)
        return value, AGREES if _share(held, len(grokked)) else DISAGREES
    return decide


def softmax_collapses(at_least: float = 0.5) -> Predicate:
    """Prieto et al. 2025 §3: past memorisation without regularisation, the softmax of most
    train rows collapses (`train/softmax_collapse`: the share of rows whose exp-sum after the
    max shift is exactly 1 in the loss dtype, so their gradient is exactly 0). Agrees when the
    final share is at least `at_least` in 2/3 of the members, disagrees when it is not;
    inconclusive where no member fitted its train set."""
    def decide(entries, summary, run_dir):
        history = _history(run_dir)
        if history is None or "train/softmax_collapse" not in history:
            return "-", f"{INCONCLUSIVE}: the run's history has no softmax-collapse share"
        if not any(e["memorisation_step"] >= 0 for e in entries):
            return "-", (f"{INCONCLUSIVE}: the train set was not fitted within "
                         f"{_steps(summary)} steps")
        final = [float(np.asarray(history["train/softmax_collapse"][_index(summary, e)]
                                  ).reshape(-1)[-1]) for e in entries]
        held = sum(f >= at_least for f in final)
        value = (f"final share of train rows collapsed {_span(final)} ({held}/{len(final)} "
                 f"members at {at_least:g} or more)")
        return value, AGREES if _share(held, len(final)) else DISAGREES
    return decide


def lu_points(entries: list[dict], summary: dict
              ) -> tuple[list[float], list[float], list[float], dict[float, list[dict]]]:
    """Members of a `weight_scale` grid by norm: the norms in order, the median over seeds of
    the final train and test loss at each, and the members at each."""
    by: dict[float, list[dict]] = {}
    for e in entries:
        alpha = setting(e, summary, "weight_scale")
        if alpha is None:
            raise GrokjaxError("Omnigrok's LU needs a run with a weight_scale grid "
                               "(--grid weight_scale=...); this run has none")
        by.setdefault(float(alpha), []).append(e)
    alphas = sorted(by)
    return (alphas, [float(np.median([e["train_loss"] for e in by[a]])) for a in alphas],
            [float(np.median([e["test_loss"] for e in by[a]])) for a in alphas], by)


def lu_shape(l_factor: float = 10.0, u_factor: float = 2.0, noise: float = 1e-3) -> Predicate:
    """Omnigrok's LU mechanism (§2, Figs. 1(b) and 2(a)): on spheres of fixed weight norm
    (members of a `weight_scale` grid trained with the norm held and no weight decay, so that
    the final point is Omnigrok's reduced loss), the train loss against the norm is L-shaped and
    the test loss U-shaped. Per norm, the median over seeds of the final losses.
    L: the train loss at the smallest norm is at least `l_factor` times that at the largest, and
    it never rises from one norm to the next by more than a factor 2 (rises below `noise`, in
    losses already near zero, do not count). U: the test loss is lowest at an interior norm and
    at least `u_factor` times that at both ends. Agrees when both hold, disagrees when either
    fails; inconclusive with fewer than 3 norms, or when the largest norm's members did not fit
    their train set (the run too short to find the sphere's minimum). A run long enough for the
    largest norm but too short for a middle one can still read "not U": the value lists every
    norm's losses, so a reader can tell."""
    def decide(entries, summary, run_dir):
        alphas, train, test, by = lu_points(entries, summary)
        value = "w/w0 train/test loss: " + ", ".join(
            f"{a:g}: {tr:.2g}/{te:.2g}" for a, tr, te in zip(alphas, train, test))
        if len(alphas) < 3:
            return value, f"{INCONCLUSIVE}: {len(alphas)} weight norms (3 or more needed)"
        if not any(e["memorisation_step"] >= 0 for e in by[alphas[-1]]):
            return value, (f"{INCONCLUSIVE}: the largest norm did not fit its train set within "
                           f"{_steps(summary)} steps")
        low = int(np.argmin(test))
        l_holds = train[0] >= l_factor * train[-1] and all(
            b <= max(2 * a, noise) for a, b in zip(train, train[1:]))
        u_holds = 0 < low < len(alphas) - 1 and min(test[0], test[-1]) >= u_factor * test[low]
        value += f"; train loss {'L' if l_holds else 'not L'}, test loss " + \
            (f"U (lowest at w/w0 = {alphas[low]:g})" if u_holds else "not U")
        return value, AGREES if l_holds and u_holds else DISAGREES
    return decide


def faster_than(baseline: str, factor: float = 1.0) -> Predicate:
    """A method arm against the `baseline` arm of the same program (`grid.arms`, every arm on
    the same seeds): the speed-up of the median grok step (baseline / arm) with its paired 95%
    bootstrap interval (grokjax.report.speedup; a member that did not grok counts at the run's
    length). Agrees when the whole interval lies above `factor`, disagrees when it lies at or
    below it, inconclusive when it straddles it or when neither arm grokked."""
    def decide(entries, summary, run_dir):
        all_arms = speedup.arms(summary)
        name = entries[0]["hparams"]["arm"] if entries else None
        if name not in all_arms or baseline not in all_arms:
            raise GrokjaxError(f"faster_than: the run has no arms {name!r} and {baseline!r}")
        row = next(r for r in speedup.compare(all_arms, baseline) if r["arm"] == name)
        base = all_arms[baseline]
        lo, hi = row["speedup_ci"]
        value = (f"{speedup.fmt_speedup(row)} vs {baseline} (median {row['median']:,.0f} "
                 f"against {np.median(base.steps):,.0f}; {row['grokked']}/{row['n']} and "
                 f"{int((~base.censored).sum())}/{len(base.steps)} grokked)")
        if row["speedup_bound"] == "none":
            return value, f"{INCONCLUSIVE}: neither arm grokked within {_steps(summary)} steps"
        if lo > factor:
            return value, AGREES
        if hi <= factor:
            return value, DISAGREES
        return value, f"{INCONCLUSIVE}: the interval straddles {factor:g}x"
    return decide


def setting(entry: dict, summary: dict, key: str):
    """A member's value of `key` ('task', 'train_fraction'): its grid value where the run
    has that axis, else the run's."""
    return entry.get("hparams", {}).get(key, summary.get(key))


def selected(summary: dict, members: dict) -> list[dict]:
    """The members with the given settings, e.g. {'task': 'add'}."""
    return [e for e in summary["seeds"]
            if all(setting(e, summary, k) == v for k, v in members.items())]


def run_dir(claim: Claim, root: pathlib.Path) -> pathlib.Path:
    """The claim's run: the first of `claim.run` that holds the claim's members (a paper-scale
    grid still missing a task does not hide the reduced run that has it), else `_first_run`."""
    names = (claim.run,) if isinstance(claim.run, str) else claim.run
    for name in names if claim.members else ():
        summary = read_summary(root / name)
        if summary and selected(summary, claim.members):
            return root / name
    return _first_run(claim.run, root)


def _first_run(names: str | tuple[str, ...], root: pathlib.Path) -> pathlib.Path:
    """The first of the runs `names` that has a summary, or is a group of runs that have
    (else the first)."""
    names = (names,) if isinstance(names, str) else names
    return next((root / r for r in names if RunFiles(root / r).summary.exists()
                 or _parts(root / r)), root / names[0])


def _parts(group: pathlib.Path) -> list[pathlib.Path]:
    """The finished runs directly under a directory that is not a run itself (a sweep's runs of
    one claim, e.g. one per train fraction where a minibatch rules out a fraction grid)."""
    if not group.is_dir() or RunFiles(group).summary.exists():
        return []
    return sorted(d for d in group.iterdir() if d.is_dir() and RunFiles(d).summary.exists())


def _run_members(claim: Claim, root: pathlib.Path) -> tuple[dict | None, list[dict]]:
    return _members_of(run_dir(claim, root), claim.members)


def _members_of(where: pathlib.Path, members: dict) -> tuple[dict | None, list[dict]]:
    """A run's summary (None if it is not there) and its members with the given settings."""
    summary = read_summary(where)
    return summary, selected(summary, members) if summary else []


def read_summary(run_dir: pathlib.Path) -> dict | None:
    """A claim's run summary; None if the run is not there (or is damaged beyond rebuilding:
    said in a warning, and its claims are 'not run'). A group of runs (`_parts`) reads as one,
    each member keeping its run's train fraction, over the shortest run's steps."""
    if parts := _parts(run_dir):
        read = [s for s in map(read_summary, parts) if s]
        if not read:
            return None
        seeds = [dict(e, hparams={"train_fraction": s["train_fraction"], **e.get("hparams", {})})
                 for s in read for e in s["seeds"]]
        return {**read[0], "seeds": seeds, "steps": min(int(s["steps"]) for s in read)}
    if not RunFiles(run_dir).summary.exists():
        return None
    try:
        return open_run(run_dir).summary
    except GrokjaxError as e:
        print(f"grokjax: warning: {e}", file=sys.stderr, flush=True)
        return None


def outcome(entries: list[dict]) -> dict:
    """A matrix cell: how many members grokked, their median grok step, the best test acc."""
    s = grok_stats(entries)
    return {"grokked": s["grokked"], "n": s["seeds"], "grok_step": s["grok_step_median"],
            "best_test_acc": s["best_test_acc_median"]}


def placed(claim: Claim, root: pathlib.Path) -> list[tuple[tuple[str, str, str], dict]]:
    """The claim's cells in the report's matrix figures, with their outcomes (none if its run
    is missing); a column's {r} and {ksteps} are the run's train fraction and thousands of
    steps."""
    summary, entries = _run_members(claim, root)
    out = []
    for figure, row, col in claim.cells if entries else ():
        groups: dict[str, list[dict]] = {}
        for e in entries:
            r = setting(e, summary, "train_fraction")
            groups.setdefault(col.format(r=f"{r:g}", ksteps=f"{_steps(summary) / 1000:g}"),
                              []).append(e)
        out += [((figure, row, c), outcome(es)) for c, es in groups.items()]
    return out


def verdict_kind(verdict: str) -> str:
    """A verdict without its reason: AGREES, DISAGREES, CONSISTENT, INCONCLUSIVE or NOT_RUN."""
    return next(v for v in (AGREES, DISAGREES, CONSISTENT, INCONCLUSIVE, NOT_RUN)
                if verdict.startswith(v))


def at_paper_scale(claim: Claim, steps: int, seeds: int) -> bool | None:
    """Whether a run of `steps` steps and `seeds` seeds is at the claim's paper scale (None:
    the paper's budget is not known; False for a claim run at another setting than the
    paper's, one with `settle_by`, whatever its budget)."""
    if claim.settle_by:
        return False
    if claim.paper_steps is None:
        return None
    return steps >= claim.paper_steps and seeds >= (claim.paper_seeds or 1)


def evaluate(claim: Claim, root: pathlib.Path) -> dict:
    """One row of the report: the claim with our value, our scale, the number of seeds it
    rests on ('seeds': those the rule judges, e.g. the grokked ones; 'run_seeds': the run's),
    whether that is the paper's scale, and the verdict."""
    row = {"id": claim.id, "source": claim.source, "statement": claim.statement,
           "paper": claim.paper, "paper_scale": claim.paper_scale,
           "claim": claim.same_as or claim.id, "member_steps": 0, "papers": claim.papers}
    summary, entries = _run_members(claim, root)
    if not entries:
        return {**row, "ours": "-", "scale": "-", "seeds": 0, "run_seeds": 0,
                "at_paper_scale": None,
                "verdict": NOT_RUN + (f": {claim.not_run_why}" if claim.not_run_why else ""),
                "settle": claim.not_run_why and "-" or "run it"}
    where = run_dir(claim, root)
    cfg = rundir.read_json(RunFiles((_parts(where) or [where])[0]).config, default={})
    if claim.control:
        names, members = claim.control
        control = _first_run(names, root)
        csum, centries = _members_of(control, members)
        summary = {**summary, "control": csum and {
            "entries": centries, "steps": int(csum["steps"]),
            "run": str(control.relative_to(root))}}
    # what a rule judges by beside the members: the paper's budget and the run's own threshold
    # of memorised and grokked (its config)
    threshold = cfg.get("train", {}).get("acc_threshold")
    judged = {**summary, "paper_steps": claim.paper_steps, "acc_threshold": threshold}
    ours, verdict = claim.predicate(entries, judged, where)
    rs = sorted({setting(e, summary, "train_fraction") for e in entries})
    seeds = len({e["seed"] for e in entries})
    # the seeds the verdict rests on: those of the members the rule judges
    # (none of them, e.g. none grokked: the verdict says so, and rests on the run's seeds)
    used = len({e["seed"] for e in getattr(claim.predicate, "judges", list)(entries)}) or seeds
    scale = (f"p={summary['p']}, r={'/'.join(f'{r:g}' for r in rs)}, {summary['steps']} steps, "
             f"{runs.seeds_text(seeds)}"
             + (f", {cfg['model']['variant']} model" if cfg.get("model", {}).get("variant")
                in ("nanda", "power", "prieto") else "")
             + (f", grokked at {threshold:.0%} test accuracy"
                if threshold not in (None, _DEFAULT_THRESHOLD) else ""))
    at_scale = at_paper_scale(claim, int(summary["steps"]), seeds)
    return {**row, "ours": ours, "scale": scale, "verdict": verdict, "seeds": used,
            "member_steps": int(summary["steps"]) * len(entries),
            "run_seeds": seeds, "at_paper_scale": at_scale,
            "settle": settle(claim, verdict, at_scale, used)}


def settle(claim: Claim, verdict: str, at_scale: bool | None, seeds: int) -> str:
    """What would settle a verdict: the claim's own `settle_by` for one taken at another
    setting than the paper's (an agreement there too: it is not the paper's); more seeds
    for one decided within the spread over seeds (WITHIN_SPREAD), up to five times the
    paper's, and past that a threshold of the paper's own; the paper's budget and
    seeds for one that is consistent so far or inconclusive below that budget; the paper's
    number of seeds (3 where it gives none) for an agreement or a disagreement resting on
    fewer; '' when nothing more is needed."""
    kind = verdict_kind(verdict)
    want = claim.paper_seeds or 3
    if claim.settle_by:
        return claim.settle_by
    if WITHIN_SPREAD in verdict:
        if seeds >= 5 * want:  # a count fixed in advance, 15 for Fig. 8 (experiments/results/
            # README.md, fig8-15seeds): past it, seeds stop being the question
            return (f"not more seeds: on {seeds}, five times the paper's, the members still sit "
                    "on the rule's threshold; a threshold read from the paper's own figure "
                    "would decide it")
        # three times the paper's seeds, at least 6 more than now: enough that 2/3 of them can
        # clear the band whichever way the close members fall
        return (f"more seeds ({max(3 * want, seeds + 6)}): a margin within the spread over "
                "seeds is not decided by a longer run")
    if kind in (CONSISTENT, INCONCLUSIVE) and at_scale is False:
        return (f"{claim.paper_steps:,} steps x {want} seeds "
                f"({claim.paper_steps * want:,} member-steps)")
    if seeds < want:
        return f"{want} seeds (this rests on {seeds})"
    return "" if kind in (AGREES, DISAGREES) else "a longer or larger run (see the verdict)"
