"""A training run from a config: build the data and program, loop over chunks, write the run.

`build(cfg)` turns a validated config into an `Experiment` (tasks, dataset, splits, model and
step configs); `train(cfg, workdir)` runs it: it inits every seed at once, dispatches one
compiled chunk after another (reading the previous chunk's records while the next one runs),
and writes the files described in `grokjax.rundir`.
"""

from __future__ import annotations

import dataclasses
import pathlib
import time

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from grokjax import config as config_lib
from grokjax import data as data_lib
from grokjax import numerics, rundir, sharding
from grokjax import train as train_lib
from grokjax.errors import GrokjaxError
from grokjax.optim import make_optimizer
from grokjax.progress import Progress


@dataclasses.dataclass
class Experiment:
    cfg: ml_collections.ConfigDict
    dataset: data_lib.Dataset
    seeds: list[int]
    split_seeds: list[int]
    train_idx: np.ndarray  # [S, n_train]
    test_idx: np.ndarray  # [S, n_test]
    scfg: train_lib.StepConfig
    mesh: jax.sharding.Mesh
    batching: str  # 'vmap' | 'map', resolved from train.batching

    @property
    def n_tasks(self) -> int:
        return len(self.dataset.tasks)

    def data(self) -> train_lib.Data:
        return train_lib.Data(tokens=jnp.asarray(self.dataset.tokens),
                              labels=jnp.asarray(self.dataset.labels),
                              train_idx=jnp.asarray(self.train_idx),
                              test_idx=jnp.asarray(self.test_idx))


def build(cfg: ml_collections.ConfigDict) -> Experiment:
    """Validates `cfg` and builds everything a run needs (host-side; cheap)."""
    tasks = config_lib.validate(cfg)
    if cfg.train.steps % cfg.train.eval_every:
        raise GrokjaxError(f"train.steps={cfg.train.steps} must be a multiple of "
                           f"train.eval_every={cfg.train.eval_every}")
    dataset = data_lib.make_dataset(tasks, cfg.p, variant=cfg.model.variant,
                                    split_mode=cfg.split.mode, symmetric=cfg.split.symmetric)
    seeds, split_seeds = config_lib.seeds(cfg), config_lib.split_seeds(cfg)
    train_idx, test_idx = data_lib.make_splits(dataset, cfg.train_fraction, split_seeds,
                                               cfg.split.mode)
    mcfg = config_lib.model_config(cfg, dataset.vocab.d_vocab, dataset.n_ctx)
    scfg = train_lib.StepConfig(
        mcfg=mcfg, tx=make_optimizer(cfg.optim),
        loss_dtype=numerics.loss_dtype(cfg.numerics.loss_dtype),
        batch_size=cfg.optim.batch_size, acc_threshold=cfg.train.acc_threshold)
    batching = cfg.train.batching
    if batching == "auto":
        batching = "map" if jax.default_backend() == "cpu" else "vmap"
    return Experiment(cfg=cfg, dataset=dataset, seeds=seeds, split_seeds=split_seeds,
                      train_idx=train_idx, test_idx=test_idx, scfg=scfg,
                      mesh=sharding.seed_mesh(len(seeds)), batching=batching)


def run_info(exp: Experiment, loss_dtype: str) -> dict:
    ds = exp.dataset
    return {
        "seeds": exp.seeds,
        "split_seeds": exp.split_seeds,
        "tasks": [{"name": t.name, "formula": t.formula, "arity": t.arity,
                   "op_token": int(op)} for t, op in zip(ds.tasks, ds.vocab.op_tokens)],
        "vocab": {"d_vocab": ds.vocab.d_vocab, "tokens": ds.vocab.describe()},
        "n_inputs": int(len(ds.operands)),
        "n_train": int(exp.train_idx.shape[1]),
        "n_test": int(exp.test_idx.shape[1]),
        "numerics": {"loss_dtype": loss_dtype,
                     "matmul_precision": exp.cfg.numerics.matmul_precision},
        "batching": exp.batching,
        "mesh_devices": int(exp.mesh.size),
        **rundir.environment(),
    }


def _stack_records(chunks: list[dict]) -> dict[str, np.ndarray]:
    """Concatenates per-chunk records [S, P_chunk, ...] along the log-point axis."""
    out = {k: np.concatenate([c[k] for c in chunks], axis=1) for k in chunks[0]}
    out["step"] = out["step"][0]  # identical across seeds
    return out


