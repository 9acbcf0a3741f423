"""Several processes (hosts) train one run under a real SLURM: `srun --ntasks=2` starts two
processes with two CPU devices each, `grokjax train --distributed` with no coordinator arguments
lets jax.distributed.initialize() find the coordinator, process count and id in SLURM's
environment, and the results are those of one process with four devices (as in
tests/test_sharding.py, which joins the processes by hand).

Sweeps through the same SLURM: `grokjax sweep --backend slurm` submits a two-stage sweep as
job arrays (the second after the first), refuses to submit it again while it is queued, and
`grokjax collect` tables it; a task warned of its time limit requeues itself and resumes.

Needs a running SLURM (deselected by default):
    bash tests/slurm/local_cluster.sh start
    python -m pytest -m slurm tests/test_slurm.py
"""

import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import numpy as np
import pytest

from grokjax.store import rundir
from tests.conftest import TINY, assert_two_processes_ran_as_one

pytestmark = pytest.mark.slurm

ROOT = Path(__file__).resolve().parent.parent
CLUSTER = ROOT / "tests" / "slurm" / "local_cluster.sh"
SKIP = "SLURM is not running here: bash tests/slurm/local_cluster.sh start"


@pytest.fixture(scope="module", autouse=True)
def slurm_running():
    if shutil.which("sinfo") is None or shutil.which("srun") is None:
        pytest.skip(SKIP)
    try:
        up = subprocess.run(["bash", str(CLUSTER), "status"], capture_output=True,
                            timeout=60).returncode == 0
    except subprocess.TimeoutExpired:
        up = False
    if not up:
        pytest.skip(SKIP)


def _without_slurm(env: dict) -> dict:
    """The environment less SLURM's own variables: srun then asks for a job of its own, even
    where these tests themselves run inside a SLURM job."""
    return {k: v for k, v in env.items() if not k.startswith(("SLURM_", "SRUN_", "SBATCH_"))}


