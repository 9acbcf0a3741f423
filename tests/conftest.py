"""Shared test setup: float64 loss on (as in every run), strict rank promotion, a tiny config.

Compiled programs are cached on disk for the session (JAX's persistent compilation cache, also
for the subprocesses tests start): many tests compile the same tiny programs, and a cached
executable computes exactly what a fresh compile does. A cache folder the session made is
removed when it ends (one given in JAX_COMPILATION_CACHE_DIR is the caller's, and kept). The
session, and the subprocesses it starts, compile with LLVM's optimisations and XLA's CPU fusion
emitters off (XLA_FLAGS; flags of the caller's are kept): the same programs, compiled in about
half the CPU time.

The suite runs in one process per core (pytest-xdist's `-n auto --dist loadfile` in setup.cfg;
`-n 0` runs it in this process): each test file in one process, so its module fixtures train
once, and every process shares the one cache folder made here.
"""

import atexit
import os
import shutil
import tempfile

if "JAX_COMPILATION_CACHE_DIR" not in os.environ:
    os.environ["JAX_COMPILATION_CACHE_DIR"] = tempfile.mkdtemp(prefix="grokjax-test-jax-cache-")
    atexit.register(shutil.rmtree, os.environ["JAX_COMPILATION_CACHE_DIR"], ignore_errors=True)
_CACHE = os.environ["JAX_COMPILATION_CACHE_DIR"]
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")
# The tests' programs are small and many: XLA's CPU backend compiles them without LLVM's
# optimisations (a tiny run compiled from nothing: 9 s instead of 14) and without its fusion
# emitters (then 6-7 s of CPU instead of 12-15; the same operations, run a little slower).
# GROKJAX_TEST_XLA_DEFAULTS=1 leaves them out: the suite as users' runs compile (slower), to
# check the README's bit-for-bit statements, which are of XLA's default flags.
_FAST_COMPILE = () if os.environ.get("GROKJAX_TEST_XLA_DEFAULTS") == "1" else (
    "--xla_backend_optimization_level=0", "--xla_llvm_disable_expensive_passes=true",
    "--xla_cpu_use_fusion_emitters=false")
# (a test process of pytest-xdist inherits the flags set here: what was added is taken out)
_CALLERS_FLAGS = " ".join(f for f in os.environ.get("XLA_FLAGS", "").split()
                          if f not in _FAST_COMPILE)
os.environ["XLA_FLAGS"] = " ".join([_CALLERS_FLAGS, *(
    f for f in _FAST_COMPILE if f.split("=")[0] not in _CALLERS_FLAGS)]).strip()


def optimised_env(**extra) -> dict[str, str]:
    """The environment for a subprocess that runs long enough for its speed to matter (the
    grokking run): XLA's usual optimisations, the caller's flags only."""
    return dict(os.environ, XLA_FLAGS=_CALLERS_FLAGS, **extra)

import jax  # noqa: E402
import pytest  # noqa: E402


def pytest_xdist_auto_num_workers(config):
    """`-n auto` (setup.cfg): one test process per core, at most 8 (each holds its own JAX)."""
    return min(os.cpu_count() or 1, 8)

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_numpy_rank_promotion", "raise")

from tests import tiny as tiny_module  # noqa: E402

TINY = "tests/tiny.py"


def tiny_config():
    """The one shared tiny config (tests/tiny.py), locked like a loaded config."""
    c = tiny_module.get_config()
    c.lock()
    return c


@pytest.fixture
def tiny():
    return tiny_config()


def train_tiny(workdir, *args):
    """`grokjax train` of the tiny config in this process; the run's history."""
    from grokjax import cli
    from grokjax.store import rundir
    assert cli.main(["train", TINY, "--out", str(workdir), "--no-progress", *args]) == 0
    return rundir.read_npz(workdir / "history.npz")


def train_overrides(workdir, *overrides):
    """30 steps of the tiny config with dotted overrides, no TensorBoard, no checkpoints; the
    run's history."""
    from grokjax import config, run
    from grokjax.store import rundir
    cfg = tiny_config()
    config.apply_overrides(cfg, [*overrides, "tensorboard.enabled=false", "train.steps=30",
                                 "checkpoint.save_every=0"])
    run.train(cfg, workdir, progress=False)
    return rundir.read_npz(workdir / "history.npz")


def params_of(run, step=None):
    """A run's params at a checkpoint (default: the latest), on the host."""
    from grokjax.saved import open_run
    return jax.device_get(open_run(run).params(step)[0])


def png_size(path):
    """(width, height) of a PNG file, checking that it is one and not empty."""
    import struct
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000, path
    return struct.unpack(">II", data[16:24])


def tb_events(logdir):
    """TensorBoard's own reader over one TensorBoard run directory, everything loaded."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    events = EventAccumulator(str(logdir), size_guidance={"scalars": 0, "images": 0,
                                                          "histograms": 0, "tensors": 0})
    events.Reload()
    return events


def assert_same_history(a, b):
    """Two runs' histories (history.npz as dicts) agree: the same keys, steps and event steps
    exactly, every metric to float rounding (XLA's CPU backend orders reductions differently
    for different device layouts)."""
    import numpy as np
    assert set(a) == set(b)
    for key in b:
        if key in ("step", "probe/step", "mem_step", "grok_step", "skip_step"):
            np.testing.assert_array_equal(a[key], b[key], err_msg=key)
        else:
            np.testing.assert_allclose(a[key], b[key], rtol=1e-5, atol=1e-7, err_msg=key)


def assert_two_processes_ran_as_one(two, one, out=""):
    """A run of two processes with two devices each (directory `two`) equals the run of one
    process with four (`one`), checkpoints included."""
    import json
    from grokjax.store import rundir
    from grokjax.store.checkpoint import saved_steps
    info = json.loads((two / "run.json").read_text())
    assert info["process_count"] == 2 and info["mesh_devices"] == 4, out
    assert_same_history(rundir.read_npz(two / "history.npz"), rundir.read_npz(one / "history.npz"))
    assert saved_steps(two) == [0, 10, 20]
