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
"""

from __future__ import annotations

import json
import pathlib

import numpy as np

from grokjax import circuits as C
from grokjax.errors import GrokjaxError
from grokjax.monitor import tensorboard
from grokjax.report import circuit_draw, runs
from grokjax.store import rundir

METHODS = ("acdc", "edges", "eap", "eap-ig", "patch", "clock-pizza")
TAUS = np.logspace(-4, 0.5, 19)  # ACDC's sweep, 10^-2..10^0.5, widened down to 1e-4
PATCH_KINDS = ("resid_pre", "attn_out", "mlp_out", "attn_head_out_by_pos",
               "attn_head_v_by_pos", "attn_head_pattern_by_pos")


def jaccard(kept_MxN: np.ndarray) -> np.ndarray:
    """[M, M] |A & B| / |A | B| of the members' kept units (1 where both are empty)."""
    k = kept_MxN.astype(bool)
    inter = (k[:, None] & k[None]).sum(-1)
    union = (k[:, None] | k[None]).sum(-1)
    return np.where(union > 0, inter / np.maximum(union, 1), 1.0)


def _scores(s, units, method: str, metric: str, tau: float, ig_steps: int) -> dict:
    """One method at one step: scores [M, n], kept [M, n], the circuit's metric [M], ..."""
    if method == "acdc":
        r = C.acdc(s, units, metric, tau)
        out = {"scores": np.asarray(r.deltas), "kept": np.asarray(r.kept)}
    else:
        if method == "edges":
            scores = C.edge_effects(s, units, metric)
        else:
            scores = C.eap_ig(s, units, metric, ig_steps if method == "eap-ig" else 1)
        out = {"scores": np.asarray(scores), "kept": np.abs(np.asarray(scores)) >= tau}
    out["value"] = np.asarray(C.evaluate(s, out["kept"].astype(np.float32), units, metric))
    full, corrupt = (np.asarray(x) for x in C.full_and_corrupt(s, units, metric))
    out.update(full=full, corrupt=corrupt,
               faithfulness=np.asarray(C.faithfulness(out["value"], full, corrupt)))
    return out


def _pearson(x: np.ndarray, y: np.ndarray) -> float | None:
    if np.std(x) == 0 or np.std(y) == 0:
        return None
    return float(np.corrcoef(x, y)[0, 1])


