"""TensorBoard event files of a run, written with tensorboardX from the host records.

    RUN/tb/seed_000, seed_001, ...   one TensorBoard run per seed (the first
                                     `tensorboard.seed_runs`), so the seeds overlay in a chart;
                                     for a grid, per member: lr=0.001,...,seed_000
    RUN/tb/aggregate                 over all members: the mean under the same tags, the band
                                     `spread/...` and the custom-scalars layout

    tensorboard --logdir RUN/tb      (or the parent of several runs, to compare them)

Everything is written from the records the training loop brings to the host once per piece;
the board never reads a device array itself, so it adds no device sync.

Tags. Time Series groups its cards by a tag's first part and sorts the groups by name (digits
before letters), opening the first two; so the grokking curves are `curves/...`, which sorts
first (after `circuits/`, which only `grokjax circuits` adds), then the events:

    curves/train|test/loss|acc|prob   per log point; a mixture: the loss summed and acc/prob
                                      averaged over its tasks, and each task under TAG/TASK
    event/memorised, event/grokked    0 until the event, 1 from the first log point after it
                                      (the aggregate's mean is the fraction of members); per
                                      task too; event/diverged once a step was skipped
    hparam/grok_step, ...             the final metrics, once at the end (HPARAMS' columns)
    norm/total, norm/<param>          per log point, every matrix (TransformerLens names)
    probe/ffd/W_E, ..., probe/n_key_freqs   per probe point, every scalar probe
    spectra                           image per probe point: the per-frequency norms of W_E and
                                      W_L, for the first `tensorboard.detail_seeds` seeds
    spread/TAG/mean|min|max           aggregate only, for the key curves (_BAND): the band over
                                      members, drawn by the custom scalars' Margin charts
    weights/<param>                   histograms of the detail seeds at every chunk's end and
                                      checkpoint (run.py calls `histograms` once per step)

Custom scalars: multiline charts of train against test (regexes of tags every run has) and
Margin charts of the aggregate's `spread/` tags, which the seed runs lack altogether (a run
lacking only some of a chart's tags would show "Missing Tags").

HPARAMS: each seed run is a session (the aggregate is none): its hparams and the final metrics.
The experiment, written once into the first seed run, lists every hparam with its type and
values and marks those that differ across the runs. TensorBoard sorts the hparams by (not
differs, name) and ticks the first five, so the ones a grokking researcher compares are named
with their rank first: `1_task`, `2_p`, `3_r` (train_fraction), `4_lr`, `5_weight_decay`,
`6_alpha` (model.weight_scale), `7_seed` (shown as `task`, `p`, ...); then what differs, then
these, then the rest of the config by its keys, without the bookkeeping (_NOISE). With a parent
of several runs, TensorBoard takes one run's experiment: the same columns, its own `differs`.
The events go into each run's own directory (tensorboardX's `add_hparams` makes a subdirectory
per call).

A resumed run opens its writers with `purge_step` at the resumed step, so whatever a killed run
wrote after its last checkpoint is hidden; the writers are flushed before every checkpoint.

Nothing here can hang the run or its exit. A flush and the close run in helper threads that the
main thread waits for with a deadline (FLUSH_SECONDS, CLOSE_SECONDS; the main thread keeps
answering signals meanwhile); a writer that fails, blocks or does not finish in time is
abandoned (its events so far stay on disk) and the others close all the same. An abandoned
writer is never waited for again: not by tensorboardX's own atexit close, nor by
multiprocessing's exit handler, which would join its queue's feeder thread for ever once the
writer thread that reads that queue died on a full disk.
"""

from __future__ import annotations

import atexit
import pathlib
import threading
import time
import warnings

import ml_collections
import numpy as np
from tensorboardX import SummaryWriter
from tensorboardX.proto import api_pb2
from tensorboardX.proto import plugin_hparams_pb2 as hp_pb2
from tensorboardX.proto.summary_pb2 import Summary, SummaryMetadata

from grokjax import config as config_lib
from grokjax import errors
from grokjax import grid as grid_lib
from grokjax import models
from grokjax import summary as summary_lib
from grokjax.store.files import RunFiles

