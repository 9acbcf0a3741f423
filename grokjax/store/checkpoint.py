"""Checkpoints of a run, with orbax's CheckpointManager.

A run keeps its checkpoints in ``RUN/checkpoints/<step>/`` with four items:

    state    the stacked TrainState of every seed: params, optimizer state, step, RNG key data
             (uint32, as orbax cannot store typed keys) and the memorisation/grok steps
    history  every metric record up to that step (numpy), so a resumed run's history is whole
    splits   each member's train_idx / test_idx and the operands they index (numpy); a resumed
             run checks that its config still makes exactly these splits
    meta     JSON: the resolved config, seeds, split seeds, step, library versions

Saving is asynchronous (the device arrays are copied to the host before `save` returns, so the
next chunk may reuse their buffers) and `close` waits for the last save: no run ends before its
final checkpoint is on disk. Each save lands in a temporary directory that is renamed when
complete, so a killed save never looks like a checkpoint. The step-0 state is always kept, as
are pinned steps and the latest `keep`.

Restores go against an abstract target (shapes, dtypes and the shardings of *this* process's
mesh), so a checkpoint saved on a GPU or on 8 devices restores on a 1-device CPU. A checkpoint
that fails to read is reported, moved aside to ``RUN/corrupt_checkpoints/`` (never deleted),
and the previous good one is used; if that one fails too, nothing more is moved and the error
is reported (two failures in a row point at the machine or the code, not at the files).

Waiting for a save never hangs the run or its exit: orbax's wait runs in a helper thread while
the main thread keeps answering signals (Ctrl-C), and a save during which nothing is written
for SAVE_STALL_SECONDS (x4 with several processes; a disk that stopped answering) is given up:
a one-line error, and its threads are left behind, not waited for at exit
(`errors.leave_behind`). The deadline is tied to progress, not to the save's length, so a big
save on a slow disk is never cut short.
"""

from __future__ import annotations

import dataclasses
import logging
import pathlib
import shutil
import sys
import threading
import time
from typing import Any, Callable

import jax
import numpy as np
import orbax.checkpoint as ocp
from orbax.checkpoint import checkpoint_managers as policies

from grokjax import errors
from grokjax.errors import GrokjaxError, keep_thread_errors, write_failed
from grokjax.store.files import RunFiles, replaced_step

ITEMS = ("state", "history", "splits", "meta")
# A save during which nothing is written for this long is given up (a hung disk): neither by
# this process nor back from the page cache to a disk (a long fsync). Where /proc cannot tell
# (not Linux), a wait is given up after SAVE_STALL_SECONDS x 4 in all.
SAVE_STALL_SECONDS = 300.0


@dataclasses.dataclass
class Restored:
    """One checkpoint, read back."""

    step: int
    state: Any
    history: dict[str, np.ndarray]
    splits: dict[str, np.ndarray]
    meta: dict


