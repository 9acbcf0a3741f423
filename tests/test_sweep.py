"""Sweeps: a sweep file's runs trained here, skipped when finished, never trained twice, cut
into seed pieces and put together again by `grokjax collect`; the SLURM scripts and TPU
commands they become, as text; and bad input. (A real SLURM cluster: tests/test_slurm.py.)"""

import csv
import dataclasses
import os
import shlex
import signal
import subprocess
import sys
import time

import pytest

from grokjax.launch import local, slurm, sweep
from grokjax.report import collect
from grokjax.store import checkpoint, rundir
from grokjax.errors import BUSY_EXIT, GrokjaxError
from tests.conftest import TINY, png_size

SWEEP = "tests/tiny_sweep.py"


def grokjax(*args, **kw):
    return subprocess.run([sys.executable, "-m", "grokjax", *args], capture_output=True,
                          text=True, **kw)


def test_a_local_sweep_trains_every_run_skips_them_again_and_collects_one_table(tmp_path):
    root = tmp_path / "sweep"
    args = ("sweep", SWEEP, "--root", str(root), "--only", "add/*", "--seeds-per-task", "1")
    first = grokjax(*args, "--jobs", "2")
    assert first.returncode == 0, first.stderr
    pieces = ["add/r0.5/seeds-0-0", "add/r0.5/seeds-1-1"]
    for name in pieces:
        assert f"{name}: finished" in first.stdout
        assert (root / name / "summary.json").exists()
    manifest = rundir.read_json(root / "sweep.json")
    assert [(r["name"], r["group"]) for r in manifest["runs"]] == [(n, "add/r0.5") for n in pieces]

    again = grokjax(*args)
    assert again.returncode == 0 and again.stdout.count("skip (finished)") == 2

    out = grokjax("collect", str(root), "--plot")
    assert out.returncode == 0, out.stderr
    collect_rows_before = collect.rows(root)[0]
    with open(root / "results.csv") as f:
        rows = list(csv.DictReader(f))
    assert [(r["run"], r["task"], r["p"], r["r"], r["seeds"], r["status"]) for r in rows] == [
        ("add/r0.5", "add", "11", "0.5", "2", "finished")]  # the two pieces, one row again
    with open(root / "seeds.csv") as f:
        seeds = list(csv.DictReader(f))
    assert [(s["run"], s["seed"]) for s in seeds] == [("add/r0.5", "0"), ("add/r0.5", "1")]
    summary = rundir.read_json(root / "add/r0.5/seeds-1-1/summary.json")
    assert seeds[1]["grok_step"] == str(summary["seeds"][0]["grok_step"])
    assert seeds[1]["best_test_acc"] == str(round(summary["seeds"][0]["best_test_acc"], 4))
    assert "| add/r0.5 | add | 11 | 0.5 | " in (root / "results.md").read_text()
    assert png_size(root / "grok-steps.png")[0] > 0
    (root / "sweep.json").unlink()  # without the manifest the pieces are still one run
    assert collect.rows(root)[0] == collect_rows_before


