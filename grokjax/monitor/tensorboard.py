"""TensorBoard event files of a run, written with tensorboardX from the host records.

    RUN/tb/seed_000, seed_001, ...   one TensorBoard run per seed (the first
                                     `tensorboard.seed_runs`), so the seeds overlay in a chart;
                                     for a grid, per member: lr=0.001,...,seed_000
    RUN/tb/aggregate                 over the members: the mean under the same tags, the band
                                     `spread/...` (and, in the first, the custom-scalars
                                     layout); one per grid setting: lr=0.001,aggregate, ...
                                     (a mean over settings would describe none of them)

    tensorboard --logdir RUN/tb --samples_per_plugin images=N     (`command`: N from the run)

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
    spectra                           image per probe point (or every k-th: at most
                                      `tensorboard.images`): the per-frequency norms of W_E and
                                      W_L (and in the discrete-log basis, for a task that
                                      multiplies), for the first `tensorboard.detail_seeds`
                                      members. TensorBoard keeps 10 images of a series unless
                                      told (`images_per_tag` sizes the flag)
    spread/TAG/mean|min|max           aggregate only, for the key curves (_BAND): the band over
                                      members, drawn by the custom scalars' Margin charts
    weights/<param>                   histograms of the detail seeds at every chunk's end and
                                      checkpoint (run.py calls `histograms` once per step)

Custom scalars: multiline charts of train against test (regexes of tags every run has) and
Margin charts of the aggregate's `spread/` tags, which the seed runs lack altogether (a run
lacking only some of a chart's tags would show "Missing Tags").

HPARAMS: each seed run is a session (the aggregates are none): its hparams and the final
metrics (`final_metrics`; a step never reached has no value, as -1 would sort as the earliest;
the first five columns, which TensorBoard shows, are the grokking ones). The experiment, in an
event file of its own in the first seed run (`write_experiment`), lists every hparam with its
type and values and marks those that differ across the runs. TensorBoard sorts the hparams by (not
differs, name) and ticks the first five, so the ones a grokking researcher compares are named
with their rank first: `1_task`, `2_p`, `3_r` (train_fraction), `4_lr`, `5_weight_decay`,
`6_alpha` (model.weight_scale), `7_seed` (shown as `task`, `p`, ...); then what differs, then
these, then the rest of the config by its keys, without the bookkeeping (_NOISE). With a parent
of several runs, TensorBoard takes whichever run's experiment it finds first: `grokjax collect`
writes the experiment of all of them into each (`merge_experiments`).
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
import struct
import threading
import time
import warnings

import ml_collections
import numpy as np
from tensorboardX import SummaryWriter
from tensorboardX.proto import api_pb2, event_pb2
from tensorboardX.proto import plugin_hparams_pb2 as hp_pb2
from tensorboardX.proto.summary_pb2 import Summary, SummaryMetadata
from tensorboardX.record_writer import masked_crc32c

from grokjax import config as config_lib
from grokjax import errors
from grokjax import grid as grid_lib
from grokjax import models
from grokjax import summary as summary_lib
from grokjax import tasks as tasks_lib
from grokjax.store import rundir
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
# Final metrics in the HPARAMS tab (summary.json's per-member keys, and the two flags), in
# order: TensorBoard shows the first five columns, chosen for grokking.
_HPARAM_METRICS = ("grok_step", "grokked_fraction", "test_acc", "memorisation_step", "test_loss",
                   "best_test_acc", "train_acc", "train_loss", "l2_norm", "diverged")
_EVENT_STEPS = ("grok_step", "memorisation_step")  # -1: never; written as no value at all
# The hparams a grokking researcher compares, in this order: config key -> the name shown.
_COMPARED = {"task": "task", "p": "p", "train_fraction": "r", "optim.lr": "lr",
             "optim.weight_decay": "weight_decay", "model.weight_scale": "alpha",
             "seed": "seed"}
# ... and their names in the HPARAMS tab, ranked so that TensorBoard's sort keeps this order.
_RANKED = {key: f"{rank}_{label}" for rank, (key, label) in enumerate(_COMPARED.items(), 1)}
# Config keys that are not hparams: bookkeeping, or what `seed` and the grid values say.
_NOISE = ("checkpoint.", "tensorboard.", "grid.", "seeds", "seed_list", "train.chunk_steps",
          "train.batching", "train.member_group", "numerics.deterministic")
_IMAGES_KEPT = 10  # images per tag TensorBoard keeps without --samples_per_plugin
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
        elif key.startswith(("norm/", "grad/")):
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

def final_metrics(entries: list[dict]) -> dict[str, float]:
    """HPARAMS' metrics `hparam/...` of one member (its summary.json entry) or over several (an
    aggregate: medians over the finite values; the grok step over the members that grokked).
    A step of an event no member reached is left out (-1 would read as the earliest), and so is
    a value no member has finite."""
    stats = summary_lib.grok_stats(entries)
    out = {}
    for k in _HPARAM_METRICS:
        if k == "grokked_fraction":
            out[f"hparam/{k}"] = stats["grokked"] / stats["seeds"]
        elif k == "diverged":
            out[f"hparam/{k}"] = float(np.mean([e.get("diverged_step", -1) >= 0
                                                for e in entries]))
        elif k in _EVENT_STEPS:
            reached = [e[k] for e in entries if e[k] >= 0]
            if reached:
                out[f"hparam/{k}"] = float(np.median(reached))
        else:  # (a diverged member's NaN: no value, as it would sort anywhere)
            value = summary_lib.finite_median([e[k] for e in entries])
            if np.isfinite(value):
                out[f"hparam/{k}"] = float(value)
    return out


def hparams(cfg: ml_collections.ConfigDict, members, i: int) -> dict[str, bool | float | str]:
    """Member i's hparams by their names in the HPARAMS tab (see the module docstring): the
    compared ones first, then the rest of the config; tuples as text ('none' when empty)."""
    flat = config_lib.flatten(cfg)
    flat.update({grid_lib.AXES.get(a, "grid.arm"): v for a, v in members.hparams(i).items()})
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


def _text(v: bool | float | str) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def shown(cfg: ml_collections.ConfigDict, n_members: int) -> list[int]:
    """The members that get a TensorBoard run of their own (and an HPARAMS session): the
    first `tensorboard.seed_runs` (all when negative)."""
    n = n_members if cfg.tensorboard.seed_runs < 0 else cfg.tensorboard.seed_runs
    return list(range(min(n_members, n)))


def sessions(cfg: ml_collections.ConfigDict, members) -> dict[int, dict]:
    """Member -> its hparams, for each member shown (HPARAMS' sessions)."""
    return {i: hparams(cfg, members, i) for i in shown(cfg, len(members))}


def aggregate_name(setting: str) -> str:
    """The run of a grid setting's aggregate ('weight_decay=1,aggregate', beside its members
    in TensorBoard's run list); 'aggregate' without a grid."""
    return f"{setting},{AGGREGATE}" if setting else AGGREGATE


def image_stride(cfg: ml_collections.ConfigDict) -> int:
    """Every how many probes a spectra image is written: every probe, or sparser, so that a
    run writes at most `tensorboard.images` per member."""
    if not cfg.probe.every:
        return 1
    last = cfg.train.steps // cfg.probe.every  # probes 0..last; the last is always written
    return max(1, -(-last // max(1, cfg.tensorboard.images - 1)))


def images_per_tag(cfg: ml_collections.ConfigDict) -> int:
    """How many spectra images a member's run holds (0: none), which TensorBoard must be told
    to keep (it keeps 10 of an image series by default, a random sample)."""
    if not (cfg.tensorboard.enabled and cfg.probe.every and cfg.tensorboard.detail_seeds):
        return 0
    last, stride = cfg.train.steps // cfg.probe.every, image_stride(cfg)
    return last // stride + 1 + (last % stride > 0)


def command(logdir: pathlib.Path | str, images: int = 0) -> str:
    """The command that opens `logdir` with every image of its series on the slider."""
    keep = f" --samples_per_plugin images={images}" if images > _IMAGES_KEPT else ""
    return f"tensorboard --logdir {logdir}{keep}"


def run_command(workdir: pathlib.Path, cfg: ml_collections.ConfigDict) -> str | None:
    """`command` for a run's own board (None: the run writes none)."""
    if not cfg.tensorboard.enabled:
        return None
    return command(RunFiles(workdir).tensorboard, images_per_tag(cfg))


def write_experiment(path: pathlib.Path, experiment: api_pb2.Experiment) -> None:
    """HPARAMS' experiment as an event file of its own (RunFiles.experiment_events: in the
    first member's run), replacing the one there atomically, so that `grokjax collect` can
    rewrite it with the experiment of several runs (TensorBoard reads one experiment, from
    whichever run it finds first that has one)."""
    summary = _hparams_summary("_hparams_/experiment", experiment=experiment)
    events = [event_pb2.Event(wall_time=time.time(), file_version="brain.Event:2"),
              event_pb2.Event(wall_time=time.time(), step=0, summary=summary)]
    data = b"".join(_record(e.SerializeToString()) for e in events)
    rundir.write_bytes(path, data)


def _record(data: bytes) -> bytes:
    """One TFRecord, as an event file holds it."""
    header = struct.pack("Q", len(data))
    return (header + struct.pack("I", masked_crc32c(header)) + data
            + struct.pack("I", masked_crc32c(data)))


def merge_experiments(runs: list[tuple[pathlib.Path, ml_collections.ConfigDict]]) -> int:
    """Writes one HPARAMS experiment over the sessions of all `runs` (run directory, config)
    into each of them, so that TensorBoard over their parent compares them all, whichever it
    reads; returns how many runs it wrote to (those with TensorBoard's files)."""
    found = []
    for run_dir, cfg in runs:
        members = grid_lib.members(cfg, config_lib.seeds(cfg))
        first = RunFiles(run_dir).experiment_events(members.names()[0])
        if cfg.tensorboard.enabled and first.parent.is_dir():
            found.append((first, sessions(cfg, members)))
    if found:
        experiment = _experiment([s for _, run in found for s in run.values()])
        for path, _ in found:
            write_experiment(path, experiment)
    return len(found)


def _experiment(sessions: list[dict]) -> api_pb2.Experiment:
    """Every hparam of the sessions (their hparams() dicts) with its type and the values it
    takes, those that differ first, as TensorBoard shows them; the final metrics."""
    labels = {name: (_COMPARED[key], key) for key, name in _RANKED.items()}
    infos = []
    for name in dict.fromkeys(name for s in sessions for name in s):
        values = {s[name] for s in sessions if name in s}
        if len({bool if isinstance(v, bool) else type(v) for v in values}) > 1:
            values = {_text(v) for v in values}  # runs that disagree on its type: as text
        values = sorted(values)
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
               for k in _HPARAM_METRICS]
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
        self.files = RunFiles(workdir)
        self.root = self.files.tensorboard
        self.cfg, self.members, self.task_names = cfg, members, list(task_names)
        self.seeds, self.names = list(members.seeds), members.names()
        self.seed_idx = shown(cfg, len(self.seeds))
        self.detail_idx = self.seed_idx[:cfg.tensorboard.detail_seeds]
        # one aggregate per grid setting (a plain run has one setting): aggregate run -> members
        self.groups: dict[str, list[int]] = {}
        for i in range(len(self.seeds)):
            setting = grid_lib.setting_text(members.hparams(i), ",")
            self.groups.setdefault(aggregate_name(setting), []).append(i)
        self.stride = image_stride(cfg)
        self.discrete_log = {i: self._discrete_log(i) for i in self.detail_idx}
        self.writers: dict[int, SummaryWriter] = {}
        self.aggregates: dict[str, SummaryWriter] = {}
        self.last_time = time.time()
        self._canvases: dict[tuple, object] = {}

    def _discrete_log(self, i: int) -> bool:
        """Whether member i's spectra image shows the discrete-log basis too (its task
        multiplies, Task.shows_discrete_log; for an addition it would be half the image of
        noise)."""
        spec = self.members.values["task"][i] if "task" in self.members.axes else self.cfg.task
        return any(t.shows_discrete_log(self.cfg.p)
                   for t in tasks_lib.parse_task_spec(spec, p=self.cfg.p))

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
            for name in self.groups:
                self.aggregates[name] = SummaryWriter(str(self.root / name), purge_step=purge,
                                                      flush_secs=60, max_queue=_QUEUE)
        except OSError as e:
            self.close()  # the writers made so far
            raise errors.write_failed(self.root, e) from None
        # If the run never closes its board, the exit does, with the same deadline, before
        # tensorboardX's own atexit close of each writer (registered earlier, so run later).
        atexit.register(self.close)
        if step == 0:
            next(iter(self.aggregates.values())).add_custom_scalars({
                "train and test (every run)": {
                    title: ["Multiline", [regex]] for title, regex in _LINES.items()},
                "mean and min-max band over members (aggregates)": {
                    title: ["Margin", [f"spread/{tag}/{s}" for s in ("mean", "min", "max")]]
                    for title, tag in _BAND.items()}})
        self.last_time = time.time()

    # -- scalars and images, per chunk of records ------------------------------------------

    def _scalars(self, steps: np.ndarray, tags: dict[str, np.ndarray],
                 walltimes: np.ndarray) -> None:
        names = list(tags)
        values = np.stack([np.asarray(tags[n], np.float64) for n in names], -1)  # [S, P, n]
        band = [j for j, n in enumerate(names) if n in _BAND.values()]
        agg_names = names + [f"spread/{names[j]}/{s}" for s in ("mean", "min", "max")
                             for j in band]
        aggregates = {}  # aggregate run -> [P, len(agg_names)]: its members' mean and band
        with np.errstate(all="ignore"), warnings.catch_warnings():
            # the band over members leaves a diverged member's non-finite values out
            warnings.simplefilter("ignore", RuntimeWarning)
            finite = np.where(np.isfinite(values), values, np.nan)
            for name, idx in self.groups.items():
                mean = np.nanmean(finite[idx], 0)  # [P, n]
                aggregates[name] = np.concatenate(
                    [mean, mean[:, band], np.nanmin(finite[idx][..., band], 0),
                     np.nanmax(finite[idx][..., band], 0)], -1)
        for j, step in enumerate(steps):
            for i, writer in self.writers.items():
                self._add(writer, names, values[i, j], int(step), walltimes[j])
            for name, writer in self.aggregates.items():
                self._add(writer, agg_names, aggregates[name][j], int(step), walltimes[j])

    @staticmethod
    def _add(writer: SummaryWriter, names: list[str], values: np.ndarray, step: int,
             walltime: float) -> None:
        """One event holding every tag of a log point (one proto, not one per scalar)."""
        summary = Summary(value=[Summary.Value(tag=n, simple_value=float(v))
                                 for n, v in zip(names, values)])
        writer.file_writer.add_summary(summary, step, walltime)

    def write(self, host: dict[str, np.ndarray], diverged_before: np.ndarray | None = None,
              final: bool = False) -> None:
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
            self._spectra(host, psteps, pw, final)
        self.last_time = now

    def _spectra(self, host: dict, psteps: np.ndarray, walltimes: np.ndarray,
                 final: bool = False) -> None:
        if "probe/W_E/mu" not in host or not self.detail_idx:
            return
        from grokjax.monitor import spectrum_image  # pylint: disable=import-outside-toplevel
        # every `stride`-th probe from step 0, and the run's last (its final record: also
        # when it stopped early, grokked)
        kept = [j for j, step in enumerate(psteps)
                if (step // self.cfg.probe.every) % self.stride == 0
                or step >= self.cfg.train.steps or final]
        for i in self.detail_idx:
            bases = (("additive", "probe/"),) + ((("discrete log", "probe/log/"),)
                                                 if "probe/log/W_E/mu" in host
                                                 and self.discrete_log[i] else ())
            if bases not in self._canvases:
                self._canvases[bases] = spectrum_image.SpectrumCanvas(
                    {b: host[f"{prefix}W_E/mu"].shape[-1] for b, prefix in bases})
            for j in kept:
                spectra = {(basis, name): (host[f"{prefix}{name}/mu"][i, j],
                                           host[f"{prefix}{name}/nu"][i, j])
                           for basis, prefix in bases for name in ("W_E", "W_L")}
                image = self._canvases[bases].render(spectra)
                self.writers[i].add_image("spectra", image, int(psteps[j]), walltimes[j],
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
        """Each member run's hparams session, with its final metrics `hparam/...`; the
        experiment (write_experiment, in the first member's run); each aggregate's metrics over
        its members, as scalars only. A member that never grokked (or never memorised) has no
        `hparam/grok_step` (`memorisation_step`): no value that would sort as early."""
        self._check()
        step = int(summary["steps"])
        entries = summary["seeds"]
        shown_sessions = sessions(self.cfg, self.members)
        for i, writer in self.writers.items():
            metrics = final_metrics([entries[i]])
            for part in _session(shown_sessions[i], failed=metrics["hparam/diverged"] > 0):
                writer.file_writer.add_summary(part)
            self._add(writer, list(metrics), np.array(list(metrics.values())), step, time.time())
        if self.writers:
            write_experiment(self.files.experiment_events(self.names[self.seed_idx[0]]),
                             _experiment([*shown_sessions.values()]))
        for name, writer in self.aggregates.items():
            metrics = final_metrics([entries[i] for i in self.groups[name]])
            self._add(writer, list(metrics), np.array(list(metrics.values())), step, time.time())

    def flush(self) -> None:
        """Flushes every writer (in helper threads, FLUSH_SECONDS at most: a disk that stops
        answering is an error, not a hang); a failed flush is a one-line error."""
        self._check()
        writers = [*self.writers.values(), *self.aggregates.values()]
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
        writers = [*self.writers.values(), *self.aggregates.values()]
        self.writers, self.aggregates = {}, {}
        close_writers(writers, timeout)
        for canvas in self._canvases.values():
            canvas.close()
        self._canvases = {}


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
