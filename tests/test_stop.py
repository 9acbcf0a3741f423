"""A stop request on a long chunk, and the pieces the loop dispatches (grokjax.run._loop):
the loop runs a chunk as pieces of about two seconds, so a signal ends the run within seconds
however long a chunk is, and progress moves while it runs; the pieces' lengths change no
result."""

import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from grokjax import cli, memory, run
from grokjax.store import rundir
from tests.conftest import TINY


def _train(workdir, *args):
    assert cli.main(["train", TINY, "--out", str(workdir), "--no-progress", "--steps", "40",
                     "--set", "train.chunk_steps=40", "--set", "checkpoint.save_every=0",
                     "--set", "tensorboard.enabled=false", *args]) == 0
    return rundir.read_npz(workdir / "history.npz")


@pytest.fixture
def dispatched(monkeypatch):
    """The number of outer iterations of every piece the loop dispatches (the run calls the
    chunk program that grokjax.memory compiled for its estimate)."""
    counts = []
    estimate = memory.estimate

    def recording(exp):
        est = estimate(exp)
        chunk = est.compiled["chunk"]

        def call(state, data, active):
            counts.append(int(active))
            return chunk(state, data, active)
        est.compiled["chunk"] = call
        return est
    monkeypatch.setattr(memory, "estimate", recording)
    return counts


def test_the_pieces_lengths_change_no_result(tmp_path, monkeypatch, dispatched):
    """One outer iteration (10 steps) per dispatch, against the whole 40-step chunk at once:
    the same history, bit for bit."""
    monkeypatch.setattr(run, "PIECE_SECONDS", 1e-9)  # the shortest pieces: one iteration
    short = _train(tmp_path / "short")
    assert dispatched == [1, 1, 1, 1]  # the first piece, then one iteration at a time
    dispatched.clear()
    monkeypatch.setattr(run, "PIECE_SECONDS", 1e9)  # the longest: the rest of the chunk
    long = _train(tmp_path / "long")
    assert dispatched == [1, 3]  # the first piece (which times the speed), then the rest
    assert set(short) == set(long)
    for key in short:
        np.testing.assert_array_equal(short[key], long[key], err_msg=key)


def test_a_piece_is_about_two_seconds_of_whole_iterations():
    tcfg = type("T", (), {"chunk_steps": 1000})
    assert run._piece_steps(tcfg, 50, None, 100) == 100  # no speed yet: the first piece's
    assert run._piece_steps(tcfg, 50, 0.01, 100) == 200  # 2 s at 100 steps/s
    assert run._piece_steps(tcfg, 50, 1.0, 100) == 50  # at least one iteration
    assert run._piece_steps(tcfg, 50, 1e-6, 100) == 1000  # at most a chunk


def test_a_signal_on_a_long_chunk_stops_the_run_within_seconds(tmp_path):
    """The quick config with its whole run as one 1,500-step chunk: Ctrl-C after the first
    progress ends the run seconds later, mid-chunk, where it used to run the chunk out (here,
    the whole run). The first progress line comes at once without a terminal."""
    workdir = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, "-m", "grokjax", "train", "configs/quick.py", "--seeds", "2", "--out",
         str(workdir), "--set", "train.chunk_steps=1500", "--set", "checkpoint.save_every=0",
         "--set", "tensorboard.enabled=false"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    started = time.monotonic()
    line = ""
    while "step " not in line or "/1500" not in line:  # the first progress line
        line = proc.stderr.readline()
        assert line or proc.poll() is None, "it ended before any progress"
        assert time.monotonic() - started < 120, "no progress line"
    at = int(re.search(r"step (\d+)/1500", line).group(1))
    assert at < 1500
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    took = time.monotonic() - sent
    assert proc.returncode == 130, err
    stopped = int(re.search(r"stopped at step (\d+)", err).group(1))
    assert at < stopped < 1500, (at, stopped)  # mid-chunk, not at its end
    assert took < 10, f"{took:.1f} s from the signal to the exit"
