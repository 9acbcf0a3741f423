"""The seed axis sharded over 4 and 8 fake CPU devices gives the single-device results."""

import json
import os
import subprocess
import sys

import pytest

from grokjax.store import rundir
from tests.conftest import TINY, assert_same_history


def start(n_devices, workdir, batching):
    """`grokjax train` of the tiny config with 8 seeds on n fake CPU devices, started in the
    background (the runs of a test overlap: their start-up is single-threaded Python)."""
    env = dict(os.environ, JAX_NUM_CPU_DEVICES=str(n_devices), XLA_FLAGS="")
    return workdir, subprocess.Popen(
        [sys.executable, "-m", "grokjax", "train", TINY, "--seeds", "8", "--workdir",
         str(workdir), "--no-progress", "--set", f"train.batching={batching}"], env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def finish(started):
    workdir, proc = started
    out = proc.communicate(timeout=600)[0]
    assert proc.returncode == 0, out
    return (rundir.read_npz(workdir / "history.npz"),
            json.loads((workdir / "run.json").read_text()))


@pytest.mark.parametrize("batching, device_counts", [("map", (4, 8)), ("vmap", (8,))])
def test_sharded_runs_equal_the_single_device_run(tmp_path, batching, device_counts):
    """Equal to float rounding (XLA's CPU backend splits large ops over its threads differently
    for different device layouts), with identical step counts and event steps."""
    runs = [start(n, tmp_path / f"d{n}", batching) for n in (1, *device_counts)]
    one, info1 = finish(runs[0])
    assert info1["mesh_devices"] == 1
    for n, started in zip(device_counts, runs[1:]):
        many, info = finish(started)
        assert info["mesh_devices"] == n and len(info["devices"]) == n
        assert_same_history(many, one)


def test_a_checkpoint_from_4_devices_resumes_on_1(tmp_path):
    """Saved with the seed axis over 4 devices (as on a multi-GPU box), resumed on a 1-device
    CPU: restores go against this process's abstract target."""
    base = [sys.executable, "-m", "grokjax", "train", TINY, "--seeds", "4", "--no-progress",
            "--set", "checkpoint.save_every=10"]
    env4 = dict(os.environ, JAX_NUM_CPU_DEVICES="4", XLA_FLAGS="")
    env1 = dict(os.environ, JAX_NUM_CPU_DEVICES="1", XLA_FLAGS="")
    moved, straight = tmp_path / "moved", tmp_path / "straight"
    alongside = subprocess.Popen([*base, "--workdir", str(straight), "--steps", "40"], env=env1,
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for args, env in (([*base, "--workdir", str(moved), "--steps", "20"], env4),
                      ([*base, "--workdir", str(moved), "--steps", "40"], env1)):
        subprocess.run(args, check=True, env=env, capture_output=True)
    out = alongside.communicate(timeout=600)[0]
    assert alongside.returncode == 0, out
    assert_same_history(rundir.read_npz(moved / "history.npz"),
                        rundir.read_npz(straight / "history.npz"))