class Checkpoints:
    """The checkpoints of one run directory."""

    def __init__(self, run_dir: str | pathlib.Path, *, keep: int = 3, pin: tuple[int, ...] = (),
                 async_save: bool = True, read_only: bool = False):
        self.run_dir = pathlib.Path(run_dir).resolve()
        self.files = RunFiles(self.run_dir)
        self.directory = self.files.checkpoints
        if read_only and not self.directory.is_dir():
            raise GrokjaxError(f"{self.run_dir} has no checkpoints/ directory: is it a grokjax run?")
        keep_policy = policies.AnyPreservationPolicy(
            [policies.LatestN(max(keep, 1)), policies.CustomSteps(sorted({0, *pin}))])
        options = ocp.CheckpointManagerOptions(
            preservation_policy=keep_policy, enable_async_checkpointing=async_save,
            create=not read_only, read_only=read_only, cleanup_tmp_directories=not read_only)
        absl_log = logging.getLogger("absl")
        level = absl_log.level
        absl_log.setLevel(logging.ERROR)  # orbax warns that a read-only manager will not save
        try:
            self.manager = ocp.CheckpointManager(self.directory, options=options, item_names=ITEMS)
        finally:
            absl_log.setLevel(level)
        self._in_flight: int | None = None  # the step of an asynchronous save not waited for
        self._save_threads: list[threading.Thread] = []  # the threads of the save in flight
        self._stuck: GrokjaxError | None = None  # a save given up: nothing waits for it again
        if not read_only:
            self._recover_replaced()
            # a failed asynchronous save raises in orbax's thread, and again in `wait`, where
            # it is reported in one line: its thread's traceback is not printed
            keep_thread_errors("orbax")

    def _recover_replaced(self) -> None:
        """A process killed inside `replace` left the old checkpoint aside: put it back if its
        replacement never completed, else drop it."""
        for aside in self.run_dir.glob(self.files.replaced().name):
            target = self.directory / replaced_step(aside)
            if target.exists():
                shutil.rmtree(aside, ignore_errors=True)
            else:
                aside.rename(target)
                self.manager.reload()

    def steps(self) -> list[int]:
        return sorted(self.manager.all_steps())

    def save(self, step: int, state: Any, history: dict[str, np.ndarray],
             splits: dict[str, np.ndarray], meta: dict) -> None:
        # orbax stores no zero-size arrays: an empty history (step 0) is just its length.
        n_points = len(history["step"])
        history = {**(history if n_points else {}), "n_points": np.int32(n_points)}
        self.wait()  # the previous save had a chunk's time: a failure in it is named as its own
        self._in_flight = step
        before = set(threading.enumerate())
        try:
            self.manager.save(step, force=True, args=ocp.args.Composite(
                state=ocp.args.StandardSave(state),
                history=ocp.args.StandardSave(history),
                splits=ocp.args.StandardSave(splits),
                meta=ocp.args.JsonSave(meta)))
        except Exception as e:  # noqa: BLE001  (this save, or the asynchronous one before it)
            raise write_failed(self.directory / str(step), e) from None
        finally:  # orbax's threads of this save (its async commit and finalize threads)
            self._save_threads = [t for t in threading.enumerate() if t not in before]

    def replace(self, step: int, state: Any, history: dict[str, np.ndarray],
                splits: dict[str, np.ndarray], meta: dict) -> None:
        """Saves `step` where a checkpoint of that step exists already (a run's final one after
        a non-final one): the old one is moved aside first and deleted only once the new one
        is complete; if the new one fails, the old one is put back."""
        self.wait()
        old = self.directory / str(step)
        aside = self.files.replaced(step)
        if aside.exists():
            shutil.rmtree(aside)
        old.rename(aside)
        self.manager.reload()
        try:
            self.save(step, state, history, splits, meta)
            self.wait()
        except GrokjaxError:
            shutil.rmtree(old, ignore_errors=True)
            aside.rename(old)
            self.manager.reload()
            raise
        shutil.rmtree(aside, ignore_errors=True)

    def read_history(self, step: int) -> dict[str, np.ndarray]:
        out = self.manager.restore(step, args=ocp.args.Composite(history=ocp.args.StandardRestore()))
        return _unpack_history(out["history"])

    def restore(self, step: int, abstract_state: Any) -> Restored:
        """Everything saved at `step`; the state takes `abstract_state`'s shardings."""
        out = self.manager.restore(step, args=ocp.args.Composite(
            state=ocp.args.StandardRestore(abstract_state),
            history=ocp.args.StandardRestore(),
            splits=ocp.args.StandardRestore(),
            meta=ocp.args.JsonRestore()))
        return Restored(step=step, state=out["state"], history=_unpack_history(out["history"]),
                        splits={k: np.asarray(v) for k, v in out["splits"].items()},
                        meta=out["meta"])

    def restore_latest_good(self, abstract_state: Any, step: int | None = None, *,
                            quarantine: bool = True, log=None) -> Restored:
        """The newest checkpoint (or `step`) that reads; unreadable newer ones are reported and
        moved aside, never deleted."""
        log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
        candidates = [s for s in self.steps() if step is None or s == step][::-1]
        if not candidates:
            have = ", ".join(map(str, self.steps())) or "none"
            raise GrokjaxError(f"{self.run_dir}: no checkpoint at step {step} (saved steps: {have})"
                               if step is not None else f"{self.run_dir}: no checkpoint found")
        for attempt, s in enumerate(candidates):
            try:
                return self.restore(s, abstract_state)
            except Exception as e:  # noqa: BLE001  (any read failure: truncated, missing, corrupt)
                reason = read_failure(e)
                if not quarantine or attempt > 0:
                    # Two unreadable checkpoints in a row point at this machine or this code,
                    # not at the files: set nothing more aside.
                    raise GrokjaxError(f"checkpoint step {s} in {self.directory} is unreadable "
                                       f"({reason}); nothing else was changed") from None
                moved = self._quarantine(s)
                log(f"grokjax: warning: checkpoint step {s} is unreadable ({reason}); moved it "
                    f"to {moved} and falling back to the previous good checkpoint")
        raise GrokjaxError(f"{self.run_dir}: no readable checkpoint; the unreadable one is in "
                           f"{self.files.corrupt}")

    def _quarantine(self, step: int) -> pathlib.Path:
        self.manager.reload()
        dest = self.files.corrupt / f"{step}-{time.strftime('%Y%m%d-%H%M%S')}"
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(self.directory / str(step)), str(dest))
        self.manager.reload()
        return dest

    def wait(self) -> None:
        """Waits for the asynchronous save in flight; a failed one, or one that stalls (see
        SAVE_STALL_SECONDS), is a one-line error. After a stalled save, nothing more is waited
        for: every later wait is that same error again, at once."""
        step, self._in_flight = self._in_flight, None
        where = self.directory / str(step) if step is not None else self.directory
        if self._stuck is not None:
            raise self._stuck
        try:
            _wait_with_progress(self.manager.wait_until_finished, _stall_seconds)
        except _Stalled as e:
            self._stuck = write_failed(where, e)
            errors.leave_behind(self._save_threads)  # the exit does not wait for them either
            raise self._stuck from None
        except Exception as e:  # noqa: BLE001
            raise write_failed(where, e) from None
        finally:
            if self._stuck is None:
                self._save_threads = []

    def close(self) -> None:
        """Waits for the save in flight and closes the manager; a failed save is one
        GrokjaxError (the manager's close raises the same failure again: not a second one).
        After a save that stalled, the manager is not closed (its close would wait for that
        save for ever)."""
        error = None
        try:
            self.wait()
        except GrokjaxError as e:
            error = e
        if self._stuck is None:
            try:
                _wait_with_progress(self.manager.close, _stall_seconds)
            except _Stalled as e:
                self._stuck = write_failed(self.directory, e)
                errors.leave_behind(self._save_threads)
                error = error or self._stuck
            except Exception as e:  # noqa: BLE001
                error = error or write_failed(self.directory, e)
        if error is not None:
            raise error


