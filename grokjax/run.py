"""A training run from a config: start or resume it, loop over chunks, write it.

`grokjax.experiment.build(cfg)` turns a validated config into an `Experiment`.
`train(cfg, workdir)` runs it:

* a fresh run writes config.json, run.json and splits.npz, inits every member at once (copying
  params from a source run when transferring) and saves the step-0 checkpoint;
* a run directory that already has checkpoints is resumed from its latest good one, after
  checking that the config would compute the same thing (`config.result_changes`); a run that
  is already complete just reports its summary;
* its programs are compiled first, on abstract arguments, and XLA's memory analysis of them
  checked against this machine's memory (`grokjax.memory`); the run calls those executables;
* the loop dispatches the compiled chunk program in pieces of about two seconds (whole outer
  iterations: `_piece_steps`), reading the previous piece's records while the next one runs,
  and checkpoints every `checkpoint.save_every` steps; checkpoints fall on chunk ends, and no
  result depends on where the pieces end, so a resumed run equals an uninterrupted one;
* the records it reads also go to TensorBoard (`grokjax.monitor.tensorboard`) and the progress
  line, the weights' histograms at each chunk's end, the hparams with the final summary.

It is split as it runs: `_resume` (or `_start`), `_loop` (with the read-ahead rule stated once,
in `_needed_now`), `_finish`.

This module only trains; everything that reads a run directory afterwards opens it with
`grokjax.saved.open_run`. Only the command line imports it.

SIGINT (Ctrl-C) and SIGTERM (a batch system's warning before the kill) stop a run at the end
of the piece in flight (a few seconds of training: `_loop` dispatches a piece only once the
one before it has run; its input state was donated to it, so there is nothing older to save),
a checkpoint is saved at that step, the writers are flushed and closed,
the lock released, and `Interrupted` says where the run stopped. A second signal quits at once;
the last checkpoint stays as it was, and the OS drops the lock.
"""

from __future__ import annotations

import functools
import os
import pathlib
import shutil
import signal
import sys
import time
from typing import Callable

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from grokjax import config as config_lib
from grokjax import memory, models, numerics, program, sharding, signals, transfer
from grokjax import saved as saved_lib
from grokjax.errors import GrokjaxError, Interrupted
from grokjax.experiment import Experiment, build
from grokjax.monitor import tensorboard
from grokjax.monitor.progress import Progress
from grokjax.store import checkpoint as ckpt_lib
from grokjax.store import rundir
from grokjax.store.files import RunFiles
from grokjax.summary import SHARED_STEPS, damage, summarize


def run_info(exp: Experiment, loss_dtype: str) -> dict:
    ds = exp.dataset
    return {
        "seeds": exp.member_seeds,
        "split_seeds": exp.split_seeds,
        "tasks": [{"name": t.name, "formula": t.formula, "arity": t.arity, "op_token": int(op)}
                  for d in (exp.task_datasets or [ds])
                  for t, op in zip(d.tasks, d.vocab.op_tokens)],
        "vocab": {"d_vocab": ds.vocab.d_vocab, "tokens": ds.vocab.describe()},
        "n_inputs": int(len(ds.operands)),
        "n_train": int(exp.train_idx.shape[1]),
        "n_test": int(exp.test_idx.shape[1]),
        "numerics": {"loss_dtype": loss_dtype,
                     "matmul_precision": exp.cfg.numerics.matmul_precision,
                     **numerics.determinism()},
        "batching": exp.batching,
        "member_group": exp.member_group,  # (0: all members of a device in one vmap)
        "mesh_devices": int(exp.mesh.size),
        **({"grid": exp.members.describe()} if exp.members.axes else {}),
        **rundir.environment(),
    }


def _stack(chunks: list[dict]) -> dict[str, np.ndarray]:
    """Concatenates host records ([M, P_chunk, ...]; 'step' and 'probe/step' [P_chunk]) along
    their point axis. A metric that some chunks lack (those a run resumed from an older
    grokjax's checkpoint recorded before the metric existed) is NaN at their points."""
    chunks = [c for c in chunks if len(c["step"])]
    if not chunks:
        return {"step": np.zeros((0,), np.int32)}
    keys = list(dict.fromkeys(k for c in chunks for k in c))

    def part(c, k):
        if k in c:
            return c[k]
        like = next(d[k] for d in chunks if k in d)
        points = len(c["probe/step" if k.startswith("probe/") else "step"])
        return np.full((like.shape[0], points, *like.shape[2:]), np.nan, np.float32)
    return {k: np.concatenate([part(c, k) for c in chunks], axis=0 if k in SHARED_STEPS else 1)
            for k in keys}


