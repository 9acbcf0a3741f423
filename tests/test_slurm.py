"""Several processes (hosts) train one run under a real SLURM: `srun --ntasks=2` starts two
processes with two CPU devices each, `grokjax train --distributed` with no coordinator arguments
lets jax.distributed.initialize() find the coordinator, process count and id in SLURM's
environment, and the results are those of one process with four devices (as in
tests/test_multihost.py, which joins the processes by hand).

Needs a running SLURM (deselected by default):
    bash tests/slurm/local_cluster.sh start
    python -m pytest -m slurm tests/test_slurm.py
"""

import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import numpy as np
import pytest

from grokjax import rundir
from tests.conftest import TINY

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
    info = json.loads((tmp_path / "two" / "run.json").read_text())
    assert info["process_count"] == 2 and info["mesh_devices"] == 4, out
    two, one = (rundir.read_npz(tmp_path / d / "history.npz") for d in ("two", "one"))
    assert set(two) == set(one)
    for key in one:
        if key in ("step", "probe/step", "mem_step", "grok_step"):
            np.testing.assert_array_equal(two[key], one[key], err_msg=key)
        else:
            np.testing.assert_allclose(two[key], one[key], rtol=1e-5, atol=1e-7, err_msg=key)
    assert sorted(p.name for p in (tmp_path / "two" / "checkpoints").iterdir()
                  if p.name.isdigit()) == ["0", "10", "20"]