def write(run: str, method: str = "acdc", *, step: int | None = None,
          seeds: list[int] | None = None, corrupt: str = "shuffle", metric: str = "kl",
          tau: float = 0.01, granularity: str = "edges", by_frequency: bool = False,
          examples: int = 0, ig_steps: int = 10, direction: str = "denoise",
          over_training: bool = False, task: str | None = None, seed: int = 0,
          out: str | None = None) -> pathlib.Path:
    """Runs `method` on a run's checkpoint and writes the report, arrays and figures."""
    if method not in METHODS:
        raise GrokjaxError(f"--method {method!r} is not one of {', '.join(METHODS)}")
    if metric not in C.METRICS:
        raise GrokjaxError(f"--metric {metric!r} is not one of {', '.join(C.METRICS)}")
    if granularity not in C.GRANULARITIES:
        raise GrokjaxError(f"--granularity {granularity!r} is not one of "
                           f"{', '.join(C.GRANULARITIES)}")
    if method == "clock-pizza":
        return _write_clock_pizza(run, step, seeds, task, seed, out)
    if method == "patch" and (over_training or by_frequency):
        raise GrokjaxError("--method patch makes TransformerLens's tables at one step; "
                           "--over-training and --by-frequency are for the circuit methods")
    if method == "patch" and corrupt in ("mean", "zero"):
        raise GrokjaxError("--method patch patches activations of a corrupted input: give an "
                           "input corruption (--corrupt shuffle, resample-b, b+1, a+1, swap)")
    run_dir = rundir.require(run)
    model = C.load(run_dir, step, seeds, task)
    name = "-".join([method] + ([] if method == "patch" else [granularity])
                    + (["freq"] if by_frequency else []) + ([] if metric == "kl" else [metric])
                    + ([] if corrupt == "shuffle" else [corrupt]))
    out_dir = pathlib.Path(out) if out else run_dir / "circuits" / name
    out_dir.mkdir(parents=True, exist_ok=True)
    data = C.inputs(model, corrupt, examples, seed)
    settings = {"run": str(run_dir), "step": model.step, "method": method, "metric": metric,
                "corrupt": corrupt, "task": model.task, "examples": len(data.operands),
                "members": model.names, "seeds": model.seeds}
    if method == "patch":
        return _write_patch(model, data, metric, direction, settings, out_dir)
    s, g = C.setup(model, data, by_frequency)
    units = g.units(granularity)
    res = _scores(s, units, method, metric, tau, ig_steps)
    settings.update(granularity=granularity, tau=tau, by_frequency=by_frequency,
                    n_units=len(units), mlp_groups=list(g.mlp_groups))
    if method == "eap-ig":
        settings["ig_steps"] = ig_steps
    report = dict(settings, units=list(units.names), units_short=list(units.short_names),
                  full=res["full"].tolist(), corrupted=res["corrupt"].tolist())
    arrays = {k: res[k] for k in ("scores", "kept", "value", "full", "corrupt", "faithfulness")}
    if method in ("eap", "eap-ig"):
        exact = np.asarray(C.edge_effects(s, units, metric))
        arrays["exact"] = exact
        report["correlation_with_exact"] = [_pearson(res["scores"][m], exact[m])
                                            for m in range(len(model.names))]
    if method == "acdc":
        r = C.acdc(s, units, metric, TAUS)
        sizes, values = np.asarray(r.kept).sum(-1), np.asarray(r.value)
        report["tau_curve"] = {"taus": TAUS.tolist(), "size": sizes.tolist(),
                               "metric": values.tolist()}
        circuit_draw.tau_curve(TAUS, sizes, values, len(units), metric, model.names,
                               out_dir / "tau.png")
    J = jaccard(res["kept"])
    kept = res["kept"].astype(bool)
    report["members"] = [
        {"name": n, "seed": sd, "size": int(kept[m].sum()), "metric": float(res["value"][m]),
         "faithfulness": _float(res["faithfulness"][m]),
         "kept": [units.short_names[i] for i in np.flatnonzero(kept[m])],
         "scores": res["scores"][m].tolist()}
        for m, (n, sd) in enumerate(zip(model.names, model.seeds))]
    off = J[~np.eye(len(J), dtype=bool)]
    report["agreement"] = {
        "jaccard": J.tolist(), "mean_jaccard": float(off.mean()) if off.size else 1.0,
        "kept_by_every_seed": [units.short_names[i] for i in np.flatnonzero(kept.all(0))],
        "kept_by_some_seed": [units.short_names[i] for i in np.flatnonzero(kept.any(0))]}
    title = f"{method} ({granularity}, {metric}, tau {tau:g}, corrupt {corrupt}), step {model.step}"
    circuit_draw.circuits(g, units, kept, model.names, title, out_dir / "circuits.png")
    for m, n in enumerate(model.names):
        (out_dir / f"circuit-{n}.dot").write_text(
            circuit_draw.dot(g, units, kept[m], res["scores"][m], n))
    if len(model.names) > 1:
        circuit_draw.agreement(J, model.names, f"kept units, Jaccard index ({method})",
                               out_dir / "agreement.png")
    if over_training:
        report["over_training"] = _over_training(model, data, method, metric, tau, granularity,
                                                 by_frequency, ig_steps, seeds, task, out_dir)
    (out_dir / "report.json").write_text(json.dumps(report, indent=1))
    np.savez(out_dir / "arrays.npz", **arrays)
    return out_dir