def _write_outputs(exp: Experiment, files: RunFiles, history: dict, **timing) -> dict:
    rundir.write_npz(files.history, history)
    summary = {**summarize(exp.cfg, exp.member_seeds, exp.split_seeds, exp.dataset.task_names,
                           history, exp.members), **timing}
    rundir.write_json(files.summary, summary)
    return summary


def _start(exp: Experiment, workdir: pathlib.Path, loss_dtype: str,
           accept: Callable[[], dict]):
    """A fresh run: metadata files and the initial state (with transfer), after its checks and
    `accept()` (`_accept`: the programs compiled, their memory checked); returns (the state,
    the compiled programs)."""
    files = RunFiles(workdir)
    if files.summary.exists() or files.corrupt.exists():
        raise GrokjaxError(f"{workdir} holds a run but no readable checkpoint (see its "
                           "corrupt_checkpoints/, if any); nothing was changed: choose another "
                           "--out, or move the files away yourself")
    if files.config.exists():  # killed before its step-0 checkpoint: start again
        changes = config_lib.result_changes(rundir.read_json_dict(files.config), exp.cfg)
        if changes:
            raise GrokjaxError(f"{workdir} holds a run with another config "
                               f"({'; '.join(changes)}); choose another --out")
    if exp.cfg.transfer.from_run:  # read before anything compiles: it may refuse the run
        source, source_step = saved_lib.source_params(exp)
    programs = accept()
    info = run_info(exp, loss_dtype)  # (the member group `accept` chose)
    state = exp.init_state(programs["init"])
    if exp.cfg.transfer.from_run:
        groups = transfer.parse_groups(exp.cfg.transfer.load, "transfer.load")
        params = transfer.merge(state.params, source, groups)
        state = state.replace(params=sharding.shard_members(params, exp.mesh))
        info["transfer"] = {"from_run": str(exp.cfg.transfer.from_run), "source_step": source_step,
                            "load": list(groups),
                            "source_d_vocab": int(
                                models.param_names(source)["embed.W_E"].shape[1])}
    # the files only once everything that can refuse the run (a transfer source) has agreed
    workdir.mkdir(parents=True, exist_ok=True)
    rundir.write_json(files.config, exp.cfg.to_dict())
    rundir.write_json(files.run_info, info)
    rundir.write_npz(files.splits, exp.splits())
    return state, programs


def _accept(exp: Experiment, announce: Callable[[], None], say: bool, fit: bool = True
            ) -> dict:
    """Compiles the run's programs (init, chunk, final) on abstract arguments, and checks the
    memory XLA says they need against what this machine has (`grokjax.memory`): a run that
    would not fit is refused here, before anything is allocated or written. Then
    `announce()`. Returns the compiled programs, which the run calls (no second compile).
    `fit`: members in groups where they do not fit at once (not for a resumed run: its
    recorded group stands, so that it goes on bit for bit)."""
    if say:
        print(f"compiling the training programs ({exp.n_members} members)", file=sys.stderr,
              flush=True)
    est = memory.estimate(exp)
    if fit:
        est = memory.fit_members(exp, est)
    if fit and exp.member_group != exp.cfg.train.member_group and say:
        print(f"the members do not fit the device in one vmap: {exp.member_group} at a time",
              file=sys.stderr, flush=True)
    warning = memory.check(exp, est=est)
    if warning and sharding.is_primary():
        print(f"grokjax: warning: {warning}", file=sys.stderr, flush=True)
    announce()
    if say:
        print(f"compiled in {est.seconds:.1f} s (XLA's estimate of the peak memory: "
              f"{memory.gib(est.total)}); training", file=sys.stderr, flush=True)
    return est.compiled


def _meta(exp: Experiment, step: int, final: bool) -> dict:
    return {"config": exp.cfg.to_dict(), "seeds": exp.member_seeds,
            "split_seeds": exp.split_seeds, "step": step, "final": final,
            "versions": rundir.versions()}