AGGREGATE = "aggregate"
# The aggregate's band: Margin charts (name -> tag); and train against test in every run.
_BAND = {"test accuracy": "curves/test/acc", "train accuracy": "curves/train/acc",
         "test loss": "curves/test/loss", "train loss": "curves/train/loss",
         "weight norm": "norm/total", "memorised": "event/memorised",
         "grokked": "event/grokked"}
_LINES = {"accuracy": r"curves/(train|test)/acc$", "loss": r"curves/(train|test)/loss$",
          "probability of the answer": r"curves/(train|test)/prob$",
          "memorised and grokked": r"event/(memorised|grokked)$"}
# Final metrics in the HPARAMS tab, its first five columns first: summary.json's per-seed key.
_HPARAM_METRICS = ("grok_step", "memorisation_step", "test_acc", "train_acc", "best_test_acc",
                   "test_loss", "train_loss", "l2_norm")
# The hparams a grokking researcher compares, in this order: config key -> the name shown.
_COMPARED = {"task": "task", "p": "p", "train_fraction": "r", "optim.lr": "lr",
             "optim.weight_decay": "weight_decay", "model.weight_scale": "alpha",
             "seed": "seed"}
# ... and their names in the HPARAMS tab, ranked so that TensorBoard's sort keeps this order.
_RANKED = {key: f"{rank}_{label}" for rank, (key, label) in enumerate(_COMPARED.items(), 1)}
# Config keys that are not hparams: bookkeeping, or what `seed` and the grid values say.
_NOISE = ("checkpoint.", "tensorboard.", "grid.", "seeds", "seed_list", "train.chunk_steps",
          "train.batching")
_FEW = 10  # fewer distinct values than this: TensorBoard's value filter has a box for each
_DIFFERS = bytes([7 << 3, 1])  # HParamInfo.differs = true (field 7 of TensorBoard's api.proto,
#                                which tensorboardX's copy lacks: kept as an unknown field)


def point_scalars(host: dict[str, np.ndarray], task_names: list[str],
                  diverged_before: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Tag -> [S, P] over the log points of host records ([S, P, ...]). `event/diverged` is 1
    from a member's first step skipped as non-finite on (`diverged_before` [S]: members that
    diverged in earlier chunks)."""
    out = {}
    for key, v in host.items():
        if key.startswith(("train/", "test/")):  # [S, P, T]
            out[f"curves/{key}"] = summary_lib.over_tasks(key, v)
            if len(task_names) > 1:
                out.update({f"curves/{key}/{t}": v[..., i] for i, t in enumerate(task_names)})
        elif key.startswith("norm/"):
            out[key] = v
    steps = host["step"][None, :, None]
    for event, key in (("memorised", "mem_step"), ("grokked", "grok_step")):
        done = ((host[key] >= 0) & (host[key] <= steps)).astype(np.float32)  # [S, P, T+1]
        out[f"event/{event}"] = done[..., -1]
        if len(task_names) > 1:
            out.update({f"event/{event}/{t}": done[..., i] for i, t in enumerate(task_names)})
    if "skip_step" in host:
        before = (np.zeros(host["skip_step"].shape[0], bool) if diverged_before is None
                  else diverged_before)
        hit = np.logical_or.accumulate(host["skip_step"] >= 0, axis=1) | before[:, None]
        out["event/diverged"] = hit.astype(np.float32)
    return out


def probe_scalars(host: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Tag -> [S, P_probe]: every scalar probe, and the number of key frequencies."""
    out = {k: host[k] for k in summary_lib.scalar_probes(host)}
    if "probe/key_freqs" in host:
        out["probe/n_key_freqs"] = host["probe/key_freqs"].sum(-1).astype(np.float32)
    return out


# -- hparams ----------------------------------------------------------------------------------

def hparams(cfg: ml_collections.ConfigDict, members, i: int) -> dict[str, bool | float | str]:
    """Member i's hparams by their names in the HPARAMS tab (see the module docstring): the
    compared ones first, then the rest of the config; tuples as text ('none' when empty)."""
    flat = config_lib.flatten(cfg)
    flat.update({grid_lib.AXES[a]: v for a, v in members.hparams(i).items()})
    flat["seed"] = members.seeds[i]
    if not cfg.transfer.from_run:
        flat = {k: v for k, v in flat.items() if not k.startswith("transfer.")}
    rest = [k for k in flat if k not in _RANKED and not k.startswith(_NOISE)]
    return {_RANKED.get(k, k): _value(flat[k]) for k in [*_RANKED, *rest]}


