"""A training run from a config: start or resume it, loop over chunks, write it.

`grokjax.experiment.build(cfg)` (re-exported here) turns a validated config into an
`Experiment`. `train(cfg, workdir)` runs it:

* a fresh run writes config.json, run.json and splits.npz, inits every seed at once (copying
  params from a source run when transferring) and saves the step-0 checkpoint;
* a run directory that already has checkpoints is resumed from its latest good one, after
  checking that the config would compute the same thing (`config.result_changes`); a run that
  is already complete just reports its summary;
* the loop dispatches one compiled chunk after another, reading the previous chunk's records
  while the next one runs, and checkpoints every `checkpoint.save_every` steps; checkpoints
  fall between chunks, so a resumed run replays exactly the chunks an uninterrupted one runs;
* the records it reads also go to TensorBoard (`grokjax.tblog`), the weights' histograms at
  each checkpoint, the hparams with the final summary.
"""

from __future__ import annotations

import pathlib
import time

import jax
import ml_collections
import numpy as np

from grokjax import checkpoint as ckpt_lib
from grokjax import config as config_lib
from grokjax import model, numerics, rundir, sharding, tblog, transfer
from grokjax import train as train_lib
from grokjax.errors import GrokjaxError
from grokjax.experiment import Experiment, build  # noqa: F401  (re-exported: run.build)
from grokjax.progress import Progress
from grokjax.summary import summarize


def load_source_params(exp: Experiment) -> tuple[dict, int]:
    """The params of the transfer source, one per target seed (stacked), and the source step."""
    cfg = exp.cfg
    src_dir, step = transfer.parse_source(cfg.transfer.from_run)
    src_cfg = config_lib.from_saved(transfer.source_config(src_dir))
    with src_cfg.unlocked():
        src_cfg.transfer.from_run, src_cfg.transfer.load = "", ""  # its own source: not needed
    src_exp = build(src_cfg)
    indices = transfer.select_seeds(src_exp.seeds, exp.seeds, cfg.transfer.source_seed)
    checkpoints = ckpt_lib.Checkpoints(src_dir, read_only=True)
    step, state, _, _ = checkpoints.restore_latest_good(src_exp.abstract_state(), step,
                                                         quarantine=False)
    params = jax.tree.map(lambda x: x[np.asarray(indices)], sharding.to_host(state.params))
    return params, step


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
        **({"grid": exp.members.describe()} if exp.members.axes else {}),
        **rundir.environment(),
    }


SHARED_STEPS = ("step", "probe/step")  # the history's point axes, the same for every seed


def _stack(chunks: list[dict]) -> dict[str, np.ndarray]:
    """Concatenates host records ([S, P_chunk, ...]; 'step' and 'probe/step' [P_chunk]) along
    their point axis."""
    chunks = [c for c in chunks if len(c["step"])]
    if not chunks:
        return {"step": np.zeros((0,), np.int32)}
    return {k: np.concatenate([c[k] for c in chunks], axis=0 if k in SHARED_STEPS else 1)
            for k in chunks[0]}


def _write_outputs(exp: Experiment, workdir: pathlib.Path, history: dict, **timing) -> dict:
    rundir.write_npz(workdir / "history.npz", history)
    summary = {**summarize(exp.cfg, exp.seeds, exp.split_seeds, exp.dataset.task_names, history,
                           exp.members),
               **timing}
    rundir.write_json(workdir / "summary.json", summary)
    return summary


def _start(exp: Experiment, workdir: pathlib.Path, loss_dtype: str):
    """A fresh run: metadata files, the initial state (with transfer), the step-0 checkpoint."""
    if (workdir / "summary.json").exists() or (workdir / "corrupt_checkpoints").exists():
        raise GrokjaxError(f"{workdir} holds a run but no readable checkpoint (see its "
                           "corrupt_checkpoints/, if any); nothing was changed: choose another "
                           "--workdir, or move the files away yourself")
    if (workdir / "config.json").exists():  # killed before its step-0 checkpoint: start again
        changes = config_lib.result_changes(rundir.read_json(workdir / "config.json"), exp.cfg)
        if changes:
            raise GrokjaxError(f"{workdir} holds a run with another config "
                               f"({'; '.join(changes)}); choose another --workdir")
    workdir.mkdir(parents=True, exist_ok=True)
    rundir.write_json(workdir / "config.json", exp.cfg.to_dict())
    info = run_info(exp, loss_dtype)
    state = exp.init_state()
    if exp.cfg.transfer.from_run:
        source, source_step = load_source_params(exp)
        groups = transfer.parse_groups(exp.cfg.transfer.load, "transfer.load")
        params = transfer.merge(state.params, source, groups)
        state = state.replace(params=sharding.shard_seeds(params, exp.mesh))
        info["transfer"] = {"from_run": str(exp.cfg.transfer.from_run), "source_step": source_step,
                            "load": list(groups),
                            "source_d_vocab": int(model.param_names(source)["embed.W_E"].shape[1])}
    rundir.write_json(workdir / "run.json", info)
    rundir.write_npz(workdir / "splits.npz", _splits(exp))
    return state


