"""`grokjax circuits RUN`: which heads, neurons and paths carry the answer, for every seed.

    grokjax circuits RUN --method acdc [--tau 0.01] [--metric kl] [--corrupt shuffle]
    grokjax circuits RUN --method eap|eap-ig|edges [--granularity edges|edges-nopos|nodes]
    grokjax circuits RUN --method prune [--sparsity 0.8] [--prune-steps 300]  # edge pruning
    grokjax circuits RUN --method patch [--direction denoise|noise]
    grokjax circuits RUN --method acdc --by-frequency        # the MLP split by key frequency
    grokjax circuits RUN --method acdc --over-training       # at every checkpoint
    grokjax circuits RUN --method clock-pizza                # Zhong et al.'s two measures
    grokjax circuits RUN --method edges --granularity nodes --seed-list 1   # seed 1's heads

prints the answer (`summary`: per seed the circuit's size, metric and faithfulness, the area
under its ranking's faithfulness curve and its most important units by |score|; clock-pizza's
measures and verdict; patch's largest effects) and writes the files.

Every circuit method ranks the units (edges, eap, eap-ig by |score|; acdc by its delta, the
damage a unit's removal adds when visited, so that its circuit at --tau ranks first; prune by
log_alpha; benchmarks/circuit_truth.py ranks ACDC by the largest tau that keeps a unit, as the
ACDC paper's ROC does, which needs its tau sweep at every step), and the command
measures that ranking as MIB does (grokjax.circuits.scoring): the faithfulness of the circuit
of the k highest-ranked units for every k = 0..N, its area CPR (1 is best) and its distance
from 1 CMD (0 is best), beside the mean curve of random rankings (8 draws), per seed and, with
--over-training, at every checkpoint: the circuit's faithfulness area against the grok step.

prune is edge pruning (grokjax.circuits.prune, Bhaskar et al. 2024): hard-concrete masks
trained for --prune-steps steps at each target sparsity of PRUNE_TARGETS and --sparsity, every
seed and target in one program; the circuit is the one at --sparsity (the fraction of units
removed) and the others are the size-faithfulness front.

The metric (`DEFAULT_METRIC`): kl (KL from the clean model, ACDC's) for acdc, edges and patch;
logit_diff for eap and eap-ig. EAP's score is a gradient at the clean model (mask = 1), where KL
is at its minimum, 0, so its gradient is exactly 0 and every score would be 0: eap with kl is an
error, as is eap-ig with kl and one step (that is eap), and eap or eap-ig with accuracy (a step
function: its gradient is 0 everywhere). eap-ig with kl and 2 or more steps is allowed: it
averages the gradient over masks k/steps, k = 1..steps, and only the k = steps term is 0 (on
configs/circuits.py's grokked seeds its scores correlate 0.92 and 0.99 with exact edge
patching), but logit_diff stays its default: no step is spent at a zero gradient (and those
near it, KL being flat there, add little), it is linear in the logits (exact for edges into
them), and eap and eap-ig then score in the same units.

Files go to RUN/circuits/NAME/ (or --out), NAME being (`directory`)

    clock-pizza, patch[-noise][-METRIC][-CORRUPTION] or
    METHOD-GRANULARITY[-freq][-METRIC][-CORRUPTION],
    then -step-N where --checkpoint names a step that is not the latest,
    then -seeds-S-S... where --seed-list names some but not all of the run's seeds,

METRIC where it is not kl and CORRUPTION where it is not shuffle: a name means the same
settings whichever method's default the metric is (`--method eap` writes eap-edges-logit_diff,
as `--method eap --metric logit_diff` always has), and a subset of seeds or an older checkpoint
never replaces the results of every seed at the latest one.

    report.json   per seed: every unit's score, keyed by the unit's short name ("L0H2 -> L0MLP
                  @b"); the circuit kept (its units, size, metric and faithfulness); the full
                  and corrupted model's metric; agreement across seeds (the Jaccard index of
                  kept units, and the units every seed keeps); for eap/eap-ig the exact edge
                  effects beside the estimates and their correlation
    arrays.npz    the same as arrays, [seeds, units] (units in report.json's `units` order)
    circuits.png  each seed's circuit as a graph, arrows as wide as their units' |score| (nodes:
                  each node's score); circuit-SEED.dot the DOT text
    tau.png       (acdc) circuit size and metric against tau, from one vmapped ACDC run
    faithfulness.png  per seed the faithfulness of the top-k circuit against k, beside random
                  rankings (prune: its circuit at every target sparsity too)
    agreement.png the Jaccard matrix across seeds
    patching.png  (patch) TransformerLens's tables, one row per seed, as the fraction of the way
                  from the unpatched run's metric to the other run's (report.json: `full` and
                  `corrupted`, the two runs' metric)
    (clock-pizza) report.json: per seed the gradient symmetricity, the distance irrelevance
                  and the verdict (grokjax.circuits.clock_pizza)
    over-training.json/.png   circuit size, faithfulness and CPR at every checkpoint, beside
                  test accuracy and each seed's grok step; also in TensorBoard under circuits/

ACDC keeps a unit when removing it from the current circuit adds at least tau to the damage
(KL or loss; minus logit difference or accuracy). For edge effects and the EAP estimates, the
circuit is the units whose |score| is at least tau.

`write` is the command: `validate` checks the `Options`, `compute` runs the method (it reads
checkpoints and writes nothing), `draw` makes the figures, `save` writes the rest and `summary`
is what it prints; every file but the figures goes through the store's atomic writers
(grokjax.store.rundir). In Python, one seed's scores by unit:

    compute(circuits.load(RUN, seeds=[1]), Options("edges", granularity="nodes")
            ).report["members"][0]["scores"]
"""

