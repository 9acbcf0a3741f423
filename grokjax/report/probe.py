"""`grokjax probe RUN`: a probe report of a run's checkpoint, as JSON and PNG figures.

For every seed at the chosen step (default: the latest checkpoint): FFD, FCR and Gini of W_E and
W_L in the additive basis and, for a prime p, in the discrete-log (multiplicative) basis; the key
frequencies and the fraction of neurons one frequency explains; restricted and excluded loss;
the sum of squared weights; the phase marks of the run; the share of the logits' variance that
sum_k alpha_k cos(w_k(a+b-c)) over the key frequencies explains; and the embedding ablation: the
accuracy on all p^2 inputs intact, without each key frequency, without all of them, and with
only them (every member and every ablation in one compiled program). Figures (for one
seed, `--seed`, with the other seeds as thin lines where curves are drawn): the Fourier spectra
of W_E and W_L (heatmap of the components and the per-frequency norms, in both bases), FFD and
FCR over training, restricted and excluded loss with the train and test loss, the Gini
coefficients and the weight norm, each with the phase marks. The discrete-log panels of the
spectra are drawn for multiplicative tasks only (draw.shows_discrete_log).

`terminal_lines` is what `grokjax probe` prints: one row per seed with its key frequencies,
its restricted and excluded loss, the ablation accuracies and its phases.

A run on a group (S5: `Task.group`) has no Fourier basis over Z/p; its report is the share of
W_E's variance (and of W_U's, over the elements' columns) in each irreducible representation's
matrix elements (grokjax.probes.representations, after Chughtai et al. 2023), beside the share
a random embedding has, for every seed; `group_lines` prints it.
"""

from __future__ import annotations

import pathlib

import jax
import jax.numpy as jnp
import numpy as np

from grokjax import summary
from grokjax.errors import GrokjaxError
from grokjax.probes import fourier, measures, representations
from grokjax.report import draw, runs
from grokjax.saved import open_run
from grokjax.store import files, rundir

_SCALARS = ("ffd/W_E", "fcr/W_E", "gini/W_E", "ffd/W_L", "fcr/W_L", "gini/W_L", "sum_sq_weights")
_LOG_SCALARS = ("ffd/W_E", "fcr/W_E", "ffd/W_L", "fcr/W_L")


def _table(exp):
    data = exp.data()
    if data.table_tokens is None:
        raise GrokjaxError("the table measures need one two-variable task on every (a, b) with "
                           "probes on; this run's task or split has none (spectra only)")
    return data


def ablations(params, key_freqs, data, spec, mcfg, batching: str) -> np.ndarray:
    """[M, K+3] accuracy on the whole (a, b) table of every member: intact, without each
    frequency k = 1..K of the embedding, without all its key frequencies, and with only them
    (every other frequency removed; Nanda et al. 2023 §4's ablations); one program over
    the members (lifted as the run's training is: lax.map on CPU, vmap elsewhere) and the
    ablations (lax.map in batches of 8, so memory stays that of 8 table passes per member)."""
    K = fourier.n_freqs(spec.p - 1 if spec.table_basis == "multiplicative" else spec.p)
    single = jnp.concatenate([jnp.zeros((1, K), bool), jnp.eye(K, dtype=bool)])

    def member(prm, keys):
        masks = jnp.concatenate([single, keys[None], ~keys[None]])
        return jax.lax.map(lambda mask: measures.ablation_accuracy(
            prm, mcfg, data.table_tokens, data.table_labels, spec.p, mask, spec.table_basis),
            masks, batch_size=8)

    over = jax.vmap(member) if batching == "vmap" else (
        lambda prm, keys: jax.lax.map(lambda args: member(*args), (prm, keys)))
    return np.asarray(jax.jit(over)(params, key_freqs))


def group_task(exp):
    """The group a run's single task is on (e.g. 'S5'), or None."""
    tasks = exp.dataset.tasks
    return tasks[0].group if len(tasks) == 1 and getattr(tasks[0], "group", None) else None


