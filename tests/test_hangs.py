"""No exit path hangs: a full disk with TensorBoard on, a writer that blocks, a save that never
finishes; and a damaged checkpoint is one warning line, not a page of library noise. Each test
bounds its own wait, so a hang is a failure here, not a suite that never ends."""

import os
import resource
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from grokjax import cli, errors
from grokjax.experiment import build
from grokjax.monitor import tensorboard
from grokjax.store import checkpoint
from tests.conftest import TINY

# Chunks of a hundred steps with a spectrum image (22 kB) every ten: each chunk's events of a
# detail seed are some 200 kB, added together. A writer thread that dies on the first of them
# (EVENTS_FULL: past the step-0 and first-piece events, some 110-190 kB, and past every
# checkpoint file of this run, under 100 kB) leaves the rest in its queue, more than the pipe
# behind it holds (64 kB): its feeder thread blocks, and multiprocessing joined it at exit for
# ever.
EVENTS_FULL = 195_000
BIG_CHUNKS = ["--no-progress", "--set", "train.steps=200", "--set", "train.chunk_steps=100",
              "--set", "probe.every=10", "--set", "tensorboard.enabled=true"]
HUNG = 90  # seconds after which a run that has not exited counts as hung


def _file_size_limit(limit_bytes):
    """A child whose every file is limited to `limit_bytes` (a write past it fails with EFBIG,
    File too large), the way a full disk fails a write (as in test_faults)."""
    def pre():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, limit_bytes))
    return pre


def _tmpfs(where, size):
    """A small tmpfs mounted at `where` (a disk that really fills), or skip where it cannot be
    mounted (not root, no mount in this container)."""
    if os.geteuid() != 0 or not shutil.which("mount"):
        pytest.skip("mounting a tmpfs needs root")
    where.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
                          capture_output=True, text=True, check=False)
    if done.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")


# a real full disk by default; the file size limit's EFBIG (18 s) with -m slow
@pytest.mark.parametrize("disk", [pytest.param("file size limit", marks=pytest.mark.slow),
                                  "tmpfs"])
def test_a_full_disk_with_tensorboard_on_ends_in_one_line(tmp_path, disk):
    workdir, pre = tmp_path / "run", None
    if disk == "tmpfs":
        _tmpfs(tmp_path / "disk", "1m")
        workdir = tmp_path / "disk" / "run"
    else:
        pre = _file_size_limit(EVENTS_FULL)
    try:
        t0 = time.monotonic()
        try:
            out = subprocess.run([sys.executable, "-m", "grokjax", "train", TINY, "--out",
                                  str(workdir), *BIG_CHUNKS], capture_output=True, text=True,
                                 timeout=HUNG, preexec_fn=pre, check=False)
        except subprocess.TimeoutExpired as e:
            pytest.fail(f"still running after {HUNG} s (hung at exit?); stderr: {e.stderr!r}")
        took = time.monotonic() - t0
    finally:
        if disk == "tmpfs":
            subprocess.run(["umount", "-l", str(tmp_path / "disk")], check=False)
    lines = out.stderr.strip().splitlines()
    assert out.returncode == 2, out.stderr
    assert len(lines) == 1 and lines[0].startswith("grokjax: error: could not write "), lines
    assert "File too large" in lines[0] or "No space left on device" in lines[0], lines
    assert took < 60, took


# -- a writer that blocks ------------------------------------------------------------------

def _board(tmp_path, tiny):
    exp = build(tiny)
    board = tensorboard.Board(tmp_path / "run", tiny, exp.members, exp.dataset.task_names)
    board.open(0)
    return board