from __future__ import annotations

import dataclasses
import pathlib
from typing import Any

import numpy as np

from grokjax import circuits as C
from grokjax.errors import GrokjaxError
from grokjax.monitor import tensorboard
from grokjax.report import circuit_draw, runs
from grokjax.saved import open_run
from grokjax.store import rundir
from grokjax.store.files import RunFiles

METHODS = ("acdc", "edges", "eap", "eap-ig", "prune", "patch", "clock-pizza")
DEFAULT_METRIC = {"acdc": "kl", "edges": "kl", "eap": "logit_diff", "eap-ig": "logit_diff",
                  "prune": "kl", "patch": "kl", "clock-pizza": None}  # see the docstring
PRUNE_TARGETS = (0.3, 0.5, 0.65, 0.8, 0.9, 0.95)  # edge pruning's front, beside --sparsity
RANDOM_DRAWS = 8
TAUS = np.logspace(-4, 0.5, 19)  # ACDC's sweep, 10^-2..10^0.5, widened down to 1e-4
PATCH_KINDS = ("resid_pre", "attn_out", "mlp_out", "attn_head_out_by_pos",
               "attn_head_v_by_pos", "attn_head_pattern_by_pos")
TOP = 5  # the units `summary` prints per seed


@dataclasses.dataclass(frozen=True)
class Options:
    """`grokjax circuits`' options: which checkpoint and members, the method and its settings,
    the inputs and their corruption, and where the files go (`out`, default the run's
    circuits directory). `metric` None is the method's `DEFAULT_METRIC`."""
    method: str = "acdc"
    step: int | None = None
    seeds: list[int] | None = None
    corrupt: str = "shuffle"
    metric: str | None = None
    tau: float = 0.01
    granularity: str = "edges"
    by_frequency: bool = False
    examples: int = 0
    ig_steps: int = 10
    sparsity: float = 0.8
    prune_steps: int = 300
    direction: str = "denoise"
    over_training: bool = False
    task: str | None = None
    seed: int = 0
    out: str | None = None

    def __post_init__(self):
        if self.metric is None:
            object.__setattr__(self, "metric", DEFAULT_METRIC.get(self.method))

    @property
    def name(self) -> str:
        """The settings' part of the output directory's name: clock-pizza,
        patch[-noise][-METRIC][-CORRUPTION], or METHOD-GRANULARITY[-freq][-METRIC][-CORRUPTION]
        (METRIC and CORRUPTION where they are not kl and shuffle)."""
        if self.method == "clock-pizza":
            return "clock-pizza"
        return "-".join([self.method]
                        + ([self.granularity] if self.method != "patch" else
                           [] if self.direction == "denoise" else [self.direction])
                        + (["freq"] if self.by_frequency else [])
                        + ([] if self.metric == "kl" else [self.metric])
                        + ([] if self.corrupt == "shuffle" else [self.corrupt]))


def directory(o: Options, seeds: list[int], run_seeds: list[int], step: int,
              latest: int) -> str:
    """The output directory's name: `o.name`, then -step-N where `step` (the one read) is not
    the run's `latest`, then -seeds-S-S... where `seeds` (those read) are not all `run_seeds`."""
    parts = [o.name]
    if step != latest:
        parts.append(f"step-{step}")
    if set(seeds) != set(run_seeds):
        parts.append("seeds-" + "-".join(str(sd) for sd in sorted(set(seeds))))
    return "-".join(parts)


@dataclasses.dataclass(frozen=True)
class OverTraining:
    """A circuit method at every checkpoint: circuit size, faithfulness, metric and the CPR of
    its ranking [steps, M], beside the run's logged steps and test accuracy [M, P] and each
    seed's grok step (-1: none)."""
    steps: list[int]
    sizes: np.ndarray
    faith: np.ndarray
    values: np.ndarray
    cpr: np.ndarray
    grok: list[int]
    history_steps: np.ndarray
    test_acc: np.ndarray
    n_units: int

    def report(self) -> dict:
        """over-training.json's dict (also report.json's `over_training`)."""
        return {"steps": self.steps, "size": self.sizes.tolist(),
                "faithfulness": np.where(np.isfinite(self.faith), self.faith, np.nan).tolist(),
                "metric": self.values.tolist(),
                "cpr": np.where(np.isfinite(self.cpr), self.cpr, np.nan).tolist(),
                "grok_step": self.grok}