def _known_source_d_vocab(run_dir: pathlib.Path) -> int | None:
    """A transfer run's source vocabulary, as its run.json recorded it (None if unknown)."""
    return rundir.read_json(run_dir / "run.json", default={}).get("transfer", {}).get(
        "source_d_vocab")


def _splits(exp: Experiment) -> dict[str, np.ndarray]:
    out = {"seeds": np.asarray(exp.seeds), "split_seeds": np.asarray(exp.split_seeds),
           "operands": exp.dataset.operands, "train_idx": exp.train_idx,
           "test_idx": exp.test_idx}
    if exp.train_mask is not None:  # padded splits: the masks mark each member's own inputs
        out.update(train_mask=exp.train_mask, test_mask=exp.test_mask)
    return out


def _meta(exp: Experiment, step: int, final: bool) -> dict:
    return {"config": exp.cfg.to_dict(), "seeds": exp.seeds, "split_seeds": exp.split_seeds,
            "step": step, "final": final, "versions": rundir.versions()}


def train(cfg: ml_collections.ConfigDict, workdir: str | pathlib.Path, *,
          progress: bool = True, progress_interval: float = 30.0) -> dict:
    """Trains (or resumes) every seed of `cfg` as one program; returns the run's summary."""
    loss_dtype = numerics.configure(cfg.numerics.loss_dtype)
    workdir = pathlib.Path(workdir)
    exp = build(cfg, _known_source_d_vocab(workdir))
    with rundir.lock(workdir):  # RunBusy if another process trains this run now
        ccfg = cfg.checkpoint
        checkpoints = ckpt_lib.Checkpoints(workdir, keep=ccfg.keep, pin=tuple(ccfg.pin),
                                           async_save=ccfg.async_save)
        board = (tblog.Board(workdir, cfg, exp.members, exp.dataset.task_names)
                 if cfg.tensorboard.enabled and sharding.is_primary() else None)
        try:
            return _train(exp, workdir, loss_dtype, checkpoints, board, progress,
                          progress_interval)
        finally:
            checkpoints.close()  # waits for the last asynchronous save
            if board is not None:
                board.close()