def test_a_tensorboard_writer_that_blocks_does_not_block_the_close(tmp_path, tiny,
                                                                     monkeypatch):
    """One writer's disk stops answering (its flush blocks), another's close fails: the board
    closes within its deadline, the third writer closes whole, and nothing is left that
    tensorboardX's atexit close or multiprocessing's exit handler would wait for."""
    board = _board(tmp_path, tiny)
    blocked, failing = board.writers[0], board.writers[1]
    healthy = board.aggregates["aggregate"]
    release = threading.Event()

    def block():
        release.wait()

    def fail():
        raise OSError(28, "No space left on device")
    blocked.file_writer.event_writer._ev_writer.flush = block  # pylint: disable=protected-access
    failing.close = fail
    events = [w.file_writer.event_writer for w in (blocked, failing)]
    monkeypatch.setattr(tensorboard, "CLOSE_SECONDS", 1.0, raising=False)
    closing = threading.Thread(target=board.close, daemon=True)
    t0 = time.monotonic()
    try:
        closing.start()
        closing.join(15)
        took = time.monotonic() - t0
        assert not closing.is_alive(), "Board.close() blocked on a writer that blocks"
        assert took < 4, took
        assert healthy.file_writer is None  # closed, whole
        for abandoned in events:  # nothing to do at exit: no flush, no join of its queue
            assert abandoned._closed  # pylint: disable=protected-access
            assert abandoned._event_queue._joincancelled  # pylint: disable=protected-access
    finally:
        release.set()
        closing.join(5)


def test_a_process_whose_writer_blocks_exits_without_closing_its_board(tmp_path):
    """A board never closed (a crash past every `finally`) is closed at exit, with the deadline,
    before tensorboardX's own atexit close, which would flush the blocked writer for ever."""
    script = textwrap.dedent(f"""
        import threading
        from grokjax.experiment import build
        from grokjax.monitor import tensorboard
        from tests.conftest import tiny_config
        cfg = tiny_config()
        exp = build(cfg)
        board = tensorboard.Board({str(tmp_path / "run")!r}, cfg, exp.members,
                                  exp.dataset.task_names)
        board.open(0)
        tensorboard.CLOSE_SECONDS = 1.0
        writer = board.writers[0].file_writer.event_writer._ev_writer
        writer.flush = lambda: threading.Event().wait()  # a disk that no longer answers
        print("opened", flush=True)
    """)
    try:
        out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                             timeout=HUNG, check=False)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"hung at exit; stdout: {e.stdout!r} stderr: {e.stderr!r}")
    assert out.returncode == 0 and "opened" in out.stdout, out.stderr


# -- a save that never finishes ----------------------------------------------------------------

def test_a_save_that_never_finishes_is_one_error_not_a_hang(tmp_path, monkeypatch):
    """orbax's wait has no timeout: a save on a disk that stopped answering (nothing written
    for SAVE_STALL_SECONDS) is given up with one error, and closing does not wait for it
    again."""
    ckpts = checkpoint.Checkpoints(tmp_path / "run")
    release = threading.Event()
    monkeypatch.setattr(ckpts.manager, "wait_until_finished", release.wait)
    monkeypatch.setattr(checkpoint, "SAVE_STALL_SECONDS", 1.0)
    monkeypatch.setattr(checkpoint, "_written_bytes", lambda: 0)  # nothing written
    ckpts._in_flight = 7  # pylint: disable=protected-access
    said = []

    def close():
        try:
            ckpts.close()
        except errors.GrokjaxError as e:
            said.append(str(e))
    closing = threading.Thread(target=close, daemon=True)
    t0 = time.monotonic()
    try:
        closing.start()
        closing.join(15)
        assert not closing.is_alive(), "Checkpoints.close() waited for ever"
        assert time.monotonic() - t0 < 5
        assert len(said) == 1 and "checkpoints/7: the save wrote nothing for 1 s" in said[0]
        with pytest.raises(errors.GrokjaxError, match="wrote nothing"):
            ckpts.wait()  # at once
    finally:
        release.set()


def test_a_run_whose_save_never_finishes_exits_with_one_error(tmp_path):
    """orbax's save thread (not a daemon: Python joins it at exit) hangs on a disk that stopped
    answering: the run gives it up, says so in one line and exits, not waiting for it."""
    script = textwrap.dedent(f"""
        import sys, threading
        import orbax.checkpoint as ocp
        from grokjax import cli
        from grokjax.store import checkpoint
        ocp.CheckpointManager._finalize = lambda *a, **k: threading.Event().wait()
        checkpoint.SAVE_STALL_SECONDS = 2.0
        checkpoint._written_bytes = lambda: 0  # nothing written meanwhile
        sys.exit(cli.main(["train", {TINY!r}, "--out", {str(tmp_path / "run")!r},
                           "--no-progress"]))
    """)
    try:
        out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                             timeout=HUNG, check=False)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"hung; stderr: {e.stderr!r}")
    lines = out.stderr.strip().splitlines()
    assert out.returncode == 2, out.stderr
    assert lines == [f"grokjax: error: could not write {tmp_path / 'run' / 'checkpoints' / '0'}"
                     ": the save wrote nothing for 2 s (a disk that does not answer?); the "
                     "files written before are unchanged (free space, or choose another --out)"]