def _srun(args: list[str], env: dict, timeout: float) -> str:
    """Runs `srun ARGS` as a job of its own; on a timeout cancels the job and fails."""
    name = f"grokjax-test-{uuid.uuid4().hex[:8]}"
    p = subprocess.Popen(["srun", f"--job-name={name}", *args], cwd=ROOT, env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        out = p.communicate(timeout=timeout)[0]
    except subprocess.TimeoutExpired:
        p.terminate()  # srun passes it on to the tasks and ends the step
        try:
            out = p.communicate(timeout=30)[0]
        except subprocess.TimeoutExpired:
            p.kill()
            out = p.communicate()[0]
        subprocess.run(["scancel", f"--name={name}"], capture_output=True, timeout=30)
        pytest.fail(f"srun did not finish within {timeout} s (is the cluster busy or broken?)"
                    f"\n{out}")
    assert p.returncode == 0, out
    return out


def test_two_processes_under_srun_train_as_one_process_does(tmp_path):
    base = [sys.executable, "-m", "grokjax", "train", TINY, "--seeds", "4", "--no-progress",
            "--set", "checkpoint.save_every=10"]
    env2 = _without_slurm(dict(os.environ, JAX_NUM_CPU_DEVICES="2", XLA_FLAGS=""))
    # Two tasks on the one node, one CPU each; no --coordinator/--num-processes/--process-id:
    # JAX's SlurmCluster reads SLURM_JOB_ID, SLURM_STEP_NODELIST, SLURM_NTASKS, SLURM_PROCID.
    out = _srun(["--ntasks=2", "--cpus-per-task=1", "--nodes=1", "--time=10", "--export=ALL",
                 "--kill-on-bad-exit=1", "--label",
                 *base, "--workdir", str(tmp_path / "two"), "--distributed"],
                env=env2, timeout=540)
    env4 = dict(os.environ, JAX_NUM_CPU_DEVICES="4", XLA_FLAGS="")
    subprocess.run([*base, "--workdir", str(tmp_path / "one")], env=env4, cwd=ROOT, check=True,
                   capture_output=True, timeout=300)
    assert_two_processes_ran_as_one(tmp_path / "two", tmp_path / "one", out)


def _grokjax(*args, env=None, timeout=120):
    return subprocess.run([sys.executable, "-m", "grokjax", *args], cwd=ROOT, capture_output=True,
                          text=True, env=env or _without_slurm(dict(os.environ)), timeout=timeout)


def _wait_for(job_ids: list[str], timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = subprocess.run(["squeue", "-h", "-j", ",".join(job_ids), "-o", "%i %T"],
                             capture_output=True, text=True).stdout
        if not out.strip():
            return
        time.sleep(1)
    subprocess.run(["scancel", *job_ids], capture_output=True)
    pytest.fail(f"jobs {job_ids} did not finish within {timeout} s: {out}")


SLURM_OPTS = ["--backend", "slurm", "--cpus-per-task", "1", "--time", "10"]


def test_a_sweep_submitted_to_slurm_runs_its_stages_in_order_and_collects(tmp_path):
    root = tmp_path / "sweep"
    first = _grokjax("sweep", "tests/tiny_sweep.py:staged", "--root", str(root), *SLURM_OPTS)
    assert first.returncode == 0, first.stderr
    jobs = rundir.read_json(root / "sweep.json")["submissions"][-1]["job_ids"]
    assert len(jobs) == 2  # stage 0 (add, subtract) and stage 1 (PG-E from add), afterok
    twice = _grokjax("sweep", "tests/tiny_sweep.py:staged", "--root", str(root), *SLURM_OPTS)
    assert twice.returncode == 2 and "already queued or running" in twice.stderr
    _wait_for(jobs)
    out = _grokjax("collect", str(root))
    assert out.returncode == 0, out.stderr
    for row in ("| add/r0.5 | add | 11 | 0.5 | 0/2 |", "| subtract/r0.5 | subtract | 11 | 0.5 |",
                "| pge-add/x_x_y | x_x_y | 11 | 0.5 | 0/2 |"):
        assert row in out.stdout
    assert out.stdout.count("| finished |") == 3
    source = rundir.read_json(root / "pge-add/x_x_y/run.json")["transfer"]
    assert source["from_run"] == str(root / "add/r0.5") and source["source_step"] == 20
    again = _grokjax("sweep", "tests/tiny_sweep.py:staged", "--root", str(root), *SLURM_OPTS)
    assert again.returncode == 0 and "3 of 3 runs finished or running; 0 to submit" in again.stdout


def test_a_task_warned_of_its_time_limit_requeues_itself_and_resumes_exactly(tmp_path):
    """The USR1 that --signal sends before the time limit (here sent by hand): the task
    requeues itself, SLURM starts it again, and the run resumes from its last checkpoint; its
    history equals an uninterrupted run's."""
    root, steps = tmp_path / "sweep", ["--set", "train.steps=400", "--set", "train.chunk_steps=10"]
    sub = _grokjax("sweep", "tests/tiny_sweep.py", "--root", str(root), "--only", "add/*",
                   *steps, *SLURM_OPTS)
    assert sub.returncode == 0, sub.stderr
    job = rundir.read_json(root / "sweep.json")["submissions"][-1]["job_ids"][0]
    ckpts = root / "add/r0.5/checkpoints"
    deadline = time.monotonic() + 120
    while not (ckpts.is_dir() and any(p.name.isdigit() and int(p.name) >= 20
                                      for p in ckpts.iterdir())):
        assert time.monotonic() < deadline, "the run never reached its step-20 checkpoint"
        time.sleep(0.2)
    subprocess.run(["scancel", "--batch", "--signal=USR1", f"{job}_0"], check=True)
    _wait_for([job], timeout=300)
    log = "".join(p.read_text() for p in (root / "slurm").glob("*.out"))
    assert "requeueing to resume from the last checkpoint" in log
    assert "resuming" in log and "from step" in log
    straight = tmp_path / "straight"
    _grokjax("train", "tests/tiny.py", "--workdir", str(straight), "--no-progress", "--seeds", "2",
             "--set", "task=add", "--set", "checkpoint.save_every=10", *steps, timeout=300)
    a, b = (rundir.read_npz(d / "history.npz") for d in (root / "add/r0.5", straight))
    for key in b:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)