def group_report(run: str | pathlib.Path, step: int | None = None) -> dict:
    """Every member's irrep shares of W_E's rows and W_U's columns for the group's elements
    (tokens 0 .. |G|-1), with the shares of a random embedding."""
    saved = open_run(run)
    restored, exp = saved.restore(step), saved.experiment
    order = exp.cfg.p  # the group's elements are the tokens 0 .. p-1
    params = jax.device_get(restored.state.params)
    w_e = np.asarray(params["embed"]["W_E"])[:, :order]  # [M, |G|, D]
    w_u = np.swapaxes(np.asarray(params["unembed"]["W_U"])[..., :order], -1, -2)
    names = [r.label for r in representations.irreps(representations.degree(order))]
    shares = {k: np.asarray(representations.irrep_variance(jnp.asarray(w)))
              for k, w in (("W_E", w_e), ("W_U", w_u))}
    chance = representations.chance_shares(representations.degree(order))
    return {"run": str(run), "step": restored.step, "task": exp.cfg.task,
            "group": group_task(exp), "irreps": names,
            "chance": {n: float(c) for n, c in zip(names, chance)},
            "seeds": [{"seed": seed, **{f"irreps/{k}": {n: float(v[i, j])
                                                        for j, n in enumerate(names)}
                                        for k, v in shares.items()}}
                      for i, seed in enumerate(exp.member_seeds)]}


def group_lines(rep: dict) -> list[str]:
    """What `grokjax probe` prints for a group run: per seed, W_E's share in each irrep."""
    names = rep["irreps"]
    short = [n.split(" (")[0] if " (" in n else n for n in names]
    lines = [f"probe report at step {rep['step']}: task {rep['task']} on {rep['group']}; "
             "share of W_E's variance in each irreducible representation",
             "seed  " + "  ".join(f"{s[:12]:>12}" for s in short),
             "chance" + "  ".join(f"{rep['chance'][n]:>12.3f}" for n in names)]
    for e in rep["seeds"]:
        lines.append(f"{e['seed']:>4}  " + "  ".join(f"{e['irreps/W_E'][n]:>12.3f}"
                                                    for n in names))
    return lines


def report(run: str | pathlib.Path, step: int | None = None) -> tuple[dict, dict]:
    """(report, arrays for the figures) of `run` at `step`."""
    saved = open_run(run)
    restored, exp = saved.restore(step), saved.experiment
    spec = exp.scfg.probe
    if spec is None and group_task(exp):
        raise GrokjaxError("this run is on a group, which has no Fourier probes: "
                           "probe.group_report reads its irreducible representations")
    if spec is None:
        raise GrokjaxError("this run has no probes (a transformer with probe.every > 0 and p >= 5)")
    params = jax.device_get(restored.state.params)
    p, mcfg = spec.p, exp.scfg.mcfg
    spectral = jax.device_get(jax.jit(jax.vmap(
        lambda prm: measures.spectral_measures(prm, p, eta=spec.eta)))(params))
    log = (jax.device_get(jax.jit(jax.vmap(lambda prm: measures.spectral_measures(
        prm, p, eta=spec.eta, basis="multiplicative")))(params)) if spec.multiplicative else {})
    out = {"run": str(run), "step": restored.step, "p": p, "task": exp.cfg.task,
           "grid_basis": spec.table_basis if spec.table else None, "seeds": []}
    arrays = {"spectral": spectral, "log": log, "params": params}
    if spec.table:
        data = _table(exp)
        table = jax.device_get(jax.jit(jax.vmap(lambda prm, train: measures.table_measures(
            prm, data.table_tokens, data.table_labels, train, mcfg, spec, keys_only=True)))(
                params, data.table_train))
        accs = ablations(params, table["key_freqs"], data, spec, mcfg, exp.batching)
    history = saved.history if saved.has_history else None
    for i, seed in enumerate(exp.member_seeds):
        entry = {"seed": seed, **{key: float(spectral[key][i]) for key in _SCALARS}}
        if log:
            entry.update({f"log/{key}": float(log[key][i]) for key in _LOG_SCALARS})
        if spec.table:
            entry.update(_table_entry(table, accs[i], i))
        if history is not None and "mem_step" in history:
            entry["phases"] = summary.phases(history, i)
        out["seeds"].append(entry)
    arrays["history"] = history
    return out, arrays


