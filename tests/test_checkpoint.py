"""Checkpoints: what they hold, exact resume after SIGKILL, corrupt checkpoints, extensions and
the edge cases of resuming (transfer: tests/test_transfer.py)."""

import os
import pathlib
import signal
import subprocess
import sys
import time

import jax
import numpy as np
import pytest

from grokjax import cli
from grokjax.store import rundir
from grokjax.store.checkpoint import Checkpoints
from grokjax.saved import open_run
from tests.conftest import TINY, assert_same_history, params_of, tb_events
from tests.conftest import train_tiny as train

REPO = pathlib.Path(__file__).resolve().parent.parent


def assert_same_run(a, b):
    """Bit for bit: the metric history and the final params; and TensorBoard (after the purge
    of what a killed run wrote past its checkpoint) shows the same points as for one run."""
    ha, hb = rundir.read_npz(a / "history.npz"), rundir.read_npz(b / "history.npz")
    assert set(ha) == set(hb)
    for key in ha:
        np.testing.assert_array_equal(ha[key], hb[key], err_msg=key)
    jax.tree.map(np.testing.assert_array_equal, params_of(a), params_of(b))
    for name, tag in (("seed_001", "curves/test/acc"), ("aggregate", "spread/norm/total/max"),
                      ("seed_000", "probe/ffd/W_E")):
        ea, eb = (tb_events(run / "tb" / name).Scalars(tag) for run in (a, b))
        assert [(e.step, e.value) for e in ea] == [(e.step, e.value) for e in eb], (name, tag)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    """The tiny config for 40 steps with checkpoints every 10: the reference for resumes."""
    run = tmp_path_factory.mktemp("ref") / "run"
    train(run, "--steps", "40", "--set", "checkpoint.save_every=10")
    return run


def test_a_checkpoint_holds_state_history_splits_and_meta(uninterrupted):
    checkpoints = Checkpoints(uninterrupted, read_only=True)
    assert checkpoints.steps() == [0, 20, 30, 40]  # step 0, the latest 3 (keep=3)
    run = open_run(uninterrupted)
    saved = run.restore(30)
    state, meta, exp = saved.state, saved.meta, run.experiment
    assert int(state.step[0]) == 30 and meta["step"] == 30 and not meta["final"]
    assert meta["seeds"] == [0, 1] and meta["config"]["task"] == "add"
    assert np.asarray(state.rng).dtype == np.uint32 and state.mem_step.shape == (2, 2)
    first = Checkpoints(uninterrupted, read_only=True).manager.restore(
        30, args=__import__("orbax.checkpoint").checkpoint.args.Composite(
            splits=__import__("orbax.checkpoint").checkpoint.args.StandardRestore()))["splits"]
    np.testing.assert_array_equal(first["train_idx"], exp.train_idx)


def test_rerunning_a_finished_run_changes_nothing(uninterrupted, capsys):
    before = {p: p.read_bytes() for p in uninterrupted.glob("*.json")}
    before_h = (uninterrupted / "history.npz").read_bytes()
    train(uninterrupted, "--steps", "40", "--set", "checkpoint.save_every=10")
    assert "complete at step 40" in capsys.readouterr().out
    assert {p: p.read_bytes() for p in uninterrupted.glob("*.json")} == before
    assert (uninterrupted / "history.npz").read_bytes() == before_h


def test_outputs_lost_after_the_final_checkpoint_are_rebuilt_from_it(uninterrupted, tmp_path):
    run = tmp_path / "run"
    train(run, "--steps", "40", "--set", "checkpoint.save_every=10")
    history = (run / "history.npz").read_bytes()
    (run / "history.npz").unlink()
    (run / "summary.json").unlink()  # as if killed between the final checkpoint and these
    train(run, "--steps", "40", "--set", "checkpoint.save_every=10")
    assert (run / "history.npz").read_bytes() == history
    assert rundir.read_json(run / "summary.json")["steps"] == 40


def test_a_deleted_history_of_a_finished_run_is_rebuilt_by_resuming_it(tmp_path, capsys):
    """Its summary is still there: `plot` says to resume, and resuming writes history.npz
    again from the final checkpoint (it used to report the run complete and write nothing)."""
    run = tmp_path / "run"
    train(run, "--steps", "20")
    history = (run / "history.npz").read_bytes()
    (run / "history.npz").unlink()
    assert cli.main(["plot", str(run)]) == 2
    assert f"grokjax train CONFIG --out {run}" in capsys.readouterr().err
    train(run, "--steps", "20")
    assert (run / "history.npz").read_bytes() == history