def _value(v) -> bool | float | str:
    if isinstance(v, (bool, str)):
        return v
    if isinstance(v, (int, float, np.number)):
        return float(v)
    return ",".join(str(x) for x in v) or "none"


def _experiment(sessions: list[dict]) -> api_pb2.Experiment:
    """Every hparam of the sessions (their hparams() dicts) with its type and the values it
    takes, those that differ first, as TensorBoard shows them; the final metrics."""
    labels = {name: (_COMPARED[key], key) for key, name in _RANKED.items()}
    infos = []
    for name in sessions[0]:
        values = sorted({s[name] for s in sessions})
        kind = ("DATA_TYPE_BOOL" if isinstance(values[0], bool) else
                "DATA_TYPE_STRING" if isinstance(values[0], str) else "DATA_TYPE_FLOAT64")
        label, key = labels.get(name, ("", ""))
        info = api_pb2.HParamInfo(name=name, display_name=label, description=key,
                                  type=api_pb2.DataType.Value(kind))
        if kind == "DATA_TYPE_BOOL":
            info.domain_discrete.extend([False, True])
        elif kind == "DATA_TYPE_STRING" or len(values) < _FEW:
            info.domain_discrete.extend(values)
        else:
            info.domain_interval.min_value, info.domain_interval.max_value = values[0], values[-1]
        if len(values) > 1:
            info = api_pb2.HParamInfo.FromString(info.SerializeToString() + _DIFFERS)
        infos.append((len(values) == 1, name, info))
    metrics = [api_pb2.MetricInfo(name=api_pb2.MetricName(tag=f"hparam/{k}"), display_name=k)
               for k in (*_HPARAM_METRICS, "grokked_fraction", "diverged")]
    return api_pb2.Experiment(hparam_infos=[info for *_, info in sorted(infos)],
                              metric_infos=metrics)


def _hparams_summary(tag: str, **data) -> Summary:
    """One of the hparams plugin's summaries (`_hparams_/experiment`, ...)."""
    content = hp_pb2.HParamsPluginData(version=0, **data).SerializeToString()
    meta = SummaryMetadata(plugin_data=SummaryMetadata.PluginData(plugin_name="hparams",
                                                                  content=content))
    return Summary(value=[Summary.Value(tag=tag, metadata=meta)])


def _session(values: dict, failed: bool) -> tuple[Summary, Summary]:
    start = hp_pb2.SessionStartInfo()
    for name, v in values.items():
        field = ("bool_value" if isinstance(v, bool) else
                 "string_value" if isinstance(v, str) else "number_value")
        setattr(start.hparams[name], field, v)
    status = api_pb2.Status.Value("STATUS_FAILURE" if failed else "STATUS_SUCCESS")
    return (_hparams_summary("_hparams_/session_start_info", session_start_info=start),
            _hparams_summary("_hparams_/session_end_info",
                             session_end_info=hp_pb2.SessionEndInfo(status=status)))


_QUEUE = 1 << 20  # events a writer may hold: never full, so adding one never blocks
FLUSH_SECONDS = 120.0  # a flush of the writers (before a checkpoint) that takes longer fails
CLOSE_SECONDS = 10.0  # closing a run's writers, all together: then the rest are abandoned


def _event_writers(writer: SummaryWriter) -> list:
    """The tensorboardX EventFileWriters of a SummaryWriter (none once it is closed)."""
    writers = getattr(writer, "all_writers", None) or {}
    return [w.event_writer for w in writers.values()]


def _abandon(writer: SummaryWriter) -> None:
    """Stops a writer without its final flush (which would fail again, or block, also at
    exit), and without waiting for anything: never blocks. Its events so far are on disk."""
    # pylint: disable=protected-access
    for events in _event_writers(writer):
        events._closed = True  # tensorboardX's atexit close has nothing to do
        queue, worker = getattr(events, "_event_queue", None), getattr(events, "_worker", None)
        if queue is None:
            continue
        # Its feeder thread blocks on the pipe once nobody reads it (the writer thread died):
        # multiprocessing joins that thread at exit unless told not to.
        queue.cancel_join_thread()
        if worker is not None and worker.is_alive():  # it writes what it has, then stops
            try:
                queue.put_nowait(worker._shutdown_signal)
            except Exception:  # noqa: BLE001  (a closed or full queue: a daemon thread anyway)
                pass


