"""What long runs meet: a member that diverges, an interrupt, a failing disk, files that are
not what they claim. Each test makes the fault happen for real (or at the write layer) and
checks that no work is lost and the user is told in one line."""

import json
import shlex
import signal
import subprocess
import sys
import time

import jax
import numpy as np
import pytest

from grokjax import cli, run
from grokjax.store import checkpoint, rundir
from tests.conftest import TINY, tb_events


@pytest.fixture(scope="module")
def diverged(tmp_path_factory):
    """The tiny config as a grid lr = 0.001 (healthy) and 1000 (its second step is NaN), and
    the same grid with a second healthy lr in place of the diverging one."""
    root = tmp_path_factory.mktemp("diverged")
    for name, lrs in (("bad", "0.001,1000"), ("good", "0.001,0.002")):
        assert cli.main(["train", TINY, "--workdir", str(root / name), "--no-progress",
                         "--grid", f"lr={lrs}"]) == 0
    return root


def test_a_diverged_member_is_recorded_and_stops_moving(diverged):
    summary = json.loads((diverged / "bad" / "summary.json").read_text())
    by_lr = {(e["hparams"]["lr"], e["seed"]): e for e in summary["seeds"]}
    assert summary["diverged"] == 2
    assert [by_lr[(0.001, s)]["diverged_step"] for s in (0, 1)] == [-1, -1]
    steps = [by_lr[(1000.0, s)]["diverged_step"] for s in (0, 1)]
    assert all(0 < s < 20 for s in steps)
    # its params stay at their last finite values: the checkpoint and its histograms are whole
    state, _, _ = run.load_state(diverged / "bad")
    assert all(np.isfinite(np.asarray(x)).all() for x in jax.tree.leaves(state.params))
    history = rundir.read_npz(diverged / "bad" / "history.npz")
    norms = history["norm/total"][2]  # member (lr=1000, seed 0)
    after = history["step"] > steps[0]
    assert np.all(norms[after] == norms[after][0])


def test_the_healthy_members_are_bit_identical_to_a_run_without_the_diverging_one(diverged):
    bad = rundir.read_npz(diverged / "bad" / "history.npz")
    good = rundir.read_npz(diverged / "good" / "history.npz")
    for key in good:
        if key in ("step", "probe/step"):
            continue
        np.testing.assert_array_equal(bad[key][:2], good[key][:2], err_msg=key)


def test_tensorboard_collect_and_plot_take_a_diverged_member(diverged, tmp_path):
    events = tb_events(diverged / "bad" / "tb" / "lr=1000,seed_000")
    assert events.Scalars("event/diverged")[-1].value == 1.0
    assert events.Histograms("weights/embed.W_E")
    healthy = tb_events(diverged / "bad" / "tb" / "lr=0.001,seed_000")
    assert healthy.Scalars("event/diverged")[-1].value == 0
    assert cli.main(["collect", str(diverged), "--out", str(tmp_path)]) == 0
    table = (tmp_path / "results.md").read_text()
    assert "| diverged |" in table and "| 2/2 |" in table
    assert cli.main(["plot", str(diverged / "bad"), "--out", str(tmp_path / "plots")]) == 0


# -- interrupts ---------------------------------------------------------------------------

STEPS = ["--set", "train.steps=400", "--set", "train.chunk_steps=10",
         "--set", "checkpoint.save_every=100", "--set", "tensorboard.enabled=true"]


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
    """The uninterrupted run the interrupted ones must end up equal to."""
    workdir = tmp_path_factory.mktemp("straight") / "run"
    assert cli.main(["train", TINY, "--workdir", str(workdir), "--no-progress", *STEPS]) == 0
    return rundir.read_npz(workdir / "history.npz")


def _train(workdir):
    return subprocess.Popen([sys.executable, "-m", "grokjax", "train", TINY, "--workdir",
                             str(workdir), "--no-progress", *STEPS], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _wait_for(condition, timeout=120.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.mark.parametrize("when, signals", [
    ("starting", [signal.SIGINT]),  # while it inits and compiles
    ("training", [signal.SIGTERM]),  # between checkpoints, mid-chunk
    ("training", [signal.SIGINT, signal.SIGINT]),  # the second one quits at once
])
def test_an_interrupted_run_stops_within_seconds_and_resumes_to_the_same_result(
        tmp_path, straight, when, signals):
    workdir = tmp_path / "run"
    proc = _train(workdir)
    if when == "starting":
        _wait_for(lambda: (workdir / "config.json").exists())
    else:
        _wait_for(lambda: any(s >= 100 for s in checkpoint.saved_steps(workdir)))
    sent = time.monotonic()
    for s in signals:
        proc.send_signal(s)
        time.sleep(0.02)
    _, err = proc.communicate(timeout=30)
    assert time.monotonic() - sent < 15, "it took too long to stop"
    assert proc.returncode == 128 + signals[0], err
    assert not rundir.is_locked(workdir)
    if len(signals) == 1:
        line = err.strip().splitlines()[-1]
        assert "stopped at step" in line and "resume: grokjax train" in line, err
        assert "Traceback" not in err
        step = int(line.split("stopped at step ")[1].split(";")[0])
        assert step in checkpoint.saved_steps(workdir)  # saved where it stopped
        resume = shlex.split(line.split("resume: ")[1])[1:]
        assert resume[-2:] == ["--workdir", str(workdir)] or str(workdir) in resume
    else:
        assert "again: quitting now" in err
    assert cli.main(["train", TINY, "--workdir", str(workdir), "--no-progress", *STEPS]) == 0
    resumed = rundir.read_npz(workdir / "history.npz")
    for key in straight:
        np.testing.assert_array_equal(resumed[key], straight[key], err_msg=key)