def _float(x) -> float | None:
    return None if not np.isfinite(x) else float(x)


def _over_training(model, data, method, metric, tau, granularity, by_frequency, ig_steps,
                   seeds, task, out_dir: pathlib.Path) -> dict:
    """The method at every checkpoint: size and faithfulness [steps, M]; figure and TensorBoard."""
    steps = C.checkpoint_steps(model.run_dir)
    sizes, faith, values = [], [], []
    for st in steps:
        at = C.load(model.run_dir, st, seeds, task)
        s, g = C.setup(at, data, by_frequency)
        res = _scores(s, g.units(granularity), method, metric, tau, ig_steps)
        sizes.append(res["kept"].sum(-1))
        faith.append(res["faithfulness"])
        values.append(res["value"])
    sizes, faith, values = (np.asarray(x, np.float64) for x in (sizes, faith, values))
    finished = runs.read_finished(model.run_dir, "grokjax circuits --over-training")
    history, summary = finished["history"], finished["summary"]
    by_seed = {e["seed"]: e for e in summary["seeds"]}
    grok = [by_seed.get(sd, {}).get("grok_step", -1) for sd in model.seeds]
    test_acc = np.asarray(history["test/acc"])[np.asarray(model.index)][..., -1].T
    n_units = len(g.units(granularity))
    circuit_draw.over_training(np.asarray(steps), sizes, faith, np.asarray(history["step"]),
                               test_acc, [s if s >= 0 else None for s in grok], n_units,
                               model.names, f"{method} ({granularity}, {metric}, tau {tau:g}) "
                               "at every checkpoint", out_dir / "over-training.png")
    tag = f"circuits/{method}-{granularity}"
    tensorboard.write_measures(model.run_dir, model.names, steps,
                               {f"{tag}/size": sizes, f"{tag}/faithfulness": faith,
                                f"{tag}/{metric}": values}, f".{method}-{granularity}")
    result = {"steps": steps, "size": sizes.tolist(),
              "faithfulness": np.where(np.isfinite(faith), faith, np.nan).tolist(),
              "metric": values.tolist(), "grok_step": grok}
    (out_dir / "over-training.json").write_text(json.dumps(result, indent=1))
    return result


def _write_patch(model, data, metric, direction, settings, out_dir) -> pathlib.Path:
    clean, bad = model.tokens(data.operands), model.tokens(data.corrupt_operands)
    labels = model.labels(data.operands)
    tables = {k: np.asarray(C.act_patch(model.params, model.cfg, clean, bad, labels, kind=k,
                                        metric=metric, direction=direction, n_answers=model.p))
              for k in PATCH_KINDS}
    g = C.graph(model.cfg)
    circuit_draw.patching(tables, g, model.names, metric, direction, out_dir / "patching.png")
    report = dict(settings, direction=direction, positions=list(g.positions),
                  tables={k: v.tolist() for k, v in tables.items()})
    (out_dir / "report.json").write_text(json.dumps(report, indent=1))
    np.savez(out_dir / "arrays.npz", **tables)
    return out_dir


def _write_clock_pizza(run, step, seeds, task, seed, out) -> pathlib.Path:
    import jax
    import jax.numpy as jnp

    from grokjax import data as data_lib
    from grokjax.circuits import clock_pizza
    model = C.load(rundir.require(run), step, seeds, task)
    out_dir = pathlib.Path(out) if out else model.run_dir / "circuits" / "clock-pizza"
    out_dir.mkdir(parents=True, exist_ok=True)
    triples = clock_pizza.sample_triples(model.p, 1000, seed or 42)
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
    report = {"run": str(model.run_dir), "step": model.step, "method": "clock-pizza",
              "attn_rate": model.cfg.attn_rate, "task": model.task, "triples": len(triples),
              "members": members}
    (out_dir / "report.json").write_text(json.dumps(report, indent=1))
    return out_dir
