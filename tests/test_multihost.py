"""Several processes (hosts) train one run: two processes with two CPU devices each, joined by
jax.distributed, give the results of one process with four devices."""

import os
import socket
import subprocess
import sys

from tests.conftest import TINY, assert_two_processes_ran_as_one


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
    assert_two_processes_ran_as_one(tmp_path / "two", tmp_path / "one")
