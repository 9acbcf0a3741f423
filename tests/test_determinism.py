"""The same bits every run on a GPU: grokjax asks XLA for deterministic ops before JAX's backend
starts (grokjax.numerics), merged with the user's XLA_FLAGS, and run.json records what is in
effect. XLA reads XLA_FLAGS once per process, so each case runs in a fresh one. (That the flag
makes a GPU's reruns identical was measured on an H200; a CPU computes the same bits without
it, which tests/test_train.py and test_checkpoint.py check.)"""

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import TINY

FLAG = "--xla_gpu_deterministic_ops"


def in_fresh_python(code: str, xla_flags: str | None) -> dict:
    """Runs `code` (which prints a JSON line last) in a new Python with XLA_FLAGS set."""
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    if xla_flags is not None:
        env["XLA_FLAGS"] = xla_flags
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=120, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


ASK = """
import json, jax
from grokjax import numerics
from jax._src import xla_bridge
{before}
numerics.configure("float64", {on})
jax.numpy.ones(3).sum()  # the backend has started: XLA has read its flags
print(json.dumps(numerics.determinism()))
"""


@pytest.mark.parametrize("user, on, before, want", [
    (None, True, "", {"gpu_deterministic_ops": True, "deterministic_how": "set",
                      "xla_flags": f"{FLAG}=true"}),
    ("--xla_cpu_enable_fast_math=false", True, "",  # merged with the user's flags
     {"gpu_deterministic_ops": True, "deterministic_how": "set",
      "xla_flags": f"--xla_cpu_enable_fast_math=false {FLAG}=true"}),
    (f"{FLAG}=false", True, "",  # the user's own choice stands
     {"gpu_deterministic_ops": False, "deterministic_how": "user", "xla_flags": f"{FLAG}=false"}),
    (None, False, "",  # numerics.deterministic=false: nothing added
     {"gpu_deterministic_ops": False, "deterministic_how": "off", "xla_flags": ""}),
    (None, True, "jax.numpy.zeros(1).block_until_ready()",  # JAX started first: too late
     {"gpu_deterministic_ops": False, "deterministic_how": "late", "xla_flags": ""}),
])
def test_deterministic_ops_are_asked_for_before_the_backend_starts(user, on, before, want):
    assert in_fresh_python(ASK.format(on=on, before=before), user) == want


def test_a_run_records_the_flags_it_ran_with(tmp_path):
    """`grokjax train`, as a user runs it: the flag is in XLA_FLAGS before the backend starts
    ('set'), beside the user's own, and run.json says so with the other numerics."""
    # the user's flag, after the suite's fast-compile ones (conftest), which keep it quick
    user = f"{os.environ.get('XLA_FLAGS', '')} --xla_cpu_enable_fast_math=false".strip()
    env = {**os.environ, "XLA_FLAGS": user}
    subprocess.run([sys.executable, "-m", "grokjax", "train", TINY, "--out", str(tmp_path / "r"),
                    "--no-progress", "--set", "tensorboard.enabled=false"], env=env,
                   check=True, capture_output=True, timeout=300)
    numerics = json.loads((tmp_path / "r" / "run.json").read_text())["numerics"]
    assert numerics == {"loss_dtype": "float64", "matmul_precision": "highest",
                        "gpu_deterministic_ops": True, "deterministic_how": "set",
                        "xla_flags": f"{user} {FLAG}=true"}