@dataclasses.dataclass(frozen=True)
class Result:
    """What `compute` found: report.json's dict, arrays.npz's arrays (none for clock-pizza),
    and what only the figures need: the model's graph, the units scored, the Jaccard matrix
    [M, M], acdc's tau sweep (circuit size and metric [taus, M]) and the over-training run."""
    report: dict
    arrays: dict[str, np.ndarray]
    graph: Any = None
    units: Any = None
    jaccard: np.ndarray | None = None
    tau_sweep: tuple[np.ndarray, np.ndarray] | None = None
    over_training: OverTraining | None = None
    front: tuple[np.ndarray, np.ndarray] | None = None  # prune: [targets, M] sizes, faithfulness


def write(run: str, method: str = "acdc", **options) -> tuple[pathlib.Path, Result]:
    """`grokjax circuits RUN`: checks the options (`Options`' fields, as keywords), runs
    `method` on the run's checkpoint, draws the figures and writes the files; returns the
    directory they are in and the `Result` (`summary(result.report)` is what the command
    prints)."""
    o = Options(method=method, **options)
    validate(o)
    model = C.load(rundir.require(run), o.step, o.seeds, o.task)
    result = compute(model, o)
    if o.out:
        out_dir = pathlib.Path(o.out)
    else:
        saved = open_run(model.run_dir)
        out_dir = RunFiles(model.run_dir).circuits / directory(
            o, model.seeds, saved.member_seeds, model.step, saved.steps[-1])
    out_dir.mkdir(parents=True, exist_ok=True)
    draw(result, model, o, out_dir)
    save(result, model, o, out_dir)
    return out_dir, result


def validate(o: Options) -> None:
    """Raises a one-line GrokjaxError for an unknown method, metric or granularity, and for
    options --method patch cannot take. (grokjax.circuits checks the corruption, the step and
    the seeds as it reads them.)"""
    if o.method not in METHODS:
        raise GrokjaxError(f"--method {o.method!r} is not one of {', '.join(METHODS)}")
    if o.method != "clock-pizza" and o.metric not in C.METRICS:
        raise GrokjaxError(f"--metric {o.metric!r} is not one of {', '.join(C.METRICS)}")
    if o.ig_steps < 1:
        raise GrokjaxError(f"--ig-steps {o.ig_steps}: EAP-IG needs 1 or more steps, e.g. 10")
    if not 0.0 <= o.sparsity <= 1.0:
        raise GrokjaxError(f"--sparsity {o.sparsity:g} is the fraction of units edge pruning "
                           "removes: give one in [0, 1], e.g. 0.8")
    if o.prune_steps < 1:
        raise GrokjaxError(f"--prune-steps {o.prune_steps}: edge pruning needs 1 or more "
                           "steps, e.g. 300")
    gradient = o.method == "eap" or (o.method == "eap-ig" and o.ig_steps == 1)
    if gradient and o.metric == "kl":
        raise GrokjaxError(
            f"--method {o.method}{' --ig-steps 1' if o.method == 'eap-ig' else ''} --metric kl: "
            "KL from the clean model is at its minimum at the clean model (mask = 1), so its "
            "gradient there, every EAP score, is exactly 0; use --metric logit_diff (the "
            "default) or loss, or for KL --method edges (exact) or eap-ig --ig-steps 10")
    if o.method in ("eap", "eap-ig") and o.metric == "accuracy":
        raise GrokjaxError(
            f"--method {o.method} --metric accuracy: accuracy is a step function of the mask, "
            "so its gradient, every score, is 0; use --metric logit_diff (the default) or "
            "loss, or for accuracy --method edges or acdc")
    if o.granularity not in C.GRANULARITIES:
        raise GrokjaxError(f"--granularity {o.granularity!r} is not one of "
                           f"{', '.join(C.GRANULARITIES)}")
    if o.method == "patch" and (o.over_training or o.by_frequency):
        raise GrokjaxError("--method patch makes TransformerLens's tables at one step; "
                           "--over-training and --by-frequency are for the circuit methods")
    if o.method == "patch" and o.corrupt in ("mean", "zero"):
        raise GrokjaxError("--method patch patches activations of a corrupted input: give an "
                           "input corruption (--corrupt shuffle, resample-b, b+1, a+1, swap)")


def compute(model: C.Model, o: Options) -> Result:
    """Runs `o.method` on `model` (and with `o.over_training` on every checkpoint of its run):
    the report, the arrays and what the figures need. Reads checkpoints; writes nothing."""
    if o.method == "clock-pizza":
        return _compute_clock_pizza(model, o)
    data = C.inputs(model, o.corrupt, o.examples, o.seed)
    if o.method == "patch":
        return _compute_patch(model, data, o)
    return _compute_circuit(model, data, o)


