"""TensorBoard event files of a run, written with tensorboardX from the host records.

    RUN/tb/seed_000, seed_001, ...   one TensorBoard run per seed (the first
                                     `tensorboard.seed_runs`), so the seeds overlay in a chart;
                                     for a grid, per member: lr=0.001,...,seed_000
    RUN/tb/aggregate                 over all seeds: the mean under the same tags, the min and max
                                     under TAG/min and TAG/max, and a custom-scalars layout that
                                     draws the mean inside its min-max band

    tensorboard --logdir RUN/tb      (or the parent of several runs, to compare them)

Everything is written from the records the training loop brings to the host once per chunk;
the board never reads a device array itself, so it adds no device sync. Per log point:

* `train/` and `test/` `loss`, `acc`, `prob` (a mixture: the loss summed and acc/prob averaged
  over its tasks, and each task under TAG/TASK);
* `norm/total` and `norm/<param>` for every matrix (TransformerLens names);
* `event/memorised`, `event/grokked`: 0 until the event, 1 from the first log point after it
  (the aggregate's mean is the fraction of seeds); per task too for mixtures;

per probe point, every scalar probe (`probe/ffd/W_E`, `probe/restricted_loss`, ...,
`probe/n_key_freqs`) and, for the first `tensorboard.detail_seeds` seeds, an image `spectra` of
the per-frequency norms of W_E and W_L; at every checkpoint, histograms `weights/<param>` of
those seeds; at the end, once, the hparams: the flattened config and the seed, with the final
metrics `hparam/...` (the aggregate run's seed is 'all', its metrics are over seeds), so that
TensorBoard's HPARAMS tab compares the runs of a sweep. They are written into each run's own
directory (tensorboardX's `add_hparams` would make a new subdirectory per call).

A resumed run opens its writers with `purge_step` at the resumed step, so whatever a killed run
wrote after its last checkpoint is hidden; the writers are flushed before every checkpoint.
"""

from __future__ import annotations

import pathlib
import time
import warnings

import ml_collections
import numpy as np
from tensorboardX import SummaryWriter
from tensorboardX import summary as tbx_summary
from tensorboardX.proto.summary_pb2 import Summary

from grokjax import config as config_lib
from grokjax import errors
from grokjax import grid as grid_lib
from grokjax import models
from grokjax import summary as summary_lib

AGGREGATE = "aggregate"
_BAND_CHARTS = {"accuracy": ("train/acc", "test/acc"), "loss": ("train/loss", "test/loss"),
                "weights": ("norm/total",), "events": ("event/memorised", "event/grokked")}
# Final metrics in the HPARAMS tab: summary.json's per-seed key for each.
_HPARAM_METRICS = ("grok_step", "memorisation_step", "best_test_acc", "test_acc", "train_acc",
                   "test_loss", "train_loss", "l2_norm")


