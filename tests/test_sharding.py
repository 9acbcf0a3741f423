"""The seed axis sharded over fake CPU devices, and over two processes, gives the results of one
device; a checkpoint saved on 4 devices resumes on 1.

Every run here is the tiny config with 4 seeds and checkpoints every 10 steps, trained by
`grokjax train` in a subprocess of its own (a process fixes its device count when jax starts).
The runs a test needs are started together: their start-up is single-threaded Python.
"""

import json
import os
import shutil
import socket
import subprocess
import sys

import pytest

from grokjax.store import rundir
from tests.conftest import TINY, assert_same_history, assert_two_processes_ran_as_one

BASE = [sys.executable, "-m", "grokjax", "train", TINY, "--seeds", "4", "--no-progress",
        "--set", "checkpoint.save_every=10"]


def start(workdir, n_devices, *args):
    """`grokjax train` of the tiny config with 4 seeds on n fake CPU devices, in the
    background."""
    flags = [f for f in os.environ.get("XLA_FLAGS", "").split()  # the count is n_devices alone
             if not f.startswith("--xla_force_host_platform_device_count")]
    env = dict(os.environ, JAX_NUM_CPU_DEVICES=str(n_devices), XLA_FLAGS=" ".join(flags))
    return workdir, subprocess.Popen([*BASE, "--out", str(workdir), *args], env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def finish(*started):
    """Waits for started runs; their histories and run.json records, in order."""
    results = []
    for workdir, proc in started:
        out = proc.communicate(timeout=600)[0]
        assert proc.returncode == 0, out
        results.append((rundir.read_npz(workdir / "history.npz"),
                        json.loads((workdir / "run.json").read_text())))
    return results


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """20 steps on 1 device and on 4 (one member each), batched by lax.map (the CPU default);
    and on 2 devices batched by vmap (two members each)."""
    root = tmp_path_factory.mktemp("sharding")
    started = {"d1": start(root / "d1", 1), "d4": start(root / "d4", 4),
               "d2-vmap": start(root / "d2-vmap", 2, "--set", "train.batching=vmap")}
    return {name: (s[0], *r) for (name, s), r in zip(started.items(), finish(*started.values()))}


def test_sharded_runs_equal_the_single_device_run(runs):
    """Equal to float rounding (XLA's CPU backend splits large ops over its threads differently
    for different device layouts), with identical step counts and event steps."""
    _, one, info1 = runs["d1"]
    assert info1["mesh_devices"] == 1
    for name, n in (("d4", 4), ("d2-vmap", 2)):
        _, many, info = runs[name]
        assert info["mesh_devices"] == n and len(info["devices"]) == n
        assert_same_history(many, one)


def test_a_checkpoint_from_4_devices_resumes_on_1(runs, tmp_path):
    """Saved with the seed axis over 4 devices (as on a multi-GPU box), resumed on a 1-device
    CPU: restores go against this process's abstract target. It continues as the 1-device run
    does from its own step-20 checkpoint."""
    moved, straight = tmp_path / "moved", tmp_path / "straight"
    shutil.copytree(runs["d4"][0], moved)
    shutil.copytree(runs["d1"][0], straight)
    (a, _), (b, _) = finish(start(moved, 1, "--steps", "40"), start(straight, 1, "--steps", "40"))
    assert a["step"][-1] == 40
    assert_same_history(a, b)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


@pytest.mark.slow  # 28 s: two processes; the SLURM tests run multi-host under srun too
def test_two_processes_train_one_run_as_one_process_does(runs, tmp_path):
    """Two processes with two CPU devices each, joined by jax.distributed, give the results of
    one process with four, checkpoints included."""
    coordinator = f"localhost:{_free_port()}"
    two = [start(tmp_path / "two", 2, "--distributed", "--coordinator", coordinator,
                 "--num-processes", "2", "--process-id", str(i)) for i in range(2)]
    outs = [proc.communicate(timeout=300)[0] for _, proc in two]
    assert [proc.returncode for _, proc in two] == [0, 0], outs
    assert_two_processes_ran_as_one(tmp_path / "two", runs["d4"][0])