def _train(exp, workdir, loss_dtype, checkpoints, board, progress, progress_interval) -> dict:
    cfg, tcfg, ccfg = exp.cfg, exp.cfg.train, exp.cfg.checkpoint
    chunks: list[dict] = []

    def save(step, state, history, final):
        n = cfg.tensorboard.detail_seeds if cfg.tensorboard.enabled else 0
        if n:  # every process takes part in the gather; the primary writes the histograms
            params = sharding.to_host(jax.tree.map(lambda x: x[:n], state.params))
            if board is not None:  # the events so far are on disk before the checkpoint is
                board.histograms(step, params)
                board.flush()
        checkpoints.save(step, state, history, _splits(exp), _meta(exp, step, final))

    if checkpoints.steps():
        saved = rundir.read_json(workdir / "config.json")
        changes = config_lib.result_changes(saved, cfg)
        if changes:
            raise GrokjaxError(f"{workdir} holds a run with another config ({'; '.join(changes)});"
                               " resume it with its own config, or choose another --workdir")
        step, state, history, meta = checkpoints.restore_latest_good(exp.abstract_state())
        all_grokked = bool((sharding.to_host(state.grok_step)[:, -1] >= 0).all())
        if meta["final"] and (step >= tcfg.steps or (tcfg.stop_when_grokked and all_grokked)):
            print(f"{workdir} is complete at step {step}; nothing to do", flush=True)
            summary_file = workdir / "summary.json"
            if summary_file.exists() and rundir.read_json(summary_file)["steps"] == step:
                return rundir.read_json(summary_file)
            return _write_outputs(exp, workdir, history)  # killed after its final checkpoint
        rundir.write_json(workdir / "config.json", cfg.to_dict())  # e.g. the new train.steps
        if step > tcfg.steps:
            raise GrokjaxError(f"{workdir} is already at step {step}, past train.steps="
                               f"{tcfg.steps}; give --steps {step} or more")
        if meta["final"]:  # continuing past a finished run: its final log point is re-recorded
            history = {k: (v[:-1] if k in SHARED_STEPS else v[:, :-1]) for k, v in history.items()}
        chunks.append(history)
        print(f"resuming {workdir} from step {step}", flush=True)
    else:
        step, state = 0, _start(exp, workdir, loss_dtype)
    fresh = not chunks
    if board is not None:
        board.open(step)
    if fresh and ccfg.save_every:
        save(0, state, _stack([]), False)

    data = exp.place(exp.data())
    programs: dict[int, object] = {}
    bar = Progress(tcfg.steps, start=step, enabled=progress and sharding.is_primary(),
                   interval=progress_interval)

    def read(records) -> bool:
        """Brings a chunk's records to the host, reports them; True once every seed grokked."""
        host = sharding.to_host(records)
        for k in SHARED_STEPS:
            if k in host:
                host[k] = host[k][0]  # the same for every seed
        chunks.append(host)
        if board is not None:
            board.write(host)
        last = {k: v[-1] if k in SHARED_STEPS else v[:, -1] for k, v in host.items()}
        bar.update(int(last["step"]) + tcfg.eval_every, last["train/acc"].mean(-1),
                   last["test/acc"].mean(-1), int((last["mem_step"][:, -1] >= 0).sum()),
                   int((last["grok_step"][:, -1] >= 0).sum()), len(exp.seeds))
        return bool((last["grok_step"][:, -1] >= 0).all())

    pending, t0, steps_run = None, time.perf_counter(), 0
    while step < tcfg.steps:
        # Chunks end on multiples of chunk_steps, so checkpoints (and probes) keep their cadence
        # after a run was extended from a step in between.
        n_steps = min(tcfg.chunk_steps - step % tcfg.chunk_steps, tcfg.steps - step)
        n_blocks = n_steps // tcfg.eval_every
        if n_blocks not in programs:
            programs[n_blocks] = train_lib.make_program(exp.scfg, n_blocks, tcfg.eval_every,
                                                        exp.batching, exp.mesh)
        state, records = programs[n_blocks](state, data)
        step, steps_run = step + n_steps, steps_run + n_steps
        if pending is not None:  # read the previous chunk while this one runs
            read(pending)
        pending, all_grokked = records, False
        if tcfg.stop_when_grokked or (ccfg.save_every and step % ccfg.save_every == 0):
            pending, all_grokked = None, read(records)  # this chunk's records are needed now
        if tcfg.stop_when_grokked and all_grokked:
            break  # (the final checkpoint follows)
        if ccfg.save_every and step % ccfg.save_every == 0 and step < tcfg.steps:
            save(step, state, _stack(chunks), False)
    if pending is not None:
        read(pending)
    state, final = train_lib.make_final(exp.scfg, exp.batching, exp.mesh)(state, data)
    final = sharding.to_host(final)
    chunks.append({k: (v[:1] if k in SHARED_STEPS else v[:, None]) for k, v in final.items()})
    if board is not None:
        board.write(chunks[-1])
    history = _stack(chunks)
    if step in checkpoints.steps():  # a non-final checkpoint of this step: the final one replaces it
        checkpoints.manager.delete(step)
    save(step, state, history, True)
    bar.close()
    seconds = time.perf_counter() - t0
    summary = _write_outputs(exp, workdir, history, wall_seconds=round(seconds, 2),
                             seed_steps_per_second=round(steps_run * len(exp.seeds) / seconds, 1))
    if board is not None:
        board.finish(summary)
    return summary


def load_state(run_dir: str | pathlib.Path, step: int | None = None):
    """A run's stacked TrainState at `step` (default: its latest checkpoint), on this machine's
    devices whatever the machine that saved it. Returns (state, meta, experiment)."""
    run_dir = pathlib.Path(run_dir)
    if not (run_dir / "config.json").is_file():
        raise GrokjaxError(f"{run_dir} is not a grokjax run directory (no config.json)")
    cfg = config_lib.from_saved(rundir.read_json(run_dir / "config.json"))
    numerics.configure(cfg.numerics.loss_dtype)
    exp = build(cfg, _known_source_d_vocab(run_dir))
    checkpoints = ckpt_lib.Checkpoints(run_dir, read_only=True)
    _, state, _, meta = checkpoints.restore_latest_good(exp.abstract_state(), step,
                                                        quarantine=False)
    return state, meta, exp