def draw(result: Result, model: C.Model, o: Options, out_dir: pathlib.Path) -> None:
    """Draws the method's figures into `out_dir`: patching.png for patch; circuits.png, each
    seed's circuit-SEED.dot, agreement.png (for more than one seed) and tau.png (acdc) for the
    circuit methods; over-training.png with --over-training. Clock-pizza has none."""
    if o.method == "patch":
        r = result.report
        fractions = {k: np.stack([patch_fraction(t[m], r["full"][m], r["corrupted"][m],
                                                 o.direction) for m in range(len(t))])
                     for k, t in result.arrays.items()}
        circuit_draw.patching(fractions, result.graph, model.names, o.metric, o.direction,
                              out_dir / "patching.png")
    elif o.method != "clock-pizza":
        _draw_circuits(result, model, o, out_dir)
    if result.over_training is not None:
        _draw_over_training(result.over_training, model, o, out_dir)


def save(result: Result, model: C.Model, o: Options, out_dir: pathlib.Path) -> None:
    """Writes report.json, arrays.npz (where there are arrays) and, with --over-training,
    over-training.json and the run's TensorBoard scalars under circuits/METHOD-GRANULARITY."""
    if result.over_training is not None:
        rundir.write_json(out_dir / "over-training.json", result.report["over_training"])
        _write_tensorboard(result.over_training, model, o)
    rundir.write_json(out_dir / "report.json", result.report)
    if result.arrays:
        rundir.write_npz(out_dir / "arrays.npz", result.arrays)


def summary(report: dict) -> str:
    """What `grokjax circuits` prints: the answer in `report` (a `Result`'s, or report.json
    read back). A circuit method: per seed the circuit's size (of how many units), its metric
    beside the full and corrupted model's, its faithfulness, its ranking's CPR and CMD beside
    random rankings', and the TOP units by |score| (prune: by log_alpha; every unit where
    there are at most 2 * TOP), then
    the agreement across seeds (and with --over-training each seed's size at every checkpoint);
    clock-pizza: per seed the two measures and the verdict; patch: per seed the TOP cells of
    all the tables by their effect."""
    if report["method"] == "clock-pizza":
        return _summary_clock_pizza(report)
    if report["method"] == "patch":
        return _summary_patch(report)
    return _summary_circuit(report)


_SCORE_MEANING = {
    "acdc": "the damage ({metric}, larger is worse) removing the unit adds to ACDC's circuit "
            "when it is visited",
    "edges": "the model's {metric} without the unit minus with it, exactly",
    "eap": "EAP's estimate of the model's {metric} without the unit minus with it",
    "eap-ig": "EAP-IG's estimate of the model's {metric} without the unit minus with it",
    "prune": "log_alpha, edge pruning's mask logit at the target sparsity (larger: kept more "
             "surely; the circuit keeps the largest)"}


def _summary_circuit(r: dict) -> str:
    metric, n = r["metric"], r["n_units"]
    lines = [f"{r['method']} at step {r['step']}: {n} units ({r['granularity']}"
             f"{', the MLP by key frequency' if r['by_frequency'] else ''}), metric {metric}, "
             + (f"target sparsity {r['sparsity']:g} ({r['prune_steps']} steps)"
                if r["method"] == "prune" else f"tau {r['tau']:g}")
             + f", corruption {r['corrupt']}, {r['examples']} inputs",
             f"score: {_SCORE_MEANING[r['method']].format(metric=metric)}"]
    for m, e in enumerate(r["members"]):
        faith = "-" if e["faithfulness"] is None else f"{e['faithfulness']:.4f}"
        corr = (r.get("correlation_with_exact") or [None] * len(r["members"]))[m]
        lines.append(f"{e['name']}: {e['size']} of {n} units kept; the circuit's {metric} "
                     f"{e['metric']:.4g} (full model {r['full'][m]:.4g}, corrupted "
                     f"{r['corrupted'][m]:.4g}); faithfulness {faith}"
                     + ("" if corr is None else f"; correlation with exact {corr:.3f}"))
        if e.get("cpr") is not None:
            lines.append(f"  ranking's faithfulness curve: CPR {e['cpr']:.3f} (random rankings "
                         f"{_fmt(e.get('cpr_random'))}), CMD {e['cmd']:.3f}")
        scores = e["scores"]
        rank = (lambda u: -scores[u]) if r["method"] == "prune" else (lambda u: -abs(scores[u]))
        top = sorted(scores, key=rank)[:TOP if n > 2 * TOP else n]
        kept = set(e["kept"])
        lines += [f"  {scores[u]:>11.4g}  {'kept' if u in kept else '    '}  {u}" for u in top]
        if e["size"] == 0 and r["method"] not in ("acdc", "prune") and top:
            lines.append(f"  (no unit reaches |score| >= tau {r['tau']:g}; the largest is "
                         f"{abs(scores[top[0]]):.3g}: a smaller --tau keeps some)")
    if len(r["members"]) > 1:
        a = r["agreement"]
        lines.append(f"agreement: mean Jaccard index {a['mean_jaccard']:.2f}; "
                     f"{len(a['kept_by_every_seed'])} units kept by every seed, "
                     f"{len(a['kept_by_some_seed'])} by some")
    over = r.get("over_training")
    if over:
        lines.append(f"over training, the circuit's size at steps {over['steps'][0]}.."
                     f"{over['steps'][-1]} ({len(over['steps'])} checkpoints):")
        for m, e in enumerate(r["members"]):
            grok = over["grok_step"][m]
            lines.append(f"  {e['name']}: " + " ".join(str(int(row[m])) for row in over["size"])
                         + (f"  (grokked at {grok})" if grok >= 0 else "  (did not grok)"))
        lines.append("  and its ranking's CPR:")
        for m, e in enumerate(r["members"]):
            lines.append(f"  {e['name']}: " + " ".join(
                "-" if row[m] is None or not np.isfinite(row[m]) else f"{row[m]:.2f}"
                for row in over["cpr"]))
    return "\n".join(lines)


