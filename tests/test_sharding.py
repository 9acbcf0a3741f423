"""The seed axis sharded over 4 and 8 fake CPU devices gives the single-device results."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from grokjax import rundir
from tests.conftest import TINY


def train_on(n_devices, workdir, batching):
    env = dict(os.environ, JAX_NUM_CPU_DEVICES=str(n_devices), XLA_FLAGS="")
    subprocess.run([sys.executable, "-m", "grokjax", "train", TINY, "--seeds", "8",
                    "--workdir", str(workdir), "--no-progress", "--set",
                    f"train.batching={batching}"], check=True, env=env, capture_output=True)
    return (rundir.read_npz(workdir / "history.npz"),
            json.loads((workdir / "run.json").read_text()))


@pytest.mark.parametrize("batching", ["map", "vmap"])
def test_sharded_runs_equal_the_single_device_run(tmp_path, batching):
    """Equal to float rounding (XLA's CPU backend splits large ops over its threads differently
    for different device layouts), with identical step counts and event steps."""
    one, info1 = train_on(1, tmp_path / "one", batching)
    assert info1["mesh_devices"] == 1
    for n in (4, 8):
        many, info = train_on(n, tmp_path / f"d{n}", batching)
        assert info["mesh_devices"] == n and len(info["devices"]) == n
        assert set(many) == set(one)
        for key in one:
            if key in ("step", "mem_step", "grok_step"):
                np.testing.assert_array_equal(many[key], one[key], err_msg=key)
            else:
                np.testing.assert_allclose(many[key], one[key], rtol=1e-5, atol=1e-7, err_msg=key)
