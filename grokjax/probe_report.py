"""`grokjax probe RUN`: a probe report of a run's checkpoint, as JSON and PNG figures.

For every seed at the chosen step (default: the latest checkpoint): FFD, FCR and Gini of W_E and
W_L in the additive basis and, for a prime p, in the discrete-log (multiplicative) basis; the key
frequencies and the fraction of neurons one frequency explains; restricted and excluded loss;
the sum of squared weights; the phase marks of the run; and the embedding ablation: the accuracy
on all p^2 inputs intact, without each key frequency, and without all of them. Figures (for one
seed, `--seed`, with the other seeds as thin lines where curves are drawn): the Fourier spectra
of W_E and W_L (heatmap of the components and the per-frequency norms, in both bases), FFD and
FCR over training, restricted and excluded loss with the train and test loss, the Gini
coefficients and the weight norm, each with the phase marks.
"""

from __future__ import annotations

import pathlib

import jax
import jax.numpy as jnp
import numpy as np

from grokjax import figures, fourier, probes, rundir, summary
from grokjax.errors import GrokjaxError
from grokjax.run import load_state


def _grid(exp):
    data = exp.data()
    if data.grid_tokens is None:
        raise GrokjaxError("the grid measures need one two-variable task on every (a, b) with "
                           "probes on; this run's task or split has none (spectra only)")
    return data


def report(run: str | pathlib.Path, step: int | None = None) -> tuple[dict, dict]:
    """(report, arrays for the figures) of `run` at `step`."""
    run = pathlib.Path(run)
    state, meta, exp = load_state(run, step)
    spec = exp.scfg.probe
    if spec is None:
        raise GrokjaxError("this run has no probes (a transformer with probe.every > 0 and p >= 5)")
    params = jax.device_get(state.params)
    p, mcfg = spec.p, exp.scfg.mcfg
    spectral = jax.jit(jax.vmap(lambda prm: probes.spectral_measures(prm, p, eta=spec.eta)))(params)
    log = (jax.jit(jax.vmap(lambda prm: probes.spectral_measures(
        prm, p, eta=spec.eta, basis="multiplicative")))(params) if spec.multiplicative else {})
    out = {"run": str(run), "step": int(meta["step"]), "p": p, "task": exp.cfg.task,
           "grid_basis": spec.grid_basis if spec.grid else None, "seeds": []}
    arrays = {"spectral": jax.device_get(spectral), "log": jax.device_get(log), "params": params}
    if spec.grid:
        data = _grid(exp)
        grid = jax.jit(jax.vmap(lambda prm, train: probes.nanda_measures(
            prm, mcfg, data.grid_tokens, data.grid_labels, train, p, threshold=spec.threshold,
            direction=spec.direction, basis=spec.grid_basis)))(params, data.grid_train)
        K = fourier.n_freqs(p - 1 if spec.grid_basis == "multiplicative" else p)
        acc = jax.jit(jax.vmap(lambda prm, mask: probes.ablation_accuracy(
            prm, mcfg, data.grid_tokens, data.grid_labels, p, mask, spec.grid_basis),
            in_axes=(None, 0)))
        ablations = []
        for i in range(len(exp.seeds)):
            one = jax.tree.map(lambda x: x[i], params)
            masks = jnp.concatenate([jnp.zeros((1, K), bool), jnp.eye(K, dtype=bool),
                                     grid["key_freqs"][i][None]])
            ablations.append(np.asarray(acc(one, masks)))
        grid = jax.device_get(grid)
    history = rundir.read_npz(run / "history.npz") if (run / "history.npz").exists() else None
    for i, seed in enumerate(exp.seeds):
        entry = {"seed": seed}
        for key in ("ffd/W_E", "fcr/W_E", "gini/W_E", "ffd/W_L", "fcr/W_L", "gini/W_L",
                    "sum_sq_weights"):
            entry[key] = float(spectral[key][i])
        for key in ("ffd/W_E", "fcr/W_E", "ffd/W_L", "fcr/W_L"):
            if log:
                entry[f"log/{key}"] = float(log[key][i])
        if spec.grid:
            keys = [int(k) + 1 for k in np.flatnonzero(grid["key_freqs"][i])]
            a = ablations[i]
            entry.update({
                "key_freqs": keys, "neurons_explained": float(grid["neurons_explained"][i]),
                "restricted_loss": float(grid["restricted_loss"][i]),
                "excluded_loss": float(grid["excluded_loss"][i]),
                "ablation": {"intact_acc": float(a[0]),
                             "without_each_key_freq_acc": {k: float(a[k]) for k in keys},
                             "without_all_key_freqs_acc": float(a[-1]),
                             "without_one_other_freq_min_acc": float(
                                 min((a[k] for k in range(1, len(a) - 1) if k not in keys),
                                     default=float("nan")))}})
        if history is not None and "mem_step" in history:
            entry["phases"] = summary.phases(history, i)
        out["seeds"].append(entry)
    arrays["history"] = history
    return out, arrays


def write(run: str | pathlib.Path, step: int | None = None, seed: int | None = None,
          out_dir: str | pathlib.Path | None = None) -> pathlib.Path:
    """Writes RUN/probes/report-<step>.json and the figures; returns the output directory."""
    from grokjax import plots  # pylint: disable=import-outside-toplevel  (matplotlib)
    run = pathlib.Path(run)
    rep, arrays = report(run, step)
    seeds = [e["seed"] for e in rep["seeds"]]
    if seed is not None and seed not in seeds:
        raise GrokjaxError(f"--seed {seed} is not a seed of this run ({seeds})")
    i = seeds.index(seed) if seed is not None else 0
    out = pathlib.Path(out_dir) if out_dir else run / "probes"
    out.mkdir(parents=True, exist_ok=True)
    tag = f"step{rep['step']}"
    rundir.write_json(out / f"report-{tag}.json", rep)
    name = figures.title(rundir.read_json(run / "config.json"), len(seeds),
                         rundir.read_json(run / "summary.json", default={}).get("grid"))
    one = jax.tree.map(lambda x: np.asarray(x)[i], arrays["params"])
    plots.spectra(one, rep["p"], f"{name}; step {rep['step']}; seed {seeds[i]}",
                  out / f"spectra-{tag}-seed{seeds[i]}.png", multiplicative=bool(arrays["log"]))
    history = arrays["history"]
    if history is not None and "probe/step" in history:
        plots.measure_curves(history, f"{name}; seed {seeds[i]} bold",
                             out / f"curves-seed{seeds[i]}.png",
                             plots.phase_marks(rep["seeds"][i].get("phases")), highlight=i)
    return out