def _table_entry(table: dict, acc: np.ndarray, i: int) -> dict:
    """Member i's key frequencies, the neurons they explain, its losses and ablations."""
    keys = [int(k) + 1 for k in np.flatnonzero(table["key_freqs"][i])]
    return {
        "key_freqs": keys, "neurons_explained": float(table["neurons_explained"][i]),
        "logits_explained": float(table["logits_explained"][i]),
        "restricted_loss": float(table["restricted_loss"][i]),
        # Furuta's (App. E): only the key frequencies' components, no per-class constant
        "restricted_loss_keys_only": float(table["restricted_loss_keys_only"][i]),
        "excluded_loss": float(table["excluded_loss"][i]),
        "ablation": {"intact_acc": float(acc[0]),
                     "without_each_key_freq_acc": {k: float(acc[k]) for k in keys},
                     "without_all_key_freqs_acc": float(acc[-2]),
                     "without_all_other_freqs_acc": float(acc[-1]),
                     "without_one_other_freq_min_acc": float(
                         min((acc[k] for k in range(1, len(acc) - 2) if k not in keys),
                             default=float("nan")))}}


def over_training(run: str | pathlib.Path) -> dict:
    """Nanda's restricted and excluded loss over training as his paper computes them: with the
    key frequencies of the final model (the latest checkpoint), at every saved checkpoint.
    (The in-training probes choose the key frequencies afresh at each probe step; before the
    circuit has formed no neuron passes the threshold, so their restricted loss sits near
    log p and their excluded loss equals the train loss.) The resolution is the run's
    checkpoints: train with a smaller checkpoint.save_every (and a larger checkpoint.keep) for
    a denser curve. Returns {'steps', 'key_freqs' per member, 'restricted_loss' and
    'excluded_loss' [Q, M]}."""
    saved = open_run(run)
    exp = saved.experiment
    spec = exp.scfg.probe
    if spec is None or not spec.table:
        raise GrokjaxError("over-training measures need Nanda's (a, b) table measures: one "
                           "two-variable task on every (a, b), with probes on")
    data, mcfg = _table(exp), exp.scfg.mcfg
    final = saved.restore().state.params  # the final model's key frequencies, [M, K]:
    found = jax.device_get(jax.jit(jax.vmap(lambda prm, train: measures.table_measures(
        prm, data.table_tokens, data.table_labels, train, mcfg, spec)))(
            final, data.table_train))["key_freqs"]
    measure = jax.jit(jax.vmap(lambda prm, train, keys: measures.table_measures(
        prm, data.table_tokens, data.table_labels, train, mcfg, spec, keys)))
    steps = saved.steps
    out = {"steps": steps, "key_freqs": [[int(k) + 1 for k in np.flatnonzero(m)] for m in found],
           "restricted_loss": [], "excluded_loss": []}
    for step in steps:
        params = saved.restore(step).state.params
        got = jax.device_get(measure(params, data.table_train, jnp.asarray(found)))
        out["restricted_loss"].append([float(v) for v in got["restricted_loss"]])
        out["excluded_loss"].append([float(v) for v in got["excluded_loss"]])
    return out


def write(run: str | pathlib.Path, step: int | None = None, seed: int | None = None,
          out_dir: str | pathlib.Path | None = None, final_keys: bool = False) -> pathlib.Path:
    """Writes RUN/probes/report-<step>.json and the figures (with `final_keys` also
    final-keys.json and its figure, `over_training`); returns the output directory."""
    saved = open_run(run)
    if group_task(saved.experiment):
        out = pathlib.Path(out_dir) if out_dir else saved.files.probes
        out.mkdir(parents=True, exist_ok=True)
        rep = group_report(run, step)
        rundir.write_json(out / files.probe_report_name(rep["step"]), rep)
        return out
    rep, arrays = report(run, step)
    seeds = [e["seed"] for e in rep["seeds"]]
    i, one = runs.member_params(arrays["params"], seeds, seed)
    out = pathlib.Path(out_dir) if out_dir else saved.files.probes
    out.mkdir(parents=True, exist_ok=True)
    tag = f"step{rep['step']}"
    rundir.write_json(out / files.probe_report_name(rep["step"]), rep)
    summary = saved.summary if saved.files.summary.exists() else {}
    name = runs.title(saved.config, len(seeds), summary.get("grid"))
    entries = summary.get("seeds", [])
    task = runs.member_task(rep["task"], entries[i]) if i < len(entries) else rep["task"]
    draw.spectra(one, rep["p"], f"{name}; step {rep['step']}; seed {seeds[i]}",
                 out / f"spectra-{tag}-seed{seeds[i]}.png",
                 multiplicative=bool(arrays["log"]) and draw.shows_discrete_log(task, rep["p"]))
    history = arrays["history"]
    if history is not None and "probe/step" in history:
        draw.measure_curves(history, f"{name}; seed {seeds[i]} bold",
                            out / f"curves-seed{seeds[i]}.png",
                            draw.phase_marks(rep["seeds"][i].get("phases")), highlight=i)
    if final_keys:
        over = over_training(run)
        rundir.write_json(out / files.FINAL_KEYS, over)
        if history is not None:
            draw.final_key_curves(
                history, over, i, f"{name}; seed {seeds[i]}: restricted and excluded loss "
                f"with the final key frequencies {over['key_freqs'][i]}",
                out / f"final-keys-seed{seeds[i]}.png",
                draw.phase_marks(rep["seeds"][i].get("phases")))
    return out