class _Stalled(TimeoutError):
    """A wait for a save during which the process wrote nothing for too long."""


def _stall_seconds() -> float:
    """SAVE_STALL_SECONDS; four times that with several processes, where one that wrote its
    part of a save waits for the others at orbax's barriers, writing nothing."""
    return SAVE_STALL_SECONDS * (4 if jax.process_count() > 1 else 1)


def _written_bytes() -> tuple | None:
    """What has been written so far, to compare with a later reading: the bytes this process
    passed to write calls, every thread's (/proc/self/io `wchar`), and the system's dirty and
    writeback pages (/proc/meminfo: they change while an fsync pushes a save to the disk);
    None where Linux's /proc cannot be read."""
    try:
        with open("/proc/self/io", encoding="ascii") as f:
            wchar = next(int(line.split()[1]) for line in f if line.startswith("wchar:"))
        with open("/proc/meminfo", encoding="ascii") as f:
            pages = tuple(line.split()[1] for line in f
                          if line.startswith(("Dirty:", "Writeback:")))
    except (OSError, ValueError, StopIteration):
        return None
    return wchar, pages


def _wait_with_progress(call: Callable[[], Any], stall: float | Callable[[], float], *,
                        poll: float = 0.1, progress: Callable[[], Any] | None = None) -> Any:
    """`call()` (a wait that has no timeout of its own: orbax's) in a helper thread. The main
    thread waits for it answering signals (a blocking wait inside a library does not run
    Python's signal handlers, so Ctrl-C would do nothing), and gives up with `_Stalled` once
    nothing has been written for `stall` seconds (`progress()`: a reading that changes as
    bytes are written, _written_bytes by default; None, unknown: after 4 x `stall` in all;
    `stall` may be a function, asked only once the wait takes longer than a poll). The helper
    thread is a daemon, left to finish or not."""
    progress = progress or _written_bytes
    result: dict[str, Any] = {}

    def run():
        try:
            result["value"] = call()
        except BaseException as e:  # noqa: BLE001  (re-raised in the waiting thread)
            result["error"] = e

    thread = threading.Thread(target=run, name="grokjax-checkpoint-wait", daemon=True)
    thread.start()
    thread.join(poll)
    if thread.is_alive():
        last, since = progress(), time.monotonic()
        stall = stall() if callable(stall) else stall
        limit = stall if last is not None else 4 * stall
        while thread.is_alive():
            thread.join(poll)
            now, written = time.monotonic(), progress()
            if written is not None and written != last:
                last, since = written, now
            elif now - since > limit:
                raise _Stalled(f"the save wrote nothing for {limit:.0f} s (a disk that does "
                               "not answer?)")
    if "error" in result:
        raise result["error"]
    return result.get("value")