def test_a_save_that_keeps_writing_is_waited_for(tmp_path, monkeypatch):
    """The deadline is tied to progress: a slow save that keeps writing is never cut short."""
    ckpts = checkpoint.Checkpoints(tmp_path / "run")
    written = iter(range(10**9))
    monkeypatch.setattr(ckpts.manager, "wait_until_finished", lambda: time.sleep(1.5))
    monkeypatch.setattr(checkpoint, "SAVE_STALL_SECONDS", 0.3)
    monkeypatch.setattr(checkpoint, "_written_bytes", lambda: next(written))
    ckpts.wait()
    ckpts.close()


def test_threads_left_behind_do_not_hold_the_exit():
    script = textwrap.dedent("""
        import threading
        from grokjax import errors
        stuck = threading.Thread(target=threading.Event().wait)  # not a daemon: joined at exit
        stuck.start()
        errors.leave_behind([stuck])
        print("left", flush=True)
    """)
    try:
        out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                             timeout=30, check=False)
    except subprocess.TimeoutExpired:
        pytest.fail("the exit waited for a thread left behind")
    assert out.returncode == errors.LEFT_BEHIND_EXIT and out.stdout == "left\n", out


# -- a damaged checkpoint ----------------------------------------------------------------------

def test_a_truncated_checkpoint_is_one_warning_line_on_resume(tmp_path):
    """A checkpoint whose array metadata is cut short: orbax's read coroutines that were left
    suspended used to print a 60-line TensorStore spec each whenever they were collected (some
    runs: none collected before the exit, so the resume collects them at its end)."""
    workdir = tmp_path / "run"
    assert cli.main(["train", TINY, "--out", str(workdir), "--no-progress", "--set",
                     "checkpoint.save_every=10"]) == 0
    step = workdir / "checkpoints" / "20"
    damaged = sorted(step.glob("state/array_metadatas/*")) or sorted(
        (f for f in step.rglob("*") if f.is_file()), key=lambda f: f.stat().st_size)[-1:]
    os.truncate(damaged[0], 0)
    resume = ["train", TINY, "--out", str(workdir), "--no-progress", "--steps", "30", "--set",
              "checkpoint.save_every=10"]
    out = subprocess.run([sys.executable, "-c", "import gc, sys; from grokjax import cli; "
                          f"code = cli.main({resume!r}); gc.collect(); sys.exit(code)"],
                         capture_output=True, text=True, timeout=HUNG, check=False)
    lines = out.stderr.strip().splitlines()
    assert out.returncode == 0, out.stderr
    assert len(lines) <= 2, out.stderr[:3000]
    assert lines[0].startswith("grokjax: warning: checkpoint step 20 is unreadable ("), lines
    assert "falling back to the previous good checkpoint" in lines[0]


def test_a_read_coroutine_that_turns_its_close_into_an_error_prints_nothing():
    """What orbax's read coroutines do when collected suspended (`except BaseException: raise
    Exception(...)` catches the close's GeneratorExit), made to happen every time: the command
    line prints nothing of it."""
    script = textwrap.dedent("""
        import gc
        from grokjax import errors
        errors.silence_library_noise()

        class Pending:
            def __await__(self):
                yield

        async def read_array():
            try:
                await Pending()
            except BaseException as e:
                raise Exception("Encountered error while reading array index") from e

        reads = [read_array() for _ in range(3)]
        for read in reads:
            read.send(None)  # suspended, as when another read failed first
        del reads, read
        gc.collect()
        print("collected", flush=True)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=60, check=False)
    assert out.returncode == 0 and out.stdout == "collected\n", out
    assert out.stderr == "", out.stderr