def train(cfg: ml_collections.ConfigDict, workdir: str | pathlib.Path, *,
          progress: bool = True, progress_interval: float = 30.0,
          announce: Callable[[], None] | None = None) -> dict:
    """Trains (or resumes) every member of `cfg` as one program; returns the run's summary.
    `announce()` is called once the run is accepted (lock taken, config and splits checked, a
    transfer source read, its programs compiled and their memory checked) and before it
    initialises anything; not for a run that is complete already or refused."""
    announce = announce or (lambda: None)
    loss_dtype = numerics.configure(cfg.numerics.loss_dtype, cfg.numerics.deterministic)
    workdir = pathlib.Path(workdir)
    known = (saved_lib.open_run(workdir).recorded_source_d_vocab
             if RunFiles(workdir).run_info.exists() else None)  # a resumed run's source may move
    exp = build(cfg, saved_lib.source_d_vocab(cfg, known))
    made = not workdir.exists()  # removed again if the run is refused before it starts
    if sharding.is_primary():
        for doubt in config_lib.doubts(cfg, exp.dataset.tasks):
            print(f"grokjax: warning: {doubt}", file=sys.stderr, flush=True)
    with rundir.lock(workdir), _Stop() as stop:  # RunBusy if another process trains it now
        ccfg = cfg.checkpoint
        checkpoints = ckpt_lib.Checkpoints(workdir, keep=ccfg.keep, pin=tuple(ccfg.pin),
                                           async_save=ccfg.async_save)
        board = (tensorboard.Board(workdir, cfg, exp.members, exp.dataset.task_names)
                 if cfg.tensorboard.enabled and sharding.is_primary() else None)
        try:
            accept = functools.partial(_accept, exp, announce, progress and sharding.is_primary())
            if checkpoints.steps():
                # the member groups it ran with (0: all at once), so that it goes on bit for
                # bit; a run written before run.json recorded them chooses as a new one does
                recorded = saved_lib.open_run(workdir).info.get("member_group")
                if recorded is not None:
                    exp.member_group = int(recorded)
                begun = _resume(exp, workdir, checkpoints)
                if isinstance(begun, dict):  # complete already: its summary
                    return begun
                programs = accept(fit=recorded is None)
            else:
                try:
                    state, programs = _start(exp, workdir, loss_dtype, accept)
                except GrokjaxError:
                    if made:
                        shutil.rmtree(workdir, ignore_errors=True)
                    raise
                begun = (0, state, [])
            step, state, chunks = begun
            writer = _Writer(exp, checkpoints, board)
            if board is not None:
                board.open(step)
            if not chunks and ccfg.save_every:  # a fresh run: its step-0 checkpoint
                writer.save(0, state, _stack(chunks), False)
            data = exp.place(exp.data())
            records = _Records(exp, chunks, board, Progress(
                cfg.train.steps, start=step, enabled=progress and sharding.is_primary(),
                interval=progress_interval))
            t0 = time.perf_counter()
            end, state = _loop(exp, programs["chunk"], data, step, state, records, writer, stop)
            if stop.signum is not None and end < cfg.train.steps:
                _stop_at(end, state, records, writer, stop.signum, workdir)
            return _finish(exp, programs["final"], data, workdir, end, state, records, writer,
                           end - step, t0)
        finally:
            try:
                checkpoints.close()  # waits for the last asynchronous save
            finally:
                if board is not None:
                    board.close()


class _Stop(signals.Handled):
    """While a run trains: the first SIGINT or SIGTERM asks the loop to stop at the next chunk
    boundary; a second one quits at once."""

    def __init__(self):
        super().__init__()
        self.signum: int | None = None

    def _handle(self, signum: int, frame) -> None:
        name = signal.Signals(signum).name
        if self.signum is not None:
            print(f"grokjax: {name} again: quitting now; the run resumes from its last "
                  "checkpoint", file=sys.stderr, flush=True)
            os._exit(128 + signum)  # pylint: disable=protected-access
        self.signum = signum
        print(f"grokjax: {name}: stopping after the piece in flight, with a checkpoint (send "
              "it again to quit at once)", file=sys.stderr, flush=True)