def point_scalars(host: dict[str, np.ndarray], task_names: list[str],
                  diverged_before: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Tag -> [S, P] over the log points of host records ([S, P, ...]). `event/diverged` is 1
    from a member's first step skipped as non-finite on (`diverged_before` [S]: members that
    diverged in earlier chunks)."""
    out = {}
    for key, v in host.items():
        if key.startswith(("train/", "test/")):  # [S, P, T]
            out[key] = summary_lib.over_tasks(key, v)
            if len(task_names) > 1:
                out.update({f"{key}/{t}": v[..., i] for i, t in enumerate(task_names)})
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


def hparams(cfg: ml_collections.ConfigDict) -> dict[str, bool | int | float | str]:
    """The flattened config as hparam values (tuples as text)."""
    return {k: v if isinstance(v, (bool, int, float, str)) else str(tuple(v))
            for k, v in config_lib.flatten(cfg).items()}


_QUEUE = 1 << 20  # events a writer may hold: never full, so adding one never blocks


def _abandon(writer: SummaryWriter) -> None:
    """Stops a writer without its final flush (which would fail again, also at exit)."""
    events = writer.file_writer.event_writer
    worker = getattr(events, "_worker", None)
    if worker is not None and worker.is_alive():
        worker.stop()
    events._closed = True  # pylint: disable=protected-access


class Board:
    """The event writers of one run. `open(step)` at the step the loop starts from; then
    `write(host)` per chunk of records, `histograms` at checkpoints, `finish(summary)`."""

    def __init__(self, workdir: pathlib.Path, cfg: ml_collections.ConfigDict, members,
                 task_names: list[str]):
        """members: the run's grokjax.grid.Members (its seeds, or grid settings x seeds)."""
        self.root = pathlib.Path(workdir) / "tb"
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
            self.writers = {i: SummaryWriter(str(self.root / self.names[i]), purge_step=purge,
                                             flush_secs=60, max_queue=_QUEUE)
                            for i in self.seed_idx}
            self.aggregate = SummaryWriter(str(self.root / AGGREGATE), purge_step=purge,
                                           flush_secs=60, max_queue=_QUEUE)
        except OSError as e:
            raise errors.write_failed(self.root, e) from None
        if step == 0:
            self.aggregate.add_custom_scalars({"mean with the min-max band over seeds": {
                f"{tag} ({chart})": ["Margin", [tag, f"{tag}/min", f"{tag}/max"]]
                for chart, tags in _BAND_CHARTS.items() for tag in tags}})
        self.last_time = time.time()

    # -- scalars and images, per chunk of records ------------------------------------------

    def _scalars(self, steps: np.ndarray, tags: dict[str, np.ndarray],
                 walltimes: np.ndarray) -> None:
        names = list(tags)
        values = np.stack([np.asarray(tags[n], np.float64) for n in names], -1)  # [S, P, n]
        with np.errstate(all="ignore"), warnings.catch_warnings():
            # the band over members leaves a diverged member's non-finite values out
            warnings.simplefilter("ignore", RuntimeWarning)
            finite = np.where(np.isfinite(values), values, np.nan)
            stats = {"": np.nanmean(finite, 0), "/min": np.nanmin(finite, 0),
                     "/max": np.nanmax(finite, 0)}
        for j, step in enumerate(steps):
            for i, writer in self.writers.items():
                self._add(writer, names, values[i, j], int(step), walltimes[j])
            self._add(self.aggregate, [n + sfx for sfx in stats for n in names],
                      np.concatenate([s[j] for s in stats.values()]), int(step), walltimes[j])

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

    # -- checkpoints and the end ---------------------------------------------------------------

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
        """hparams of every seed run and of the aggregate, with the final metrics."""
        self._check()
        step = int(summary["steps"])
        hp = hparams(self.cfg)
        for i, writer in self.writers.items():
            entry = summary["seeds"][i]
            metrics = {f"hparam/{k}": float(entry[k]) for k in _HPARAM_METRICS}
            metrics["hparam/grokked_fraction"] = float(entry["grok_step"] >= 0)
            metrics["hparam/diverged"] = float(entry.get("diverged_step", -1) >= 0)
            member = {grid_lib.AXES[a]: v for a, v in self.members.hparams(i).items()}
            self._hparams(writer, {**hp, **member, "seed": str(self.seeds[i])}, metrics, step)
        seeds = summary["seeds"]
        stats = summary_lib.grok_stats(seeds)
        agg = {f"hparam/{k}": float(np.nanmedian([e[k] for e in seeds]))
               for k in _HPARAM_METRICS}
        agg["hparam/grok_step"] = (stats["grok_step_median"] if stats["grokked"] else -1.0)
        agg["hparam/grokked_fraction"] = stats["grokked"] / stats["seeds"]
        agg["hparam/diverged"] = float(summary.get("diverged", 0)) / stats["seeds"]
        self._hparams(self.aggregate, {**hp, "seed": "all"}, agg, step)

    @staticmethod
    def _hparams(writer: SummaryWriter, hp: dict, metrics: dict, step: int) -> None:
        for part in tbx_summary.hparams(hp, metrics):  # experiment, session start, session end
            writer.file_writer.add_summary(part)
        Board._add(writer, list(metrics), np.array(list(metrics.values())), step, time.time())

    def flush(self) -> None:
        self._check()
        for writer in [*self.writers.values(), self.aggregate]:
            if writer is not None:
                writer.flush()
        self._check()

    def close(self) -> None:
        """Closes the writers; after a writer failed, abandons them (closing would fail again)."""
        failed = errors.thread_error("tensorboardX") is not None
        for writer in [*self.writers.values(), self.aggregate]:
            if writer is None:
                continue
            if failed:
                _abandon(writer)
                continue
            try:
                writer.close()
            except OSError:
                pass  # its events so far are on disk; the run reports its own errors
        self.writers, self.aggregate = {}, None
        if self._canvas is not None:
            self._canvas.close()
            self._canvas = None


def write_measures(workdir: pathlib.Path, names: list[str], steps: list[int],
                   tags: dict[str, np.ndarray], suffix: str) -> None:
    """Measures computed after a run (`grokjax circuits`: `circuits/<method>/size`, ...) into
    each member's TensorBoard run, RUN/tb/<member>, in event files of their own (`suffix`):
    tags map to [steps, members] arrays. A member the run's board does not show gets no file."""
    root = pathlib.Path(workdir) / "tb"
    for m, name in enumerate(names):
        if not (root / name).is_dir():
            continue
        writer = SummaryWriter(str(root / name), filename_suffix=suffix)
        try:
            for j, step in enumerate(steps):
                Board._add(writer, list(tags), np.asarray([tags[t][j, m] for t in tags]),
                           int(step), time.time())
        finally:
            writer.close()