def _fmt(x) -> str:
    return "-" if x is None else f"{x:.3f}"


def _summary_patch(r: dict) -> str:
    metric = r["metric"]
    base, other = (("corrupted", "clean") if r["direction"] == "denoise"
                   else ("clean", "corrupted"))
    lines = [f"patch ({r['direction']}) at step {r['step']}: the {base} run with one {other} "
             f"activation patched in, scored by {metric}; corruption {r['corrupt']}, "
             f"{r['examples']} inputs",
             f"effect: the fraction of the way from the {base} run's {metric} to the {other} "
             f"run's (0: none, 1: all of it)"]
    for m, name in enumerate(r["members"]):
        cells = []
        for kind, tables in r["tables"].items():
            t = np.asarray(tables[m])
            frac = patch_fraction(t, r["full"][m], r["corrupted"][m], r["direction"])
            labels = patch_labels(kind, t.shape, r["positions"], r["n_heads"])
            cells += zip(frac.ravel(), t.ravel(), [kind] * t.size, labels)
        cells.sort(key=lambda c: -abs(np.nan_to_num(c[0])))
        lines.append(f"{name}: clean {metric} {r['full'][m]:.4g}, corrupted "
                     f"{r['corrupted'][m]:.4g}; the largest effects:")
        lines += [f"  {f:>6.2f}  {f'({metric} {v:.4g})':<22}  {kind} {label}"
                  for f, v, kind, label in cells[:TOP]]
    return "\n".join(lines)


def _summary_clock_pizza(r: dict) -> str:
    width = max(len(e["name"]) for e in r["members"])
    lines = [f"clock-pizza at step {r['step']} (attention rate {r['attn_rate']:g}, "
             f"{r['triples']} triples): Zhong et al.'s measures",
             f"{'':<{width}}  gradient symmetricity  distance irrelevance  verdict"]
    lines += [f"{e['name']:<{width}}  {e['gradient_symmetricity']:>21.3f}  "
              f"{e['distance_irrelevance']:>20.3f}  {e['verdict']}" for e in r["members"]]
    return "\n".join(lines)


def jaccard(kept_MxN: np.ndarray) -> np.ndarray:
    """[M, M] |A & B| / |A | B| of the members' kept units (1 where both are empty)."""
    k = kept_MxN.astype(bool)
    inter = (k[:, None] & k[None]).sum(-1)
    union = (k[:, None] | k[None]).sum(-1)
    return np.where(union > 0, inter / np.maximum(union, 1), 1.0)


def _scores(s, units, o: Options, curves: bool = True) -> dict:
    """One circuit method at one step: scores [M, n], kept [M, n], the circuit's metric
    `value` [M], the full and corrupted model's metric [M], the faithfulness [M], the ranking
    `importance` [M, n] and its faithfulness `curve` [M, n + 1] with its CPR and CMD [M]; with
    `curves` the random rankings' mean curve, and acdc's TAUS sweep (`sweep_size`,
    `sweep_value` [taus, M]) or prune's front (`front_*` [targets, M]): what one step's report
    shows and `--over-training` does not repeat at every checkpoint."""
    if o.method == "acdc":
        # with the curves, one vmapped run over TAUS and --tau gives the circuit and the sweep
        taus = np.unique(np.r_[TAUS, o.tau]) if curves else np.asarray([o.tau])
        r = C.acdc(s, units, o.metric, taus)
        kept, value, deltas = (np.asarray(x) for x in (r.kept, r.value, r.deltas))
        at = int(np.flatnonzero(taus == o.tau)[0])
        # a unit is kept exactly when its delta reaches tau: ranked by delta, the circuit comes
        # first (ranking by the largest tau that keeps a unit needs the sweep at every step)
        out = {"scores": deltas[at], "kept": kept[at], "importance": deltas[at]}
        if curves:
            sweep = np.searchsorted(taus, TAUS)
            out.update(sweep_size=kept[sweep].sum(-1), sweep_value=value[sweep])
    elif o.method == "prune":
        targets = tuple(sorted(set(PRUNE_TARGETS) | {o.sparsity}))
        r = C.edge_pruning(s, units, o.metric, targets, steps=o.prune_steps, seed=o.seed)
        at = targets.index(o.sparsity)
        out = {"scores": r.log_alpha[at], "kept": r.kept[at], "importance": r.log_alpha[at],
               "front_targets": np.asarray(targets), "front_size": r.kept.sum(-1),
               "front_value": r.value}
    else:
        if o.method == "edges":
            scores = C.edge_effects(s, units, o.metric)
        else:
            scores = C.eap_ig(s, units, o.metric, o.ig_steps if o.method == "eap-ig" else 1)
        out = {"scores": np.asarray(scores), "kept": np.abs(np.asarray(scores)) >= o.tau,
               "importance": C.importance(scores)}
    out["value"] = np.asarray(C.evaluate(s, out["kept"].astype(np.float32), units, o.metric))
    full, corrupt = (np.asarray(x) for x in C.full_and_corrupt(s, units, o.metric))
    out.update(full=full, corrupt=corrupt,
               faithfulness=np.asarray(C.faithfulness(out["value"], full, corrupt)))
    out["curve"] = C.faithfulness_curve(s, units, out["importance"], o.metric)
    out["cpr"], out["cmd"] = C.cpr_cmd(out["curve"])
    if curves:
        out["random_curve"] = C.random_curve(s, units, o.metric, RANDOM_DRAWS, o.seed)
        if "front_value" in out:
            out["front_faithfulness"] = np.asarray(C.faithfulness(
                out["front_value"], full[None], corrupt[None]))
    return out