@pytest.mark.parametrize("to_group, signum", [
    (False, signal.SIGTERM),  # a batch system's or `kill`'s, to the sweep alone
    (True, signal.SIGINT),  # a terminal's Ctrl-C, to the sweep's whole process group
])
def test_a_signal_to_a_local_sweep_stops_its_run_with_a_checkpoint_and_starts_no_other(
        tmp_path, to_group, signum):
    """The run in flight gets the signal once, stops with a checkpoint and releases its lock
    before the sweep exits (128 + the signal); the run queued after it never starts. (A sweep
    killed by SIGTERM used to leave its run training on, orphaned and locked.)"""
    root = tmp_path / "sweep"
    sweep_proc = subprocess.Popen(
        [sys.executable, "-m", "grokjax", "sweep", SWEEP, "--root", str(root), "--set",
         "train.steps=1000000", "--set", "checkpoint.save_every=20"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    first = root / "add/r0.5"
    deadline = time.monotonic() + 120
    while not checkpoint.saved_steps(first):
        assert sweep_proc.poll() is None and time.monotonic() < deadline, "no checkpoint"
        time.sleep(0.1)
    if to_group:
        os.killpg(sweep_proc.pid, signum)
    else:
        sweep_proc.send_signal(signum)
    out, err = sweep_proc.communicate(timeout=60)
    assert sweep_proc.returncode == 128 + signum, out + err
    assert "add/r0.5: stopped (exit" in out and "subtract/r0.5: not started" in out, out
    assert f"stopped by {signum.name}; the same command resumes the sweep" in out
    assert not rundir.is_locked(first)  # the run ended before the sweep did
    log = (root / "logs/add__r0.5.log").read_text()
    assert "stopped at step" in log and "quitting now" not in log, log  # once, with a checkpoint
    step = int(log.split("stopped at step ")[1].split(";")[0])
    assert step in checkpoint.saved_steps(first)
    assert not (root / "subtract/r0.5").exists()


def test_collect_lists_runs_that_have_not_finished(tmp_path):
    root = tmp_path / "sweep"
    planned = sweep.plan(sweep.load(SWEEP)[1], root)
    sweep.write_manifest(root, SWEEP, planned, {"backend": "local"})
    (root / "subtract/r0.5/checkpoints/10").mkdir(parents=True)
    table, per_seed = collect.rows(root)
    assert [(r["run"], r["status"]) for r in table] == [
        ("add/r0.5", "new"), ("subtract/r0.5", "partial (step 10)")]
    assert per_seed == []
    assert "| subtract/r0.5 | subtract | 11 | 0.5 | - | - | - | - | partial (step 10) |" in \
        collect.markdown(table)


def test_a_run_being_trained_is_never_trained_twice(tmp_path):
    workdir = tmp_path / "run"
    with rundir.lock(workdir):
        assert rundir.is_locked(workdir)
        out = grokjax("train", TINY, "--workdir", str(workdir), "--no-progress")
        assert out.returncode == BUSY_EXIT
        assert "being trained by another process" in out.stderr
        planned = sweep.plan(sweep.load(SWEEP)[1], tmp_path)
        assert sweep.state(dataclasses.replace(planned[0], workdir=workdir)) == "running"
    assert not rundir.is_locked(workdir)
    assert not (workdir / "checkpoints").exists()


def test_a_killed_trainer_leaves_no_lock(tmp_path):
    workdir = tmp_path / "run"
    code = ("import pathlib, os; from grokjax.store import rundir\n"
            f"with rundir.lock(pathlib.Path({str(workdir)!r})): os._exit(9)")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 9
    assert not rundir.is_locked(workdir)


def _planned(tmp_path, arg="staged"):
    return sweep.plan(sweep.load(f"{SWEEP}:{arg}")[1], tmp_path / "root")


def test_slurm_scripts_hold_one_run_per_array_task_and_stages_wait(tmp_path, capsys):
    profile = tmp_path / "cluster.toml"
    profile.write_text('[slurm]\npartition = "gpu"\naccount = "grok"\ngpus_per_task = 1\n'
                       'time = "02:00:00"\nmax_parallel = 8\nsetup = "module load cuda"\n'
                       'extra = ["--constraint=h100"]\n')
    prof = slurm.SlurmProfile.load(str(profile), time="04:00:00")  # options beat the profile
    planned = _planned(tmp_path)
    slurm.submit_slurm(planned, planned, tmp_path / "root", "tiny", prof, dry_run=True)
    text = capsys.readouterr().out
    stage0, stage1 = text.split("# ---- " + str(tmp_path / "root/slurm/stage-1.sbatch"))
    for opt in ("--job-name=grokjax-tiny-stage0", "--array=0-1%8", "--partition=gpu",
                "--account=grok", "--gpus-per-task=1", "--time=04:00:00", "--requeue",
                "--signal=B:USR1@120", "--constraint=h100"):
        assert f"#SBATCH {opt}\n" in stage0
    assert "set -o pipefail\ncd " in stage0 and "module load cuda\nset -u\n" in stage0
    assert "trap requeue USR1" in stage0
    lines = [line for line in stage0.splitlines() if line.startswith(("  0)", "  1)"))]
    argv = shlex.split(lines[1].split(")", 1)[1].split(" & ;;")[0])
    assert argv[1:4] == ["-m", "grokjax", "train"] and "subtract/r0.5" in argv[argv.index("--workdir") + 1]
    assert "JOB0=$(sbatch --parsable " in stage0
    assert 'exit "$rc"' in stage0 and "-eq 3" not in stage0  # busy (3) fails the task
    assert "--array=0-0%8" in stage1
    assert "--dependency=afterok:$JOB0 --kill-on-invalid-dep=yes" in stage1
    assert "transfer.from_run=" + str(tmp_path / "root/add/r0.5") in stage1
    assert not (tmp_path / "root").exists()  # a dry run writes nothing


def test_a_multi_process_run_starts_under_srun_with_distributed(tmp_path):
    prof = slurm.SlurmProfile(tasks_per_run=2)
    script = slurm.sbatch_script(_planned(tmp_path, "")[:1], tmp_path, "x", prof, tmp_path)
    assert "#SBATCH --ntasks=2" in script
    assert "  0) srun --ntasks=2 --kill-on-bad-exit=1 " in script and " --distributed & ;;" in script


def test_tpu_commands_start_the_same_distributed_run_on_every_worker(tmp_path):
    out = grokjax("sweep", f"{SWEEP}:staged", "--backend", "tpu", "--root", "/mnt/shared/tiny",
                  "--tpu", "grok-pod", "--zone", "us-central2-b", "--project", "lab",
                  "--tpu-setup", "source ~/venv/bin/activate", "--dry-run")
    assert out.returncode == 0, out.stderr
    cmds = [shlex.split(line) for line in out.stdout.splitlines() if line.startswith("gcloud")]
    assert len(cmds) == 3  # in stage order: add, subtract, then the transfer run
    head = ["gcloud", "compute", "tpus", "tpu-vm", "ssh", "grok-pod", "--zone=us-central2-b",
            "--project=lab", "--worker=all"]
    assert all(c[:9] == head for c in cmds)
    inner = cmds[2][9].removeprefix("--command=").split(" && ")
    assert inner[:2] == ["cd ~/grokjax", "source ~/venv/bin/activate"]
    argv = shlex.split(inner[2])
    assert argv[:4] == ["python3", "-m", "grokjax", "train"] and argv[-1] == "--distributed"
    assert argv[argv.index("--workdir") + 1] == "/mnt/shared/tiny/pge-add/x_x_y"
    missing = grokjax("sweep", SWEEP, "--backend", "tpu", "--dry-run")
    assert missing.returncode == 2 and "--tpu NAME and --zone" in missing.stderr


@pytest.mark.parametrize("body, message", [
    ("x = 1", "defines no get_runs()"),
    ("from grokjax.launch.sweep import Run\ndef get_runs(arg=None):\n"
     "    return [Run('a', 'tests/tiny.py'), Run('a', 'tests/tiny.py')]", "names runs twice: a"),
    ("from grokjax.launch.sweep import Run\ndef get_runs(arg=None):\n"
     "    return [Run('../a', 'tests/tiny.py')]", "relative path inside the sweep root"),
])
def test_bad_sweep_files_are_one_clear_error(tmp_path, body, message):
    path = tmp_path / "sweep_bad.py"
    path.write_text(body + "\n")
    with pytest.raises(GrokjaxError, match=message.replace("(", r"\(").replace(")", r"\)")):
        sweep.load(str(path))


def test_bad_runs_and_options_are_named_before_anything_runs(tmp_path):
    runs = sweep.load(SWEEP)[1]
    with pytest.raises(GrokjaxError, match="--only 'mul\\*' matches none"):
        sweep.select(sweep.plan(runs, tmp_path), "mul*")
    with pytest.raises(GrokjaxError, match="sweep run 'add/r0.5': unknown config key"):
        sweep.plan(runs, tmp_path, extra=["train.stepz=3"])
    with pytest.raises(GrokjaxError, match="not found"):
        sweep.load("experiments/sweep_nothing.py")
    bad = tmp_path / "p.toml"
    bad.write_text("[slurm]\ngpus = 2\n")
    with pytest.raises(GrokjaxError, match="unknown \\[slurm\\] key\\(s\\) gpus"):
        slurm.SlurmProfile.load(str(bad))
    with pytest.raises(GrokjaxError, match="no finished run"):
        collect.write(tmp_path)
    with pytest.raises(GrokjaxError, match="starts from it; leave it whole"):
        sweep.plan(sweep.load(f"{SWEEP}:staged")[1], tmp_path, seeds_per_task=1)


def test_a_stage_never_starts_before_the_runs_it_needs(tmp_path, capsys):
    everything = _planned(tmp_path)
    later = sweep.select(everything, "pge-*")
    assert later[0].needs == ("add/r0.5",)  # named by its transfer.from_run, not subtract
    with pytest.raises(GrokjaxError, match="start from earlier runs that are not finished: "
                       "add/r0.5; let them finish"):
        slurm.submit_slurm(everything, later, tmp_path / "root", "tiny", slurm.SlurmProfile(),
                            dry_run=True)
    with pytest.raises(GrokjaxError, match="not finished: add/r0.5"):
        local.run_local(everything, later, tmp_path / "root")
    sweep.check_order(everything, sweep.select(everything, "add/*,pge-*"))  # both: fine
    with rundir.lock(tmp_path / "root/add/r0.5"):  # trained elsewhere: not a start for it
        with pytest.raises(GrokjaxError, match="not finished: add/r0.5"):
            sweep.check_order(everything, later)


def test_a_run_is_not_cut_into_other_pieces_than_before(tmp_path):
    runs, root = sweep.load(SWEEP)[1], tmp_path / "root"
    (root / "add/r0.5/seeds-0-0").mkdir(parents=True)
    (root / "add/r0.5/seeds-0-0/config.json").write_text("{}")
    assert len(sweep.plan(runs, root, seeds_per_task=1)) == 4
    with pytest.raises(GrokjaxError, match="already holds 'add/r0.5' as add/r0.5/seeds-0-0"):
        sweep.plan(runs, root)
    (root / "subtract/r0.5").mkdir(parents=True)
    (root / "subtract/r0.5/config.json").write_text("{}")
    with pytest.raises(GrokjaxError, match="already holds 'subtract/r0.5' as whole"):
        sweep.plan(runs, root, seeds_per_task=1)


def test_collect_without_a_sweep_file_lists_unfinished_runs_too(tmp_path):
    # Without sweep.json, collect finds run directories by their config.json: a run with
    # checkpoints only, one not yet begun, and one extended (--steps) past its summary are
    # listed with their status, beside a finished one; task, p and r come from the config.
    from grokjax.store.files import RunFiles
    from tests.conftest import tiny_config
    root = tmp_path / "runs"
    summary = {"task": "add", "p": 11, "train_fraction": 0.5, "steps": 20, "grokked": 0,
               "n_members": 1, "seeds": [{"seed": 0, "memorisation_step": -1, "grok_step": -1,
                                          "best_test_acc": 0.25, "test_acc": 0.2,
                                          "train_acc": 0.5}]}
    for name, steps, saved, summarised in (("done", 20, 20, True), ("extended", 40, 20, True),
                                           ("partial", 20, 10, False), ("new", 20, None, False)):
        run = RunFiles(root / name)
        run.root.mkdir(parents=True)
        cfg = tiny_config().to_dict()
        cfg["train"]["steps"] = steps
        rundir.write_json(run.config, cfg)
        if saved is not None:
            (run.checkpoints / str(saved)).mkdir(parents=True)
        if summarised:
            rundir.write_json(run.summary, summary)
    table, per_seed = collect.rows(root)
    assert [(r["run"], r["task"], r["p"], r["r"], r["status"]) for r in table] == [
        ("done", "add", 11, 0.5, "finished"), ("extended", "add", 11, 0.5, "partial (step 20)"),
        ("new", "add", 11, 0.5, "new"), ("partial", "add", 11, 0.5, "partial (step 10)")]
    assert [s["run"] for s in per_seed] == ["done"]
    assert "| partial | add | 11 | 0.5 | - | - | - | - | partial (step 10) |" in \
        collect.markdown(table)