def _stop_at(step: int, state, records: "_Records", writer: "_Writer", signum: int,
             workdir: pathlib.Path) -> None:
    """The end of an interrupted run: a checkpoint at `step` unless one is there already."""
    if step not in writer.checkpoints.steps():
        writer.save(step, state, records.history(), False)
    records.bar.close()
    raise Interrupted(f"{signal.Signals(signum).name}: stopped at step {step}; its checkpoint "
                      f"is saved in {workdir}", signum, step)


def _resume(exp: Experiment, workdir: pathlib.Path, checkpoints: ckpt_lib.Checkpoints):
    """A run with checkpoints: (step, state, history so far as its first chunk) from its latest
    good one, or its summary if it is complete already."""
    cfg, tcfg = exp.cfg, exp.cfg.train
    files = RunFiles(workdir)
    changes = config_lib.result_changes(rundir.read_json_dict(files.config), cfg)
    if changes:
        raise GrokjaxError(f"{workdir} holds a run with another config ({'; '.join(changes)});"
                           " resume it with its own config, or choose another --out")
    saved = checkpoints.restore_latest_good(exp.abstract_state())
    step, history = saved.step, saved.history
    grokked = _all_grokked(sharding.to_host(saved.state.grok_step))
    if saved.meta["final"] and (step >= tcfg.steps or (tcfg.stop_when_grokked and grokked)):
        print(f"{workdir} is complete at step {step}; nothing to do", flush=True)
        summary, reason = damage(workdir)
        if reason is None and summary["steps"] == step and files.history.is_file():
            return summary
        # killed after its final checkpoint, a damaged summary or a missing history.npz:
        # written again from the final checkpoint
        return _write_outputs(exp, files, history)
    _check_splits(saved.splits, exp.splits(), workdir, step)  # before it trains on
    rundir.write_json(files.config, cfg.to_dict())  # e.g. the new train.steps
    if step > tcfg.steps:
        raise GrokjaxError(f"{workdir} is already at step {step}, past train.steps="
                           f"{tcfg.steps}; give --steps {step} or more")
    if saved.meta["final"]:  # continuing past a finished run: its final log point is re-recorded
        history = {k: (v[:-1] if k in SHARED_STEPS else v[:, :-1]) for k, v in history.items()}
    if "mem_step" in history and "skip_step" not in history:  # older runs recorded none
        history["skip_step"] = np.full(history["mem_step"].shape[:2], -1, np.int32)
    print(f"resuming {workdir} from step {step}", flush=True)
    return step, saved.state, [history]


def _check_splits(saved: dict, now: dict, workdir: pathlib.Path, step: int) -> None:
    """A resumed run trains on exactly the splits its checkpoint was trained on."""
    differ = [k for k in now if k not in saved or not np.array_equal(saved[k], now[k])]
    if differ:
        raise GrokjaxError(
            f"{workdir}: this config makes other splits ({', '.join(differ)}) than the "
            f"checkpoint of step {step} was trained on (another numpy, or an edited task?); "
            "resume it where it was made, or start a new --out")


class _Writer:
    """Saves checkpoints, and the detail members' weight histograms at every chunk's end and
    checkpoint: the TensorBoard events so far go to disk before a checkpoint, so a resumed
    run's events match its checkpoint."""

    def __init__(self, exp: Experiment, checkpoints: ckpt_lib.Checkpoints, board):
        self.exp, self.checkpoints, self.board = exp, checkpoints, board
        cfg = exp.cfg
        self.n_detail = cfg.tensorboard.detail_seeds if cfg.tensorboard.enabled else 0
        self.histogram_step = -1  # the same on every process, unlike the primary's board
        self._detail = None  # the program that copies the detail members' params

    def weights(self, state):
        """The detail members' params, still on the device: a copy taken as soon as a chunk
        is dispatched (before the next one donates the state), read with the chunk's records;
        None without histograms."""
        if not self.n_detail:
            return None
        # a copy (x[:n] of n members is x itself, which the next chunk deletes), by one
        # program for every matrix (not a slice and a copy program per shape: compiles)
        if self._detail is None:
            n = self.n_detail
            self._detail = jax.jit(lambda params: jax.tree.map(lambda x: jnp.copy(x[:n]), params))
        return self._detail(state.params)

    def histograms(self, step: int, weights) -> None:
        """The histograms of `weights` (what `weights` returned) at `step`, once per step.
        Every process takes part in the gather; the primary writes them."""
        if weights is None or step == self.histogram_step:
            return
        self.histogram_step = step
        params = sharding.to_host(weights)
        if self.board is not None:
            self.board.histograms(step, params)

    def save(self, step: int, state, history: dict, final: bool, replace: bool = False) -> None:
        self.histograms(step, self.weights(state))  # (none again at a chunk's end)
        if self.board is not None:
            self.board.flush()
        save = self.checkpoints.replace if replace else self.checkpoints.save
        save(step, state, history, self.exp.splits(), _meta(self.exp, step, final))