def read_failure(error: BaseException) -> str:
    """The cause of a failed read in one line: the innermost error of the chain (orbax wraps
    TensorStore's "Error reading ...: byte range ... is not valid" in errors whose text ends in a
    pybind11 method repr), without TensorStore's "See full details" tail. A context the code
    suppressed (`raise ... from None`, as json's decoder hides its StopIteration) is not part
    of the chain."""
    seen = []
    while error is not None and error not in seen:
        seen.append(error)
        error = error.__cause__ or (None if error.__suppress_context__ else error.__context__)
    for e in reversed(seen):
        text = str(e).split("See full TensorStore details")[0].strip()
        if text:
            first = text.splitlines()[0].strip().rstrip(".")
            return f"{type(e).__name__}: {first[:300]}"
    return type(seen[-1]).__name__


def saved_steps(run_dir: str | pathlib.Path) -> list[int]:
    """The steps saved in a run directory, read from the step directories' names alone: no
    orbax manager, so cheap enough to ask of every run of a sweep. A save in progress (orbax's
    temporary name) is not counted."""
    directory = RunFiles(run_dir).checkpoints
    if not directory.is_dir():
        return []
    return sorted(int(d.name) for d in directory.iterdir() if d.name.isdigit())


def _unpack_history(item: dict) -> dict[str, np.ndarray]:
    """The history item as saved (see `save`): an empty one is only its length."""
    history = {k: np.asarray(v) for k, v in item.items()}
    return history if int(history.pop("n_points")) else {"step": np.zeros((0,), np.int32)}


def abstract_like(tree: Any, sharding=None) -> Any:
    """ShapeDtypeStructs of `tree` (arrays or ShapeDtypeStructs) placed with `sharding`."""
    return jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=sharding), tree)


def disk_bytes(path: str | pathlib.Path) -> int:
    return sum(f.stat().st_size for f in pathlib.Path(path).rglob("*") if f.is_file())