def _settings(model: C.Model, data: C.Inputs, o: Options) -> dict:
    """The head of report.json for the methods that patch inputs: run, step, method, metric,
    corruption, task, number of examples, members and their seeds."""
    return {"run": str(model.run_dir), "step": model.step, "method": o.method,
            "metric": o.metric, "corrupt": o.corrupt, "task": model.task,
            "examples": len(data.operands), "members": model.names, "seeds": model.seeds}


def _compute_circuit(model: C.Model, data: C.Inputs, o: Options) -> Result:
    """acdc, edges, eap, eap-ig or prune: every unit's score and the circuit kept, per seed,
    with its ranking's faithfulness curve; for eap and eap-ig the exact edge effects beside
    them; for acdc the sweep over TAUS; for prune the front over its target sparsities."""
    s, g = C.setup(model, data, o.by_frequency)
    units = g.units(o.granularity)
    res = _scores(s, units, o)
    report = dict(_settings(model, data, o), granularity=o.granularity, tau=o.tau,
                  by_frequency=o.by_frequency, n_units=len(units), mlp_groups=list(g.mlp_groups))
    if o.method == "eap-ig":
        report["ig_steps"] = o.ig_steps
    if o.method == "prune":
        report.update(sparsity=o.sparsity, prune_steps=o.prune_steps)
    report.update(units=list(units.names), units_short=list(units.short_names),
                  full=res["full"].tolist(), corrupted=res["corrupt"].tolist())
    arrays = {k: res[k] for k in ("scores", "kept", "value", "full", "corrupt", "faithfulness",
                                  "importance", "curve", "random_curve", "cpr", "cmd")}
    report["faithfulness_curve"] = {
        "ranking": _RANKING[o.method], "sizes": list(range(len(units) + 1)),
        "curve": _nan_list(res["curve"]), "random": _nan_list(res["random_curve"])}
    if o.method in ("eap", "eap-ig"):
        arrays["exact"] = np.asarray(C.edge_effects(s, units, o.metric))
        report["correlation_with_exact"] = [_pearson(res["scores"][m], arrays["exact"][m])
                                            for m in range(len(model.names))]
    tau_sweep = front = None
    if o.method == "acdc":
        tau_sweep = res["sweep_size"], res["sweep_value"]
        report["tau_curve"] = {"taus": TAUS.tolist(), "size": tau_sweep[0].tolist(),
                               "metric": tau_sweep[1].tolist()}
    if o.method == "prune":
        front = res["front_size"], res["front_faithfulness"]
        report["front"] = {"targets": res["front_targets"].tolist(), "size": front[0].tolist(),
                           "faithfulness": _nan_list(front[1])}
    J = jaccard(res["kept"])
    report["members"] = _members(model, units, res)
    report["agreement"] = _agreement(units, res["kept"].astype(bool), J)
    over = _over_training(model, data, o) if o.over_training else None
    if over is not None:
        report["over_training"] = over.report()
    return Result(report, arrays, g, units, J, tau_sweep, over, front)


def _members(model: C.Model, units, res: dict) -> list[dict]:
    """report.json's `members`: per seed the circuit's size, metric and faithfulness, the
    units it keeps and every unit's score, {short name: score} in the units' order."""
    kept = res["kept"].astype(bool)
    names = _unit_keys(units)
    random_cpr = C.cpr_cmd(res["random_curve"])[0]
    return [{"name": n, "seed": sd, "size": int(kept[m].sum()), "metric": float(res["value"][m]),
             "faithfulness": _float(res["faithfulness"][m]), "cpr": _float(res["cpr"][m]),
             "cmd": _float(res["cmd"][m]), "cpr_random": _float(random_cpr[m]),
             "kept": [units.short_names[i] for i in np.flatnonzero(kept[m])],
             "scores": dict(zip(names, res["scores"][m].tolist()))}
            for m, (n, sd) in enumerate(zip(model.names, model.seeds))]


