"""`grokjax circuits RUN`: which heads, neurons and paths carry the answer, for every seed.

    grokjax circuits RUN --method acdc [--tau 0.01] [--metric kl] [--corrupt shuffle]
    grokjax circuits RUN --method eap|eap-ig|edges [--granularity edges|edges-nopos|nodes]
    grokjax circuits RUN --method patch [--direction denoise|noise]
    grokjax circuits RUN --method acdc --by-frequency        # the MLP split by key frequency
    grokjax circuits RUN --method acdc --over-training       # at every checkpoint
    grokjax circuits RUN --method clock-pizza                # Zhong et al.'s two measures

writes RUN/circuits/METHOD-GRANULARITY[-freq][-METRIC][-CORRUPTION]/ (the last two where they
are not the defaults kl and shuffle; or --out):

    report.json   per seed: every unit's score; the circuit kept (its units, size, metric and
                  faithfulness); the full and corrupted model's metric; agreement across seeds
                  (the Jaccard index of kept units, and the units every seed keeps); for
                  eap/eap-ig the exact edge effects beside the estimates and their correlation
    arrays.npz    the same as arrays, [seeds, units]
    circuits.png  each seed's circuit as a graph; circuit-SEED.dot the DOT text
    tau.png       (acdc) circuit size and metric against tau, from one vmapped ACDC run
    agreement.png the Jaccard matrix across seeds
    patching.png  (patch) TransformerLens's heatmaps, one row per seed
    (clock-pizza) report.json: per seed the gradient symmetricity, the distance irrelevance
                  and the verdict (grokjax.circuits.clock_pizza)
    over-training.json/.png   circuit size and faithfulness at every checkpoint, beside test
                  accuracy and each seed's grok step; also in TensorBoard under circuits/

ACDC keeps a unit when removing it from the current circuit adds at least tau to the damage
(KL or loss; minus logit difference or accuracy). For edge effects and the EAP estimates, the
circuit is the units whose |score| is at least tau.

`write` is the command: `validate` checks the `Options`, `compute` runs the method (it reads
checkpoints and writes nothing), `draw` makes the figures and `save` writes the rest; every
file but the figures goes through the store's atomic writers (grokjax.store.rundir).
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

METHODS = ("acdc", "edges", "eap", "eap-ig", "patch", "clock-pizza")
TAUS = np.logspace(-4, 0.5, 19)  # ACDC's sweep, 10^-2..10^0.5, widened down to 1e-4
PATCH_KINDS = ("resid_pre", "attn_out", "mlp_out", "attn_head_out_by_pos",
               "attn_head_v_by_pos", "attn_head_pattern_by_pos")


@dataclasses.dataclass(frozen=True)
class Options:
    """`grokjax circuits`' options: which checkpoint and members, the method and its settings,
    the inputs and their corruption, and where the files go (`out`, default the run's
    circuits directory)."""
    method: str = "acdc"
    step: int | None = None
    seeds: list[int] | None = None
    corrupt: str = "shuffle"
    metric: str = "kl"
    tau: float = 0.01
    granularity: str = "edges"
    by_frequency: bool = False
    examples: int = 0
    ig_steps: int = 10
    direction: str = "denoise"
    over_training: bool = False
    task: str | None = None
    seed: int = 0
    out: str | None = None

    @property
    def name(self) -> str:
        """The output directory's name: clock-pizza, patch[-METRIC][-CORRUPTION], or
        METHOD-GRANULARITY[-freq][-METRIC][-CORRUPTION] (METRIC and CORRUPTION where they are
        not the defaults kl and shuffle)."""
        if self.method == "clock-pizza":
            return "clock-pizza"
        return "-".join([self.method] + ([] if self.method == "patch" else [self.granularity])
                        + (["freq"] if self.by_frequency else [])
                        + ([] if self.metric == "kl" else [self.metric])
                        + ([] if self.corrupt == "shuffle" else [self.corrupt]))


@dataclasses.dataclass(frozen=True)
class OverTraining:
    """A circuit method at every checkpoint: circuit size, faithfulness and metric [steps, M],
    beside the run's logged steps and test accuracy [M, P] and each seed's grok step (-1: none)."""
    steps: list[int]
    sizes: np.ndarray
    faith: np.ndarray
    values: np.ndarray
    grok: list[int]
    history_steps: np.ndarray
    test_acc: np.ndarray
    n_units: int

    def report(self) -> dict:
        """over-training.json's dict (also report.json's `over_training`)."""
        return {"steps": self.steps, "size": self.sizes.tolist(),
                "faithfulness": np.where(np.isfinite(self.faith), self.faith, np.nan).tolist(),
                "metric": self.values.tolist(), "grok_step": self.grok}


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


def write(run: str, method: str = "acdc", **options) -> pathlib.Path:
    """`grokjax circuits RUN`: checks the options (`Options`' fields, as keywords), runs
    `method` on the run's checkpoint, draws the figures and writes the files; returns the
    directory they are in."""
    o = Options(method=method, **options)
    validate(o)
    model = C.load(rundir.require(run), o.step, o.seeds, o.task)
    result = compute(model, o)
    out_dir = pathlib.Path(o.out) if o.out else RunFiles(model.run_dir).circuits / o.name
    out_dir.mkdir(parents=True, exist_ok=True)
    draw(result, model, o, out_dir)
    save(result, model, o, out_dir)
    return out_dir


def validate(o: Options) -> None:
    """Raises a one-line GrokjaxError for an unknown method, metric or granularity, and for
    options --method patch cannot take. (grokjax.circuits checks the corruption, the step and
    the seeds as it reads them.)"""
    if o.method not in METHODS:
        raise GrokjaxError(f"--method {o.method!r} is not one of {', '.join(METHODS)}")
    if o.metric not in C.METRICS:
        raise GrokjaxError(f"--metric {o.metric!r} is not one of {', '.join(C.METRICS)}")
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
        circuit_draw.patching(result.arrays, result.graph, model.names, o.metric, o.direction,
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


def jaccard(kept_MxN: np.ndarray) -> np.ndarray:
    """[M, M] |A & B| / |A | B| of the members' kept units (1 where both are empty)."""
    k = kept_MxN.astype(bool)
    inter = (k[:, None] & k[None]).sum(-1)
    union = (k[:, None] | k[None]).sum(-1)
    return np.where(union > 0, inter / np.maximum(union, 1), 1.0)


def _scores(s, units, o: Options) -> dict:
    """One circuit method at one step: scores [M, n], kept [M, n], the circuit's metric
    `value` [M], the full and corrupted model's metric [M] and the faithfulness [M]."""
    if o.method == "acdc":
        r = C.acdc(s, units, o.metric, o.tau)
        out = {"scores": np.asarray(r.deltas), "kept": np.asarray(r.kept)}
    else:
        if o.method == "edges":
            scores = C.edge_effects(s, units, o.metric)
        else:
            scores = C.eap_ig(s, units, o.metric, o.ig_steps if o.method == "eap-ig" else 1)
        out = {"scores": np.asarray(scores), "kept": np.abs(np.asarray(scores)) >= o.tau}
    out["value"] = np.asarray(C.evaluate(s, out["kept"].astype(np.float32), units, o.metric))
    full, corrupt = (np.asarray(x) for x in C.full_and_corrupt(s, units, o.metric))
    out.update(full=full, corrupt=corrupt,
               faithfulness=np.asarray(C.faithfulness(out["value"], full, corrupt)))
    return out


def _settings(model: C.Model, data: C.Inputs, o: Options) -> dict:
    """The head of report.json for the methods that patch inputs: run, step, method, metric,
    corruption, task, number of examples, members and their seeds."""
    return {"run": str(model.run_dir), "step": model.step, "method": o.method,
            "metric": o.metric, "corrupt": o.corrupt, "task": model.task,
            "examples": len(data.operands), "members": model.names, "seeds": model.seeds}


def _compute_circuit(model: C.Model, data: C.Inputs, o: Options) -> Result:
    """acdc, edges, eap or eap-ig: every unit's score and the circuit kept, per seed; for eap
    and eap-ig the exact edge effects beside them; for acdc the sweep over TAUS."""
    s, g = C.setup(model, data, o.by_frequency)
    units = g.units(o.granularity)
    res = _scores(s, units, o)
    report = dict(_settings(model, data, o), granularity=o.granularity, tau=o.tau,
                  by_frequency=o.by_frequency, n_units=len(units), mlp_groups=list(g.mlp_groups))
    if o.method == "eap-ig":
        report["ig_steps"] = o.ig_steps
    report.update(units=list(units.names), units_short=list(units.short_names),
                  full=res["full"].tolist(), corrupted=res["corrupt"].tolist())
    arrays = {k: res[k] for k in ("scores", "kept", "value", "full", "corrupt", "faithfulness")}
    if o.method in ("eap", "eap-ig"):
        arrays["exact"] = np.asarray(C.edge_effects(s, units, o.metric))
        report["correlation_with_exact"] = [_pearson(res["scores"][m], arrays["exact"][m])
                                            for m in range(len(model.names))]
    tau_sweep = None
    if o.method == "acdc":
        r = C.acdc(s, units, o.metric, TAUS)
        tau_sweep = np.asarray(r.kept).sum(-1), np.asarray(r.value)
        report["tau_curve"] = {"taus": TAUS.tolist(), "size": tau_sweep[0].tolist(),
                               "metric": tau_sweep[1].tolist()}
    J = jaccard(res["kept"])
    report["members"] = _members(model, units, res)
    report["agreement"] = _agreement(units, res["kept"].astype(bool), J)
    over = _over_training(model, data, o) if o.over_training else None
    if over is not None:
        report["over_training"] = over.report()
    return Result(report, arrays, g, units, J, tau_sweep, over)


def _members(model: C.Model, units, res: dict) -> list[dict]:
    """report.json's `members`: per seed the circuit's size, metric and faithfulness, the
    units it keeps and every unit's score."""
    kept = res["kept"].astype(bool)
    return [{"name": n, "seed": sd, "size": int(kept[m].sum()), "metric": float(res["value"][m]),
             "faithfulness": _float(res["faithfulness"][m]),
             "kept": [units.short_names[i] for i in np.flatnonzero(kept[m])],
             "scores": res["scores"][m].tolist()}
            for m, (n, sd) in enumerate(zip(model.names, model.seeds))]


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


def _over_training(model: C.Model, data: C.Inputs, o: Options) -> OverTraining:
    """The circuit method at every checkpoint of the run, on the same inputs, beside the
    finished run's test accuracy and grok steps. Reads checkpoints; writes nothing."""
    steps = open_run(model.run_dir).steps
    sizes, faith, values = [], [], []
    for st in steps:
        at = C.load(model.run_dir, st, o.seeds, o.task)
        s, g = C.setup(at, data, o.by_frequency)
        units = g.units(o.granularity)
        res = _scores(s, units, o)
        sizes.append(res["kept"].sum(-1))
        faith.append(res["faithfulness"])
        values.append(res["value"])
    sizes, faith, values = (np.asarray(x, np.float64) for x in (sizes, faith, values))
    finished = runs.read_finished(model.run_dir, "grokjax circuits --over-training")
    history, summary = finished.history, finished.summary
    by_seed = {e["seed"]: e for e in summary["seeds"]}
    grok = [by_seed.get(sd, {}).get("grok_step", -1) for sd in model.seeds]
    test_acc = np.asarray(history["test/acc"])[np.asarray(model.index)][..., -1].T
    return OverTraining(steps, sizes, faith, values, grok, np.asarray(history["step"]),
                        test_acc, len(units))


def _compute_patch(model: C.Model, data: C.Inputs, o: Options) -> Result:
    """TransformerLens's activation-patching tables, one per PATCH_KINDS, [M, ...] each."""
    clean, bad = model.tokens(data.operands), model.tokens(data.corrupt_operands)
    labels = model.labels(data.operands)
    tables = {k: np.asarray(C.act_patch(model.params, model.cfg, clean, bad, labels, kind=k,
                                        metric=o.metric, direction=o.direction,
                                        n_answers=model.p))
              for k in PATCH_KINDS}
    g = C.graph(model.cfg)
    report = dict(_settings(model, data, o), direction=o.direction, positions=list(g.positions),
                  tables={k: v.tolist() for k, v in tables.items()})
    return Result(report, tables, g)


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
                               out_dir / "tau.png")
    title = (f"{o.method} ({o.granularity}, {o.metric}, tau {o.tau:g}, corrupt {o.corrupt}), "
             f"step {model.step}")
    circuit_draw.circuits(result.graph, units, kept, model.names, title, out_dir / "circuits.png")
    for m, n in enumerate(model.names):
        rundir.write_text(out_dir / f"circuit-{n}.dot",
                    circuit_draw.dot(result.graph, units, kept[m], scores[m], n))
    if len(model.names) > 1:
        circuit_draw.agreement(result.jaccard, model.names,
                               f"kept units, Jaccard index ({o.method})", out_dir / "agreement.png")


def _draw_over_training(over: OverTraining, model: C.Model, o: Options,
                        out_dir: pathlib.Path) -> None:
    """over-training.png: circuit size and faithfulness at every checkpoint, beside test
    accuracy and each seed's grok step."""
    circuit_draw.over_training(np.asarray(over.steps), over.sizes, over.faith,
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
                                f"{tag}/{o.metric}": over.values}, f".{o.method}-{o.granularity}")
