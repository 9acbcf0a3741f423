"""Several processes (hosts) train one run: two processes with two CPU devices each, joined by
jax.distributed, give the results of one process with four devices."""

import json
import os
import socket
import subprocess
import sys

import numpy as np

from grokjax import rundir
from tests.conftest import TINY


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def test_two_processes_train_one_sweep_as_one_process_does(tmp_path):
    base = [sys.executable, "-m", "grokjax", "train", TINY, "--seeds", "4", "--no-progress",
            "--set", "checkpoint.save_every=10"]
    env2 = dict(os.environ, JAX_NUM_CPU_DEVICES="2", XLA_FLAGS="")
    coordinator = f"localhost:{_free_port()}"
    procs = [subprocess.Popen([*base, "--workdir", str(tmp_path / "two"), "--distributed",
                               "--coordinator", coordinator, "--num-processes", "2",
                               "--process-id", str(i)], env=env2, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
             for i in range(2)]
    outs = [p.communicate(timeout=300)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    env4 = dict(os.environ, JAX_NUM_CPU_DEVICES="4", XLA_FLAGS="")
    subprocess.run([*base, "--workdir", str(tmp_path / "one")], env=env4, check=True,
                   capture_output=True)
    info = json.loads((tmp_path / "two" / "run.json").read_text())
    assert info["process_count"] == 2 and info["mesh_devices"] == 4
    two, one = (rundir.read_npz(tmp_path / d / "history.npz") for d in ("two", "one"))
    assert set(two) == set(one)
    for key in one:
        if key in ("step", "probe/step", "mem_step", "grok_step"):
            np.testing.assert_array_equal(two[key], one[key], err_msg=key)
        else:
            np.testing.assert_allclose(two[key], one[key], rtol=1e-5, atol=1e-7, err_msg=key)
    assert sorted(p.name for p in (tmp_path / "two" / "checkpoints").iterdir()
                  if p.name.isdigit()) == ["0", "10", "20"]