def test_a_run_stopped_early_because_every_seed_grokked_stays_stopped(tmp_path, capsys):
    run = tmp_path / "run"
    stop = ["--steps", "40", "--set", "train.stop_when_grokked=true", "--set",
            "train.acc_threshold=1e-9", "--set", "checkpoint.save_every=10"]  # groks at once
    history = train(run, *stop)
    np.testing.assert_array_equal(history["step"], [0, 5, 10])  # one chunk, then the final point
    assert Checkpoints(run, read_only=True).steps() == [0, 10]
    train(run, *stop)
    assert "complete at step 10" in capsys.readouterr().out


def test_extending_a_finished_run_equals_running_longer_at_once(uninterrupted, tmp_path):
    run = tmp_path / "run"
    train(run, "--steps", "20", "--set", "checkpoint.save_every=10")
    train(run, "--steps", "40", "--set", "checkpoint.save_every=10")
    assert_same_run(run, uninterrupted)


def test_sigkill_then_resume_is_bit_identical(tmp_path):
    run, reference = tmp_path / "killed", tmp_path / "reference"
    cmd = [sys.executable, "-m", "grokjax", "train", TINY, "--out", str(run), "--steps", "160",
           "--no-progress", "--set", "checkpoint.save_every=20", "--set", "checkpoint.keep=2"]
    straight = subprocess.Popen([*cmd[:6], str(reference), *cmd[7:]], cwd=REPO,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while time.time() < deadline:  # kill it mid-run, whatever it is doing then
        saved = [int(p.name) for p in (run / "checkpoints").glob("[0-9]*") if p.name.isdigit()]
        if saved and max(saved) >= 60:
            break
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (run / "summary.json").exists(), "the run finished before it was killed"
    subprocess.run(cmd, cwd=REPO, check=True, capture_output=True)
    assert straight.wait(timeout=300) == 0, straight.stderr.read()
    assert_same_run(run, reference)


def test_corrupt_latest_checkpoint_falls_back_to_the_previous_good_one(uninterrupted, tmp_path,
                                                                       capsys):
    run = tmp_path / "run"
    train(run, "--steps", "20", "--set", "checkpoint.save_every=10")
    for f in (run / "checkpoints" / "20" / "state").rglob("*"):
        if f.is_file() and f.stat().st_size > 64:
            f.write_bytes(f.read_bytes()[: f.stat().st_size // 2])  # truncate every array file
    train(run, "--steps", "40", "--set", "checkpoint.save_every=10")
    err = capsys.readouterr().err
    assert "checkpoint step 20 is unreadable" in err and "falling back" in err
    warning = next(line for line in err.splitlines() if "unreadable" in line)
    # the innermost cause (a byte range past a truncated file's end, or JSON cut short),
    # not orbax's wrapper with a pybind11 method's repr
    assert "pybind11" not in warning and "See full" not in warning, warning
    moved = list((run / "corrupt_checkpoints").iterdir())
    assert len(moved) == 1 and moved[0].name.startswith("20-")  # kept, not deleted
    assert_same_run(run, uninterrupted)


# ----------------------------------------------------------------------------------------------
# Edge cases of resuming


def test_a_stop_when_grokked_run_that_never_grokked_can_be_extended(tmp_path, capsys):
    run = tmp_path / "run"
    stop = ["--set", "train.stop_when_grokked=true", "--set", "checkpoint.save_every=10"]
    train(run, "--steps", "20", *stop)
    history = train(run, "--steps", "40", *stop)
    assert "complete" not in capsys.readouterr().out and history["step"][-1] == 40


def test_an_extension_from_between_chunks_keeps_the_checkpoint_cadence(tmp_path):
    run = tmp_path / "run"
    every = ["--set", "checkpoint.save_every=10", "--set", "checkpoint.keep=10",
             "--set", "probe.every=5"]
    train(run, "--steps", "25", *every)
    train(run, "--steps", "65", *every)
    assert Checkpoints(run, read_only=True).steps() == [0, 10, 20, 25, 30, 40, 50, 60, 65]


def test_an_unfinished_run_is_inspected_from_its_latest_checkpoint(tmp_path, capsys):
    run = tmp_path / "run"
    train(run, "--steps", "20", "--set", "checkpoint.save_every=10")
    (run / "summary.json").unlink()
    checkpoints = Checkpoints(run)
    checkpoints.manager.delete(20)  # as if killed between steps 10 and 20
    checkpoints.close()
    capsys.readouterr()
    assert cli.main(["inspect", str(run)]) == 0
    out = capsys.readouterr().out
    assert "unfinished, at step 10" in out and "memorised 0/2" in out


def test_a_run_written_before_a_config_key_existed_still_resumes(tmp_path):
    run = tmp_path / "run"
    train(run, "--steps", "20", "--set", "checkpoint.save_every=10")
    saved = rundir.read_json(run / "config.json")
    del saved["probe"]  # as written by a grokjax without probes: the defaults apply
    saved["train"].pop("batching")
    rundir.write_json(run / "config.json", saved)
    history = train(run, "--steps", "40", "--set", "checkpoint.save_every=10")
    assert history["step"][-1] == 40


def test_a_resumed_run_refuses_a_checkpoint_of_other_splits(tmp_path, monkeypatch, capsys):
    """The checkpoint's `splits` item is read back on resume: a run whose config now makes
    other splits than it was trained on (another numpy's permutation, say: simulated here by a
    split function that reverses the order) stops with the arrays that differ, before it
    trains a step; its finished state is untouched."""
    from grokjax import data
    run = tmp_path / "run"
    args = ["train", TINY, "--out", str(run), "--no-progress", "--steps", "10",
            "--set", "checkpoint.save_every=10"]
    assert cli.main(args) == 0
    before = sorted(p.name for p in (run / "checkpoints").iterdir())
    capsys.readouterr()
    real = data.split_indices
    monkeypatch.setattr(data, "split_indices",
                        lambda n, *a, **k: tuple(x[::-1].copy() for x in real(n, *a, **k)))
    assert cli.main(args[:-4] + ["--steps", "20", "--set", "checkpoint.save_every=10"]) == 2
    err = capsys.readouterr().err
    assert "makes other splits (train_idx, test_idx) than the checkpoint of step 10" in err, err
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == before


def test_a_run_directory_written_before_the_layout_change_still_works(tmp_path, capsys):
    """tests/data/run-before-layout was written by grokjax before its subpackages (commit
    0680877: `grokjax train tests/tiny.py --set tensorboard.enabled=false --set
    checkpoint.save_every=10`). Today's grokjax inspects, probes and plots it, and resumes it:
    its checkpoints restore into today's state, and 10 more steps continue it."""
    import shutil
    run = tmp_path / "run"
    shutil.copytree(pathlib.Path(__file__).parent / "data" / "run-before-layout", run)
    assert cli.main(["inspect", str(run)]) == 0
    assert "finished at step 20: grokked 0/2" in capsys.readouterr().out
    assert cli.main(["probe", str(run)]) == 0
    assert cli.main(["plot", str(run), "--out", str(tmp_path / "plots")]) == 0
    saved = open_run(run).restore(10)
    assert int(saved.state.step[0]) == 10 and not saved.meta["final"]
    assert cli.main(["train", TINY, "--out", str(run), "--no-progress", "--steps", "30",
                     "--set", "tensorboard.enabled=false", "--set", "checkpoint.save_every=10"]) == 0
    history = rundir.read_npz(run / "history.npz")
    assert int(history["step"][-1]) == 30 and history["train/loss"].shape == (2, 7, 1)
    # today's code from the start: the same run, its steps and events exactly, its metrics to
    # float rounding (the divergence guard, added since, changes how XLA fuses the update:
    # one weight norm of the 14 differs in its last bit)
    fresh = tmp_path / "fresh"
    assert cli.main(["train", TINY, "--out", str(fresh), "--no-progress", "--steps", "30",
                     "--set", "tensorboard.enabled=false", "--set", "checkpoint.save_every=10"]) == 0
    again = rundir.read_npz(fresh / "history.npz")
    assert set(again) == set(history)
    # metrics added since (Prieto et al.'s stability measures) are NaN where the old grokjax
    # recorded its points (steps 0-15), and today's values from the resume on
    old = rundir.read_npz(pathlib.Path(__file__).parent / "data" / "run-before-layout"
                          / "history.npz")
    new_keys = {k for k in set(history) - set(old)
                if k.startswith("grad/") or k.endswith(("softmax_collapse", "zero_loss"))
                or k == "probe/logits_explained"}  # (a probe added since, too)
    assert {"grad/descent_cos", "train/softmax_collapse", "test/zero_loss"} <= new_keys
    n_old = len(old["step"]) - 1  # its last point, the final record, is recomputed
    n_probes = len(old["probe/step"]) - 1  # the same for the probes' points
    for key in new_keys:
        n = n_probes if key.startswith("probe/") else n_old
        assert np.isnan(history[key][:, :n]).all(), key
        history[key][:, :n] = again[key][:, :n]
    assert_same_history(history, again)