def summarize(exp: Experiment, state: train_lib.TrainState, final: dict) -> dict:
    """Per seed: final metrics per task, memorisation and grok steps; plus counts over seeds."""
    names = list(exp.dataset.task_names)
    mem, grok = np.asarray(state.mem_step), np.asarray(state.grok_step)
    per_seed = []
    for i, seed in enumerate(exp.seeds):
        entry = {"seed": seed, "split_seed": exp.split_seeds[i],
                 "memorisation_step": int(mem[i, -1]), "grok_step": int(grok[i, -1])}
        for split in ("train", "test"):
            for metric in ("loss", "acc", "prob"):
                values = np.asarray(final[f"{split}/{metric}"][i])
                entry[f"{split}_{metric}"] = float(values.sum() if metric == "loss"
                                                   else values.mean())
        entry["l2_norm"] = float(final["norm/total"][i])
        if len(names) > 1:
            entry["tasks"] = {
                name: {"memorisation_step": int(mem[i, t]), "grok_step": int(grok[i, t]),
                       **{f"{s}_{m}": float(final[f"{s}/{m}"][i][t])
                          for s in ("train", "test") for m in ("loss", "acc", "prob")}}
                for t, name in enumerate(names)}
        per_seed.append(entry)
    grok_steps = [e["grok_step"] for e in per_seed if e["grok_step"] >= 0]
    return {
        "task": exp.cfg.task, "p": exp.cfg.p, "train_fraction": exp.cfg.train_fraction,
        "steps": int(np.asarray(state.step)[0]),
        "n_seeds": len(exp.seeds),
        "memorised": sum(e["memorisation_step"] >= 0 for e in per_seed),
        "grokked": len(grok_steps),
        "grok_step_median": float(np.median(grok_steps)) if grok_steps else None,
        "grok_step_min": min(grok_steps) if grok_steps else None,
        "grok_step_max": max(grok_steps) if grok_steps else None,
        "seeds": per_seed,
    }


def train(cfg: ml_collections.ConfigDict, workdir: str | pathlib.Path, *,
          progress: bool = True, progress_interval: float = 30.0) -> dict:
    """Trains every seed of `cfg` as one program and writes the run directory. Returns the summary."""
    loss_dtype = numerics.configure(cfg.numerics.loss_dtype)
    exp = build(cfg)
    workdir = pathlib.Path(workdir)
    if (workdir / "config.json").exists():
        raise GrokjaxError(f"{workdir} already holds a run; choose another --workdir")
    workdir.mkdir(parents=True, exist_ok=True)
    rundir.write_json(workdir / "config.json", cfg.to_dict())
    rundir.write_json(workdir / "run.json", run_info(exp, loss_dtype))
    rundir.write_npz(workdir / "splits.npz", {
        "seeds": np.asarray(exp.seeds), "split_seeds": np.asarray(exp.split_seeds),
        "operands": exp.dataset.operands, "train_idx": exp.train_idx, "test_idx": exp.test_idx})

    mesh, batching = exp.mesh, exp.batching
    data = exp.data()
    data = data.replace(tokens=sharding.replicate(data.tokens, mesh),
                        labels=sharding.replicate(data.labels, mesh),
                        train_idx=sharding.shard_seeds(data.train_idx, mesh),
                        test_idx=sharding.shard_seeds(data.test_idx, mesh))
    seeds = sharding.shard_seeds(jnp.asarray(exp.seeds, jnp.int32), mesh)
    state = train_lib.make_init(exp.scfg, exp.n_tasks, batching, mesh)(seeds)

    tcfg = cfg.train
    programs: dict[int, object] = {}
    bar = Progress(tcfg.steps, enabled=progress, interval=progress_interval)
    chunks: list[dict] = []

    def read(records) -> bool:
        """Brings a chunk's records to the host, reports them; True once every seed grokked."""
        host = jax.device_get(records)
        chunks.append(host)
        last = jax.tree.map(lambda x: x[:, -1], host)
        bar.update(int(last["step"][0]) + tcfg.eval_every, last["train/acc"].mean(-1),
                   last["test/acc"].mean(-1), int((last["mem_step"][:, -1] >= 0).sum()),
                   int((last["grok_step"][:, -1] >= 0).sum()), len(exp.seeds))
        return bool((last["grok_step"][:, -1] >= 0).all())

    pending, step = None, 0
    t0 = time.perf_counter()
    while step < tcfg.steps:
        n_steps = min(tcfg.chunk_steps, tcfg.steps - step)
        n_blocks = n_steps // tcfg.eval_every
        if n_blocks not in programs:
            programs[n_blocks] = train_lib.make_program(exp.scfg, n_blocks, tcfg.eval_every,
                                                        batching, mesh)
        state, records = programs[n_blocks](state, data)
        step += n_steps
        if pending is not None:  # read the previous chunk while this one runs
            read(pending)
        pending = records
        if tcfg.stop_when_grokked:  # needs this chunk's events now: no overlap
            pending, all_grokked = None, read(records)
            if all_grokked:
                break
    if pending is not None:
        read(pending)
    state, final = train_lib.make_final(exp.scfg, batching, mesh)(state, data)
    final = jax.device_get(final)
    bar.close()
    seconds = time.perf_counter() - t0

    history = _stack_records(chunks + [jax.tree.map(lambda x: x[:, None], final)])
    rundir.write_npz(workdir / "history.npz", history)
    summary = summarize(exp, jax.device_get(state), final)
    summary["wall_seconds"] = round(seconds, 2)
    summary["seed_steps_per_second"] = round(summary["steps"] * len(exp.seeds) / seconds, 1)
    rundir.write_json(workdir / "summary.json", summary)
    return summary