class _Records:
    """The metric history on the host, one chunk of records at a time: each chunk read goes to
    TensorBoard and the progress line as it arrives."""

    def __init__(self, exp: Experiment, chunks: list[dict], board, bar: Progress):
        self.exp, self.chunks, self.board, self.bar = exp, chunks, board, bar
        # members that diverged so far (the one copy: TensorBoard's event/diverged reads it)
        self.diverged = np.zeros(exp.n_members, bool)
        for c in chunks:
            if "skip_step" in c:  # (the empty history of a step-0 checkpoint has none)
                self.diverged |= (c["skip_step"] >= 0).any(1)

    def add(self, host: dict, final: bool = False) -> None:
        """A chunk of host records (`final`: the run's final record): kept, and written to
        TensorBoard."""
        self.chunks.append(host)
        if self.board is not None:
            self.board.write(host, self.diverged, final=final)
        self.diverged |= (host["skip_step"] >= 0).any(1)

    def read(self, records, n_steps: int) -> bool:
        """Brings a chunk's records of `n_steps` steps to the host and reports them; True once
        every member grokked."""
        host = program.keep_active(sharding.to_host(records), n_steps, self.exp.scfg,
                                   self.exp.cfg.train.eval_every)
        for k in SHARED_STEPS:
            if k in host:
                host[k] = host[k][0]  # the same for every member
        self.add(host)
        last = {k: v[-1] if k in SHARED_STEPS else v[:, -1] for k, v in host.items()}
        healthy = lambda acc: np.where(self.diverged, np.nan, acc.mean(-1))  # noqa: E731
        self.bar.update(int(last["step"]) + self.exp.cfg.train.eval_every,
                        healthy(last["train/acc"]), healthy(last["test/acc"]),
                        int((last["mem_step"][:, -1] >= 0).sum()),
                        int((last["grok_step"][:, -1] >= 0).sum()), self.exp.n_members,
                        int(self.diverged.sum()))
        return _all_grokked(last["grok_step"])

    def history(self) -> dict[str, np.ndarray]:
        return _stack(self.chunks)


def _all_grokked(grok_step: np.ndarray) -> bool:
    """Whether every member has grokked (on every task: the last entry), from [M, T+1]."""
    return bool((grok_step[:, -1] >= 0).all())


def _needed_now(tcfg, ccfg, step: int) -> bool:
    """The read-ahead rule. A piece's records reach the host while the next piece runs, so the
    device never waits for the host; except when they are needed before the next dispatch: to
    decide whether to stop (train.stop_when_grokked), or for the checkpoint saved after this
    piece (its history must be whole)."""
    return tcfg.stop_when_grokked or _saves_at(ccfg, step)


def _saves_at(ccfg, step: int) -> bool:
    return bool(ccfg.save_every) and step % ccfg.save_every == 0


PIECE_SECONDS = 2.0  # about how long one dispatch runs, once the speed is known