def _worker_alive(writer: SummaryWriter) -> bool:
    """Whether every event writer of `writer` still has its writer thread (it dies on a
    failed write, e.g. a full disk)."""
    # pylint: disable=protected-access
    for events in _event_writers(writer):
        worker = getattr(events, "_worker", None)
        if not events._closed and (worker is None or not worker.is_alive()):
            return False
    return True


def _within(calls: list, timeout: float) -> list[BaseException | None]:
    """Runs each call in a helper thread, all at once, and waits for them `timeout` seconds in
    all, answering signals meanwhile; per call: None when it returned in time, its exception,
    or a TimeoutError."""
    results: list[BaseException | None] = [TimeoutError(f"no answer in {timeout:g} s")] * len(
        calls)

    def run(i, call):
        try:
            call()
            results[i] = None
        except Exception as e:  # noqa: BLE001  (reported by the caller)
            results[i] = e

    threads = [threading.Thread(target=run, args=(i, call), daemon=True,
                                name=f"grokjax-tensorboard-{i}")
               for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    end = time.monotonic() + timeout
    for thread in threads:
        while thread.is_alive() and time.monotonic() < end:
            thread.join(min(0.1, max(0.0, end - time.monotonic())))
    return list(results)


def close_writers(writers: list[SummaryWriter], timeout: float | None = None
                  ) -> list[BaseException | None]:
    """Closes `writers` within `timeout` seconds in all (default CLOSE_SECONDS); one whose
    thread died, whose close fails or that does not close in time is abandoned, and does not
    keep the others from closing. Never raises: per writer, None if it closed, else why not."""
    timeout = CLOSE_SECONDS if timeout is None else timeout
    died = RuntimeError("its writer thread died")
    results: list[BaseException | None] = [
        None if _worker_alive(w) else (errors.thread_error("tensorboardX") or died)
        for w in writers]
    live = [i for i, error in enumerate(results) if error is None]
    for i, error in zip(live, _within([writers[i].close for i in live], timeout)):
        results[i] = error
    for writer, error in zip(writers, results):
        if error is not None:
            _abandon(writer)
    return results


class Board:
    """The event writers of one run. `open(step)` at the step the loop starts from; then
    `write(host)` per chunk of records, `histograms` at chunk ends, `finish(summary)`."""

    def __init__(self, workdir: pathlib.Path, cfg: ml_collections.ConfigDict, members,
                 task_names: list[str]):
        """members: the run's grokjax.grid.Members (its seeds, or grid settings x seeds)."""
        self.root = RunFiles(workdir).tensorboard
        self.cfg, self.members, self.task_names = cfg, members, list(task_names)
        self.seeds, self.names = list(members.seeds), members.names()
        n_runs = len(self.seeds) if cfg.tensorboard.seed_runs < 0 else cfg.tensorboard.seed_runs
        self.seed_idx = list(range(min(len(self.seeds), n_runs)))
        self.detail_idx = self.seed_idx[:cfg.tensorboard.detail_seeds]
        self.writers: dict[int, SummaryWriter] = {}
        self.aggregate: SummaryWriter | None = None
        self.last_time = time.time()
        self._canvas = None

    # -- a writer that failed (a full disk): tensorboardX's writer thread dies, and a later
    # add_event would block on its full queue for ever; so its error is kept and raised here

    def _check(self) -> None:
        error = errors.thread_error("tensorboardX")
        if error is not None:  # (`close` abandons the writers)
            raise errors.write_failed(self.root, error)

    def open(self, step: int) -> None:
        errors.keep_thread_errors("tensorboardX")
        errors.thread_error("tensorboardX", clear=True)  # (another run's, in this process)
        purge = step if step > 0 else None
        try:
            for i in self.seed_idx:
                self.writers[i] = SummaryWriter(str(self.root / self.names[i]),
                                                purge_step=purge, flush_secs=60,
                                                max_queue=_QUEUE)
            self.aggregate = SummaryWriter(str(self.root / AGGREGATE), purge_step=purge,
                                           flush_secs=60, max_queue=_QUEUE)
        except OSError as e:
            self.close()  # the writers made so far
            raise errors.write_failed(self.root, e) from None
        # If the run never closes its board, the exit does, with the same deadline, before
        # tensorboardX's own atexit close of each writer (registered earlier, so run later).
        atexit.register(self.close)
        if step == 0:
            self.aggregate.add_custom_scalars({
                "train and test (every run)": {
                    title: ["Multiline", [regex]] for title, regex in _LINES.items()},
                "mean and min-max band over members (aggregate)": {
                    title: ["Margin", [f"spread/{tag}/{s}" for s in ("mean", "min", "max")]]
                    for title, tag in _BAND.items()}})
        self.last_time = time.time()

    # -- scalars and images, per chunk of records ------------------------------------------

    def _scalars(self, steps: np.ndarray, tags: dict[str, np.ndarray],
                 walltimes: np.ndarray) -> None:
        names = list(tags)
        values = np.stack([np.asarray(tags[n], np.float64) for n in names], -1)  # [S, P, n]
        band = [j for j, n in enumerate(names) if n in _BAND.values()]
        with np.errstate(all="ignore"), warnings.catch_warnings():
            # the band over members leaves a diverged member's non-finite values out
            warnings.simplefilter("ignore", RuntimeWarning)
            finite = np.where(np.isfinite(values), values, np.nan)
            mean = np.nanmean(finite, 0)  # [P, n]
            stats = [mean[:, band], np.nanmin(finite[..., band], 0),
                     np.nanmax(finite[..., band], 0)]
        agg_names = names + [f"spread/{names[j]}/{s}" for s in ("mean", "min", "max")
                             for j in band]
        for j, step in enumerate(steps):
            for i, writer in self.writers.items():
                self._add(writer, names, values[i, j], int(step), walltimes[j])
            self._add(self.aggregate, agg_names,
                      np.concatenate([mean[j]] + [s[j] for s in stats]), int(step),
                      walltimes[j])

    @staticmethod
    def _add(writer: SummaryWriter, names: list[str], values: np.ndarray, step: int,
             walltime: float) -> None:
        """One event holding every tag of a log point (one proto, not one per scalar)."""
        summary = Summary(value=[Summary.Value(tag=n, simple_value=float(v))
                                 for n, v in zip(names, values)])
        writer.file_writer.add_summary(summary, step, walltime)

    def write(self, host: dict[str, np.ndarray], diverged_before: np.ndarray | None = None
              ) -> None:
        """A chunk of host records ([S, P, ...], with 'step' [P] and 'probe/step' [P_probe]);
        `diverged_before` [S]: the members that diverged in earlier chunks."""
        self._check()
        now = time.time()
        steps = np.asarray(host["step"])
        if not len(steps):
            return
        # The points of a chunk arrive together: spread their wall times over the chunk.
        walltimes = self.last_time + (now - self.last_time) * np.arange(1, len(steps) + 1) / len(
            steps)
        self._scalars(steps, point_scalars(host, self.task_names, diverged_before), walltimes)
        if "probe/step" in host and len(host["probe/step"]):
            psteps = np.asarray(host["probe/step"])
            pw = np.interp(psteps, steps, walltimes)
            self._scalars(psteps, probe_scalars(host), pw)
            self._spectra(host, psteps, pw)
        self.last_time = now

    def _spectra(self, host: dict, psteps: np.ndarray, walltimes: np.ndarray) -> None:
        if "probe/W_E/mu" not in host or not self.detail_idx:
            return
        from grokjax.monitor import spectrum_image  # pylint: disable=import-outside-toplevel
        bases = [("additive", "probe/")] + ([("discrete log", "probe/log/")]
                                            if "probe/log/W_E/mu" in host else [])
        if self._canvas is None:
            self._canvas = spectrum_image.SpectrumCanvas({b: host[f"{prefix}W_E/mu"].shape[-1]
                                                 for b, prefix in bases})
        for i in self.detail_idx:
            for j, step in enumerate(psteps):
                spectra = {(basis, name): (host[f"{prefix}{name}/mu"][i, j],
                                           host[f"{prefix}{name}/nu"][i, j])
                           for basis, prefix in bases for name in ("W_E", "W_L")}
                image = self._canvas.render(spectra)
                self.writers[i].add_image("spectra", image, int(step), walltimes[j],
                                          dataformats="HWC")

    # -- weights and the end ---------------------------------------------------------------

    def histograms(self, step: int, params: dict) -> None:
        """Histograms of every weight matrix of the detail seeds (host params, member axis
        first), of their finite elements (none: no histogram)."""
        self._check()
        named = models.param_names(params)
        for i in self.detail_idx:
            for name, w in named.items():
                w = np.asarray(w[i])
                if not np.isfinite(w).all():
                    w = w[np.isfinite(w)]
                if w.size:
                    self.writers[i].add_histogram(f"weights/{name}", w, step)

    def finish(self, summary: dict) -> None:
        """Each seed run's hparams session, with its final metrics `hparam/...`; the experiment
        in the first; the aggregate's metrics (over members), as scalars only."""
        self._check()
        step = int(summary["steps"])
        sessions = {i: hparams(self.cfg, self.members, i) for i in self.writers}
        for i, writer in self.writers.items():
            entry = summary["seeds"][i]
            metrics = {f"hparam/{k}": float(entry[k]) for k in _HPARAM_METRICS}
            metrics["hparam/grokked_fraction"] = float(entry["grok_step"] >= 0)
            metrics["hparam/diverged"] = float(entry.get("diverged_step", -1) >= 0)
            parts = list(_session(sessions[i], failed=metrics["hparam/diverged"] > 0))
            if i == self.seed_idx[0]:
                parts.insert(0, _hparams_summary("_hparams_/experiment",
                                                 experiment=_experiment([*sessions.values()])))
            for part in parts:
                writer.file_writer.add_summary(part)
            self._add(writer, list(metrics), np.array(list(metrics.values())), step, time.time())
        seeds = summary["seeds"]
        stats = summary_lib.grok_stats(seeds)
        agg = {f"hparam/{k}": summary_lib.finite_median([e[k] for e in seeds])
               for k in _HPARAM_METRICS}
        agg["hparam/grok_step"] = (stats["grok_step_median"] if stats["grokked"] else -1.0)
        agg["hparam/grokked_fraction"] = stats["grokked"] / stats["seeds"]
        agg["hparam/diverged"] = float(summary.get("diverged", 0)) / stats["seeds"]
        self._add(self.aggregate, list(agg), np.array(list(agg.values())), step, time.time())

    def flush(self) -> None:
        """Flushes every writer (in helper threads, FLUSH_SECONDS at most: a disk that stops
        answering is an error, not a hang); a failed flush is a one-line error."""
        self._check()
        writers = [w for w in [*self.writers.values(), self.aggregate] if w is not None]
        for error in _within([w.flush for w in writers], FLUSH_SECONDS):
            if error is not None:  # a write in the helper thread, or no answer
                raise errors.write_failed(self.root, error) from None
        self._check()

    def close(self, timeout: float | None = None) -> None:
        """Closes the writers, within `timeout` seconds in all (default CLOSE_SECONDS): a
        writer that failed (its thread died, e.g. on a full disk), fails to close or blocks is
        abandoned (its events so far are on disk), and the others close all the same. Never
        raises; called again (at exit), it does nothing."""
        atexit.unregister(self.close)
        writers = [w for w in [*self.writers.values(), self.aggregate] if w is not None]
        self.writers, self.aggregate = {}, None
        close_writers(writers, timeout)
        if self._canvas is not None:
            self._canvas.close()
            self._canvas = None


def write_measures(workdir: pathlib.Path, names: list[str], steps: list[int],
                   tags: dict[str, np.ndarray], suffix: str) -> None:
    """Measures computed after a run (`grokjax circuits`: `circuits/<method>/size`, ...) into
    each member's TensorBoard run, RUN/tb/<member>, in event files of their own (`suffix`):
    tags map to [steps, members] arrays. A member the run's board does not show gets no file."""
    root = RunFiles(workdir).tensorboard
    for m, name in enumerate(names):
        if not (root / name).is_dir():
            continue
        writer = SummaryWriter(str(root / name), filename_suffix=suffix)
        try:
            for j, step in enumerate(steps):
                Board._add(writer, list(tags), np.asarray([tags[t][j, m] for t in tags]),
                           int(step), time.time())
        finally:
            error = close_writers([writer])[0]
        if error is not None:
            raise errors.write_failed(root / name, error)
