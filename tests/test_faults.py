"""What long runs meet: a member that diverges, an interrupt, a failing disk, files that are
not what they claim. Each test makes the fault happen for real (or at the write layer) and
checks that no work is lost and the user is told in one line."""

import json
import resource
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time

import jax
import numpy as np
import pytest

from grokjax import cli
from grokjax.experiment import build
from grokjax.errors import GrokjaxError
from grokjax.store import checkpoint, rundir
from tests.conftest import TINY, params_of, tb_events


@pytest.fixture(scope="module")
def diverged(tmp_path_factory):
    """The tiny config as a grid lr = 0.001 (healthy) and 1000 (its second step is NaN), and
    the same grid with a second healthy lr in place of the diverging one."""
    root = tmp_path_factory.mktemp("diverged")
    for name, lrs in (("bad", "0.001,1000"), ("good", "0.001,0.002")):
        assert cli.main(["train", TINY, "--out", str(root / name), "--no-progress",
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
    params = params_of(diverged / "bad")
    assert all(np.isfinite(np.asarray(x)).all() for x in jax.tree.leaves(params))
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
    assert cli.main(["train", TINY, "--out", str(workdir), "--no-progress", *STEPS]) == 0
    return rundir.read_npz(workdir / "history.npz")


def _train(workdir):
    return subprocess.Popen([sys.executable, "-m", "grokjax", "train", TINY, "--out",
                             str(workdir), "--no-progress", *STEPS], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _wait_for(condition, timeout=120.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.mark.parametrize("when, signals", [
    # while it inits and compiles (slow: 23 s; the signals mid-training below run by default)
    pytest.param("starting", [signal.SIGINT], marks=pytest.mark.slow),
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
    lines = []  # its stderr, read as it comes
    reader = threading.Thread(target=lambda: lines.extend(proc.stderr), daemon=True)
    reader.start()
    for s in signals:
        proc.send_signal(s)
        # the next signal once this one is answered: two that reach Python before its handler
        # runs are one (CPython coalesces them), which a loaded machine showed
        _wait_for(lambda: any("stopping after the piece" in ln for ln in lines)
                  or proc.poll() is not None, timeout=15)
    proc.wait(timeout=30)
    reader.join(timeout=10)
    err = "".join(lines)
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
        assert resume[-2:] == ["--out", str(workdir)] or str(workdir) in resume
    else:
        assert "again: quitting now" in err
    assert cli.main(["train", TINY, "--out", str(workdir), "--no-progress", *STEPS]) == 0
    resumed = rundir.read_npz(workdir / "history.npz")
    for key in straight:
        np.testing.assert_array_equal(resumed[key], straight[key], err_msg=key)


# -- writes that fail ------------------------------------------------------------------------

def _limited(limit_bytes):
    """A child whose every file is limited to `limit_bytes` (RLIMIT_FSIZE: a write past it
    fails with EFBIG, File too large), the way a full disk fails a write."""
    def pre():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, limit_bytes))
    return pre


# events first, or checkpoints (the events-first case, 22 s, with -m slow)
@pytest.mark.parametrize("tensorboard", [pytest.param("true", marks=pytest.mark.slow), "false"])
def test_a_failing_write_is_one_line_and_the_last_good_checkpoint_survives(
        tmp_path, straight, tensorboard):
    workdir = tmp_path / "run"
    first = STEPS[:1] + ["train.steps=200"] + STEPS[2:]
    assert cli.main(["train", TINY, "--out", str(workdir), "--no-progress", *first]) == 0
    before = checkpoint.saved_steps(workdir)
    t0 = time.monotonic()
    out = subprocess.run([sys.executable, "-m", "grokjax", "train", TINY, "--out",
                          str(workdir), "--no-progress", *STEPS, "--set",
                          f"tensorboard.enabled={tensorboard}"], capture_output=True,
                         text=True, timeout=120, preexec_fn=_limited(20_000))
    assert time.monotonic() - t0 < 60
    assert out.returncode != 0
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr  # nothing else: no library's traceback or warning
    assert lines[0].startswith("grokjax: error: could not write ") and "File too large" in lines[0]
    assert checkpoint.saved_steps(workdir) == before  # nothing good was lost
    assert cli.main(["train", TINY, "--out", str(workdir), "--no-progress", *STEPS]) == 0
    resumed = rundir.read_npz(workdir / "history.npz")
    for key in straight:
        np.testing.assert_array_equal(resumed[key], straight[key], err_msg=key)


def test_replacing_a_checkpoint_never_deletes_the_good_one_first(tmp_path, monkeypatch, tiny):
    """The final save of a step that has a non-final checkpoint: if writing the new one fails,
    the old one is back and readable."""
    workdir = tmp_path / "run"
    assert cli.main(["train", TINY, "--out", str(workdir), "--no-progress"]) == 0
    exp = build(tiny)
    ckpts = checkpoint.Checkpoints(workdir)
    saved = ckpts.restore_latest_good(exp.abstract_state())
    step = saved.step

    monkeypatch.setattr(ckpts.manager, "save", _full_disk)
    with pytest.raises(GrokjaxError, match=f"could not write .*checkpoints/{step}: No space"):
        ckpts.replace(step, saved.state, saved.history, saved.splits, saved.meta)
    monkeypatch.undo()
    again = ckpts.restore(step, exp.abstract_state())
    assert again.meta == saved.meta and not list(workdir.glob(".replaced-*"))
    ckpts.replace(step, saved.state, saved.history, saved.splits, {**saved.meta, "note": 1})
    assert ckpts.restore(step, exp.abstract_state()).meta["note"] == 1
    ckpts.close()


def _full_disk(*args, **kwargs):
    raise OSError(28, "No space left on device")


def test_a_save_that_fails_in_the_background_is_one_line_and_the_events_are_closed(
        tmp_path, monkeypatch, capsys):
    """The asynchronous step-0 save fails (orbax raises it when waited for, and again when its
    manager closes): one error, not a second traceback from the close; the TensorBoard writers
    are closed all the same, so nothing flushes again at exit."""
    import orbax.checkpoint as ocp
    from tensorboardX import SummaryWriter
    closed = []
    monkeypatch.setattr(ocp.CheckpointManager, "wait_until_finished", _full_disk)
    monkeypatch.setattr(ocp.CheckpointManager, "close", _full_disk)
    real_close = SummaryWriter.close
    monkeypatch.setattr(SummaryWriter, "close", lambda w: closed.append(w) or real_close(w))
    assert cli.main(["train", TINY, "--out", str(tmp_path / "run"), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "could not write" in err[0] and "No space left" in err[0], err
    assert len(closed) == 3  # both seed runs and the aggregate


def test_an_event_flush_that_fails_is_one_line_naming_the_events(tmp_path, monkeypatch,
                                                                  capsys):
    from tensorboardX import SummaryWriter
    monkeypatch.setattr(SummaryWriter, "flush", _full_disk)
    assert cli.main(["train", TINY, "--out", str(tmp_path / "run"), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"grokjax: error: could not write {tmp_path / 'run' / 'tb'}: No space left on "
                   "device; the files written before are unchanged (free space, or choose "
                   "another --out)"]


def test_a_workdir_that_is_a_file_is_one_line(tmp_path, capsys):
    (tmp_path / "f").write_text("")
    assert cli.main(["train", TINY, "--out", str(tmp_path / "f")]) == 2
    assert "is a file, not a directory" in capsys.readouterr().err


# -- files that are not what they claim ------------------------------------------------------

@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("finished") / "run"
    assert cli.main(["train", TINY, "--out", str(workdir), "--no-progress"]) == 0
    return workdir


def _copy(finished, where):
    shutil.copytree(finished, where)
    return where


@pytest.mark.parametrize("content", ["{garbage", "[1, 2]", '{"task": "add", "seeds": 3}'])
@pytest.mark.parametrize("command", ["inspect", "plot", "train"])
def test_a_damaged_summary_is_rebuilt_from_the_history(finished, tmp_path, capsys, content,
                                                       command):
    run_dir = _copy(finished, tmp_path / "run")
    (run_dir / "summary.json").write_text(content)
    args = {"inspect": ["inspect", str(run_dir)],
            "plot": ["plot", str(run_dir), "--out", str(tmp_path / "plots")],
            "train": ["train", TINY, "--out", str(run_dir), "--no-progress"]}[command]
    assert cli.main(args) == 0
    good = json.loads((finished / "summary.json").read_text())
    rebuilt = json.loads((run_dir / "summary.json").read_text())
    assert rebuilt["seeds"] == good["seeds"] and rebuilt["steps"] == good["steps"]
    if command != "train":  # (a complete run rewrites its summary from the final checkpoint)
        assert "summary.json is damaged" in capsys.readouterr().err


def test_collect_goes_on_past_a_run_that_cannot_be_rebuilt(finished, tmp_path, capsys):
    _copy(finished, tmp_path / "sweep" / "good")
    bad = _copy(finished, tmp_path / "sweep" / "bad")
    (bad / "summary.json").write_text("{garbage")
    (bad / "history.npz").write_bytes(b"not a zip")
    assert cli.main(["collect", str(tmp_path / "sweep"), "--out", str(tmp_path / "out")]) == 0
    err = capsys.readouterr().err
    assert "history.npz is damaged: not a readable .npz" in err and "warning" in err
    table = (tmp_path / "out" / "results.md").read_text()
    assert "| good |" in table and "| bad |" in table and "damaged" in table


@pytest.mark.parametrize("name, content, says", [
    ("config.json", "{", "config.json is damaged: not JSON"),
    ("config.json", "[]", "config.json is damaged: not what grokjax writes there"),
    ("run.json", '"x"', "run.json is damaged"),
])
def test_every_reader_names_the_damaged_file(finished, tmp_path, capsys, name, content, says):
    run_dir = _copy(finished, tmp_path / "run")
    (run_dir / name).write_text(content)
    for args in (["inspect", str(run_dir)], ["probe", str(run_dir), "--out", str(tmp_path)],
                 ["train", TINY, "--out", str(run_dir), "--no-progress"]):
        assert cli.main(args) == 2, args
        err = capsys.readouterr().err
        assert says in err and err.count("\n") == 1, (args, err)


@pytest.mark.parametrize("text, says", [
    ("def get_config(:\n    pass\n", "bad.py, line 1: SyntaxError"),
    ("import no_such_module_here\n", "bad.py, line 1: ModuleNotFoundError"),
    ("def get_config():\n    return undefined_name\n", "bad.py, line 2: NameError"),
    ("def get_config():\n    return 3\n", "get_config() returned a int, not a config"),
])
def test_a_broken_config_file_is_one_line_naming_the_file_and_line(tmp_path, capsys, text, says):
    (tmp_path / "bad.py").write_text(text)
    assert cli.main(["train", str(tmp_path / "bad.py"), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert says in err and err.count("\n") == 1, err
    assert not (tmp_path / "r").exists()
    with pytest.raises(Exception):  # --debug: the traceback
        cli.main(["--debug", "config", str(tmp_path / "bad.py")])


def test_values_allowed_but_probably_not_meant_are_warned(tmp_path, capsys):
    assert cli.main(["train", TINY, "--out", str(tmp_path / "r"), "--no-progress",
                     "--set", "checkpoint.pin=(500,)", "--set", "optim.batch_size=100"]) == 0
    err = capsys.readouterr().err
    assert "checkpoint.pin (500,) lies past train.steps=20" in err
    assert "optim.batch_size=100 is not smaller than the train set (60 examples)" in err


def test_a_refused_transfer_leaves_no_half_made_directory(finished, tmp_path, capsys):
    target = tmp_path / "target"
    assert cli.main(["train", TINY, "--out", str(target), "--no-progress", "--seed-list",
                     "5", "--init-from", str(finished), "--load", "embed"]) == 2
    assert "have no source seed of the same number" in capsys.readouterr().err
    assert not target.exists()


@pytest.mark.parametrize("steps, says", [
    ("1234", "train.steps=1234 must be a multiple of train.eval_every=10 and probe.every=100 (a "
             "probe ends every interval): give --steps 1200 or 1300, or 1230 or 1240 with --set "
             "probe.every=0"),
    ("1230", "train.steps=1230 must be a multiple of probe.every=100 (a probe ends every "
             "interval): give --steps 1200 or 1300, or --set probe.every=0"),
])
def test_a_step_count_that_does_not_fit_says_which_do(capsys, steps, says):
    assert cli.main(["config", "configs/add.py", "--set", f"train.steps={steps}"]) == 2
    assert says in capsys.readouterr().err