def _first_steps(tcfg, unit: int) -> int:
    """The length of a run's first piece (fresh or resumed): a tenth of a chunk, in whole outer
    iterations of the program (`unit` steps), so that progress shows within seconds of the
    compile. It runs in the same compiled program as every other piece."""
    return max(unit, tcfg.chunk_steps // 10 // unit * unit)


def _piece_steps(tcfg, unit: int, seconds_per_step: float | None, first: int) -> int:
    """How many steps the next dispatch runs: about PIECE_SECONDS at the measured speed, in
    whole outer iterations (at least one, at most a chunk), so that progress moves and a stop
    request is answered within seconds however long a chunk is. Before a speed is measured,
    the first piece's length. The pieces run in the one compiled chunk program (a traced count
    of its outer iterations), so their lengths change no result, only when the host looks."""
    if seconds_per_step is None:
        return first
    want = int(PIECE_SECONDS / max(seconds_per_step, 1e-9)) // unit * unit
    return min(max(unit, want), tcfg.chunk_steps)


def _wait(records) -> None:
    """Waits until a dispatched piece has run, looking every few milliseconds rather than
    blocking in XLA, so that a signal's handler runs at once (a second Ctrl-C quits then)."""
    leaves = jax.tree.leaves(records)
    delay = 0.0005
    while not all(x.is_ready() for x in leaves):
        time.sleep(delay)
        delay = min(2 * delay, 0.01)


def _loop(exp: Experiment, chunk_program, data: program.Data, step: int, state,
          records: _Records, writer: _Writer, stop: _Stop):
    """Dispatches piece after piece (see `_piece_steps`) until train.steps (or every member
    grokked, with stop_when_grokked, or a signal); checkpoints between pieces. A piece is
    dispatched only once the one before it has run, so a stop request ends the run after the
    piece it lands in; that piece's records are read while the next one runs. Returns (the
    last step, the state)."""
    tcfg, ccfg = exp.cfg.train, exp.cfg.checkpoint
    unit = program.outer_steps(exp.scfg, tcfg.eval_every)
    first = _first_steps(tcfg, unit)
    pending = None  # the previous piece's records (and weights), not yet read
    speed, started = None, None  # speed: seconds per step, measured

    def read(chunk, n_steps, end, weights) -> bool:
        all_grokked = records.read(chunk, n_steps)
        writer.histograms(end, weights)
        return all_grokked

    while step < tcfg.steps:
        if pending is not None:
            _wait(pending[0])
            if started is not None:  # the last piece ran from its dispatch until now
                speed = (time.perf_counter() - started) / pending[1]
        if stop.signum is not None:
            break
        # Pieces end on multiples of chunk_steps, so checkpoints (and probes) keep their
        # cadence after a run was extended from a step in between.
        n_steps = min(tcfg.chunk_steps - step % tcfg.chunk_steps, tcfg.steps - step,
                      _piece_steps(tcfg, unit, speed, first))
        t0 = time.perf_counter()
        state, chunk = chunk_program(state, data, np.int32(n_steps // unit))
        step += n_steps
        # the weights' histograms at each chunk's end (and the run's)
        at_chunk_end = step % tcfg.chunk_steps == 0 or step == tcfg.steps
        weights = writer.weights(state) if at_chunk_end else None
        started = t0
        if pending is not None:  # read while this piece runs
            read(*pending)
            pending = None
        if not _needed_now(tcfg, ccfg, step):
            pending = chunk, n_steps, step, weights
            continue
        all_grokked = read(chunk, n_steps, step, weights)
        started = None  # the host read it: the next wait times no device work alone
        if tcfg.stop_when_grokked and all_grokked:
            break  # (the final checkpoint follows)
        if _saves_at(ccfg, step) and step < tcfg.steps:
            writer.save(step, state, records.history(), False)
    if pending is not None:
        read(*pending)
    return step, state


def _finish(exp: Experiment, final_program, data: program.Data, workdir: pathlib.Path,
            step: int, state, records: _Records, writer: _Writer, steps_run: int,
            t0: float) -> dict:
    """The final log point (and probes), the final checkpoint, history.npz and summary.json;
    `steps_run` steps since `t0` give the run's speed."""
    state, final = final_program(state, data)
    final = sharding.to_host(final)
    records.add({k: (v[:1] if k in SHARED_STEPS else v[:, None]) for k, v in final.items()},
                final=True)
    history = records.history()
    writer.save(step, state, history, True,
                replace=step in writer.checkpoints.steps())  # a non-final one of this step
    records.bar.close()
    seconds = time.perf_counter() - t0
    summary = _write_outputs(exp, RunFiles(workdir), history, wall_seconds=round(seconds, 2),
                             seed_steps_per_second=round(
                                 steps_run * exp.n_members / seconds, 1))
    if records.board is not None:
        records.board.finish(summary)
    return summary