def _unit_keys(units) -> tuple[str, ...]:
    """The units' short names ("L0H2 -> L0MLP @b"), or their full names where two short names
    are the same."""
    short = units.short_names
    return short if len(set(short)) == len(short) else units.names


def _agreement(units, kept_MxN: np.ndarray, J: np.ndarray) -> dict:
    """report.json's `agreement`: the Jaccard matrix `J`, its mean off the diagonal, and the
    units every seed keeps and some seed keeps."""
    off = J[~np.eye(len(J), dtype=bool)]
    return {"jaccard": J.tolist(), "mean_jaccard": float(off.mean()) if off.size else 1.0,
            "kept_by_every_seed": [units.short_names[i] for i in np.flatnonzero(kept_MxN.all(0))],
            "kept_by_some_seed": [units.short_names[i] for i in np.flatnonzero(kept_MxN.any(0))]}


def _pearson(x: np.ndarray, y: np.ndarray) -> float | None:
    """The correlation of x and y; None where either is constant."""
    if np.std(x) == 0 or np.std(y) == 0:
        return None
    return float(np.corrcoef(x, y)[0, 1])


def _float(x) -> float | None:
    """x as a float; None where it is not finite."""
    return None if not np.isfinite(x) else float(x)


def _nan_list(x: np.ndarray) -> list:
    """An array as nested lists, None where it is not finite (JSON has no NaN)."""
    return np.where(np.isfinite(x), np.asarray(x, np.float64), None).tolist()


_RANKING = {"edges": "|score|", "eap": "|score|", "eap-ig": "|score|",
            "acdc": "the damage removing it adds when ACDC visits it (its circuit ranks first)",
            "prune": "log_alpha at --sparsity"}


def _over_training(model: C.Model, data: C.Inputs, o: Options) -> OverTraining:
    """The circuit method at every checkpoint of the run, on the same inputs, beside the
    finished run's test accuracy and grok steps. Reads checkpoints; writes nothing."""
    steps = open_run(model.run_dir).steps
    sizes, faith, values, cpr = [], [], [], []
    for st in steps:
        at = C.load(model.run_dir, st, o.seeds, o.task)
        s, g = C.setup(at, data, o.by_frequency)
        units = g.units(o.granularity)
        res = _scores(s, units, o, curves=False)
        sizes.append(res["kept"].sum(-1))
        faith.append(res["faithfulness"])
        values.append(res["value"])
        cpr.append(res["cpr"])
    sizes, faith, values, cpr = (np.asarray(x, np.float64) for x in (sizes, faith, values, cpr))
    finished = runs.read_finished(model.run_dir, "grokjax circuits --over-training")
    history, summary = finished.history, finished.summary
    by_seed = {e["seed"]: e for e in summary["seeds"]}
    grok = [by_seed.get(sd, {}).get("grok_step", -1) for sd in model.seeds]
    test_acc = np.asarray(history["test/acc"])[np.asarray(model.index)][..., -1].T
    return OverTraining(steps, sizes, faith, values, cpr, grok, np.asarray(history["step"]),
                        test_acc, len(units))


def _compute_patch(model: C.Model, data: C.Inputs, o: Options) -> Result:
    """TransformerLens's activation-patching tables, one per PATCH_KINDS, [M, ...] each, and
    the clean (`full`) and corrupted runs' metric [M]."""
    import jax
    import jax.numpy as jnp

    from grokjax.circuits import metrics
    clean, bad = model.tokens(data.operands), model.tokens(data.corrupt_operands)
    labels = model.labels(data.operands)
    tables = {k: np.asarray(C.act_patch(model.params, model.cfg, clean, bad, labels, kind=k,
                                        metric=o.metric, direction=o.direction,
                                        n_answers=model.p))
              for k in PATCH_KINDS}
    g = C.graph(model.cfg)
    full, corrupted = (np.asarray(jax.vmap(lambda lg, cl: metrics.value(
        o.metric, lg, cl, jnp.asarray(labels), model.p))(model(x), model(clean)))
        for x in (clean, bad))
    report = dict(_settings(model, data, o), direction=o.direction, positions=list(g.positions),
                  n_heads=g.n_heads, full=full.tolist(), corrupted=corrupted.tolist(),
                  tables={k: v.tolist() for k, v in tables.items()})
    return Result(report, tables, g)


def patch_fraction(table: np.ndarray, full: float, corrupted: float, direction: str
                   ) -> np.ndarray:
    """A patching table as the fraction of the way from the unpatched run's metric to the other
    run's: denoise (the corrupted run, one clean activation patched in) 0 restores nothing and
    1 all of the clean model's metric; noise (the clean run, one corrupted activation) 1 does
    all the corruption's damage. NaN where the two runs' metric is the same."""
    t = np.asarray(table, np.float64)
    start, end = (corrupted, full) if direction == "denoise" else (full, corrupted)
    return np.full_like(t, np.nan) if end == start else (t - start) / (end - start)