def read_report(out_dir: str | pathlib.Path, step: int | None = None) -> dict:
    """The report `write` left in `out_dir`: report-step<step>.json, or the latest step's."""
    found = runs.latest_probe_report(out_dir, step)
    if found is None:
        raise GrokjaxError(f"{out_dir} has no probe report"
                           + (f" of step {step}" if step is not None else "")
                           + " (write one with `grokjax probe RUN`)")
    return rundir.read_json(found[1])


def terminal_lines(source: dict | str | pathlib.Path, step: int | None = None) -> list[str]:
    """What `grokjax probe` prints: a heading, then one row per seed: the key frequencies, the
    restricted and excluded loss, the accuracy on the whole (a, b) table intact, without all
    key frequencies of the embedding and without the one other frequency that matters most
    (the least accuracy left), and the steps where its phases end (summary.phases; '-' where
    a phase was not reached). `source` is a report (`report`'s first value), its JSON file, or
    the directory `write` wrote (with `step`, that step's report; else the latest)."""
    if isinstance(source, dict):
        rep = source
    else:
        path = pathlib.Path(source)
        rep = read_report(path, step) if path.is_dir() else rundir.read_json(path)
    if "irreps" in rep:
        return group_lines(rep)
    seeds = rep["seeds"]
    table = any("key_freqs" in e for e in seeds)
    basis = {"multiplicative": "discrete log, Z/(p-1)", "additive": "Z/p"}.get(
        rep.get("grid_basis"), "")
    lines = [f"probe report at step {rep['step']}: task {rep['task']}, p={rep['p']}"
             + (f"; key frequencies over {basis}" if table else "; no key frequencies or ablation (this task has no (a, b) table "
                "measures)")]
    head = ["seed"]
    if table:
        head += ["key freqs", "restricted", "excluded", "acc", "acc -keys", "acc keys only",
                 "acc -1 other", "logits expl."]
    head += [label for label, _ in runs.PHASES]
    rows = []
    for e in seeds:
        row = [str(e["seed"])]
        if table:
            abl = e.get("ablation", {})
            row += [runs.freqs_text(e.get("key_freqs", [])), f"{e['restricted_loss']:.3g}",
                    f"{e['excluded_loss']:.3g}", f"{abl.get('intact_acc', float('nan')):.3f}",
                    f"{abl.get('without_all_key_freqs_acc', float('nan')):.3f}",
                    f"{abl.get('without_all_other_freqs_acc', float('nan')):.3f}",
                    f"{abl.get('without_one_other_freq_min_acc', float('nan')):.3f}",
                    f"{e.get('logits_explained', float('nan')):.3f}"]
        row += runs.phase_cells(e.get("phases"))
        rows.append(row)
    widths = [max(len(r[j]) for r in [head] + rows) for j in range(len(head))]
    left = {1} if table else set()  # the key frequencies read from the left

    def fmt(row):
        return "  ".join(c.ljust(w) if j in left else c.rjust(w)
                         for j, (c, w) in enumerate(zip(row, widths))).rstrip()
    lines += [fmt(head)] + [fmt(r) for r in rows]
    if table:
        lines += ["restricted / excluded: the loss with only / without the key frequencies",
                  "acc: on all p^2 inputs, intact / without W_E's key frequencies / with only "
                  "them / without the other frequency that costs most",
                  "logits expl.: the share of the logits' variance sum_k alpha_k cos(w_k(a+b-c)) "
                  "explains"]
    return lines