def patch_labels(kind: str, shape: tuple[int, ...], positions, n_heads: int) -> list[str]:
    """One member's table cells' names, in row-major order: 'L0 @b' ([layer, pos]),
    'L0H2 @b' ([layer, pos, head] and attn_head_pattern_by_pos's [layer, head, dest pos])."""
    out = []
    for idx in np.ndindex(*shape):
        if len(idx) == 2:
            out.append(f"L{idx[0]} @{positions[idx[1]]}")
        elif "pattern" in kind:
            out.append(f"L{idx[0]}H{idx[1]} @{positions[idx[2]]}")
        else:
            out.append(f"L{idx[0]}H{idx[2]} @{positions[idx[1]]}")
    return out


def _compute_clock_pizza(model: C.Model, o: Options) -> Result:
    """Zhong et al.'s gradient symmetricity and distance irrelevance per seed, and the verdict
    (grokjax.circuits.clock_pizza), on 1000 triples drawn with `o.seed` (0: 42)."""
    import jax
    import jax.numpy as jnp

    from grokjax import data as data_lib
    from grokjax.circuits import clock_pizza
    triples = clock_pizza.sample_triples(model.p, 1000, o.seed or 42)
    tokens, classes = jnp.asarray(model.tokens(triples[:, :2])), jnp.asarray(triples[:, 2])
    ab = data_lib.all_operands(model.p, 2)
    table, labels = jnp.asarray(model.tokens(ab)), jnp.asarray(model.labels(ab))
    sym = jax.jit(jax.vmap(lambda pm: clock_pizza.gradient_symmetricity(
        pm, model.cfg, tokens, classes)))(model.params)
    irr = jax.jit(jax.vmap(lambda pm: clock_pizza.distance_irrelevance(
        pm, model.cfg, table, labels, model.p)))(model.params)
    members = [{"name": n, "seed": sd, "gradient_symmetricity": float(a),
                "distance_irrelevance": float(b), "verdict": clock_pizza.verdict(a, b)}
               for n, sd, a, b in zip(model.names, model.seeds, np.asarray(sym), np.asarray(irr))]
    return Result({"run": str(model.run_dir), "step": model.step, "method": "clock-pizza",
                   "attn_rate": model.cfg.attn_rate, "task": model.task,
                   "triples": len(triples), "members": members}, {})


def _draw_circuits(result: Result, model: C.Model, o: Options, out_dir: pathlib.Path) -> None:
    """A circuit method's figures: tau.png (acdc), circuits.png, each seed's circuit-SEED.dot
    (written atomically) and, for more than one seed, agreement.png."""
    units, scores = result.units, result.arrays["scores"]
    kept = result.arrays["kept"].astype(bool)
    if result.tau_sweep is not None:
        circuit_draw.tau_curve(TAUS, *result.tau_sweep, len(units), o.metric, model.names,
                               out_dir / "tau.png", o.tau)
    title = (f"{o.method} ({o.granularity}, {o.metric}, tau {o.tau:g}, corrupt {o.corrupt}), "
             f"step {model.step}")
    circuit_draw.circuits(result.graph, units, kept, scores, model.names, title,
                          out_dir / "circuits.png")
    for m, n in enumerate(model.names):
        rundir.write_text(out_dir / f"circuit-{n}.dot",
                    circuit_draw.dot(result.graph, units, kept[m], scores[m], n))
    if len(model.names) > 1:
        circuit_draw.agreement(result.jaccard, model.names,
                               f"kept units, Jaccard index ({o.method})", out_dir / "agreement.png")
    a = result.arrays
    circuit_draw.faithfulness_curves(a["curve"], a["random_curve"], a["cpr"], model.names,
                                     f"{o.method} ({o.granularity}, {o.metric}): the top-k "
                                     f"units by {_RANKING[o.method]}, step {model.step}",
                                     out_dir / "faithfulness.png", result.front)


def _draw_over_training(over: OverTraining, model: C.Model, o: Options,
                        out_dir: pathlib.Path) -> None:
    """over-training.png: circuit size and faithfulness at every checkpoint, beside test
    accuracy and each seed's grok step."""
    circuit_draw.over_training(np.asarray(over.steps), over.sizes, over.faith, over.cpr,
                               over.history_steps, over.test_acc,
                               [s if s >= 0 else None for s in over.grok], over.n_units,
                               model.names, f"{o.method} ({o.granularity}, {o.metric}, "
                               f"tau {o.tau:g}) at every checkpoint",
                               out_dir / "over-training.png")


def _write_tensorboard(over: OverTraining, model: C.Model, o: Options) -> None:
    """The over-training size, faithfulness and metric into each member's TensorBoard run,
    under circuits/METHOD-GRANULARITY/."""
    tag = f"circuits/{o.method}-{o.granularity}"
    tensorboard.write_measures(model.run_dir, model.names, over.steps,
                               {f"{tag}/size": over.sizes, f"{tag}/faithfulness": over.faith,
                                f"{tag}/cpr": over.cpr, f"{tag}/{o.metric}": over.values},
                               f".{o.method}-{o.granularity}")
