"""Numerical settings of a run: the loss dtype and the matmul precision; the cross entropy.

Grokking runs push train losses to 1e-7 and below, where float32 log-softmax rounds the correct
class's probability to exactly 1; the gradient of those examples vanishes and the loss spikes
(the "slingshot"; progress-measures-paper issue #2). So the cross entropy is computed in float64
by default, through JAX's x64 mode; params, activations and gradients stay float32 (every array
grokjax creates names its dtype). TPUs lack float64: there the loss falls back to float32 and
the run records that it did. Matmul precision is passed explicitly to every einsum
(`jax.lax.Precision`), never as a string flag: float32's default is bf16 passes on TPU and TF32
on recent GPUs.

The same bits every run: on a GPU, XLA computes the scatter-adds of the gathers' backward pass
(the embedding, the table attention) with atomics, whose order varies from run to run; measured
on an H200, two runs of the same command differed from step 30 and grokked hundreds of steps
apart. `numerics.deterministic` (default true) asks XLA for deterministic ops
(`--xla_gpu_deterministic_ops=true`, which also turns autotuning off), added to the user's
XLA_FLAGS before JAX's backend starts; a flag the user set stands. XLA reads XLA_FLAGS once,
when the first backend starts: a process that started JAX before grokjax could set it keeps
what it had, and the run records that ('late'). CPUs and TPUs compute the same bits without it.

StableMax (Prieto et al. 2025, "Grokking at the edge of numerical stability", eq. 6;
LucasPrietoAl/grokking-at-the-edge-of-numerical-stability utils.py) replaces exp in the softmax
by s(x) = x + 1 for x >= 0 and 1 / (1 - x) below, which grows linearly, so no class's share
rounds to exactly 1 (their "softmax collapse"); `numerics.softmax='stablemax'` trains on its
cross entropy, in the loss dtype as theirs is (float64). The stability measures of that paper
(`stability`) are recorded for every run.
"""

from __future__ import annotations

import os
import re
import warnings

import jax
import jax.numpy as jnp
from jax._src import xla_bridge

GPU_DETERMINISM = "--xla_gpu_deterministic_ops"
_FLAG = re.compile(re.escape(GPU_DETERMINISM) + r"(?:=(\S*))?(?:\s|$)")
_how = ""  # how the flag came to be what it is (set, user, off, late), once asked


def request_determinism(on: bool) -> None:
    """Adds `--xla_gpu_deterministic_ops=true` to XLA_FLAGS when `on`, unless the user's XLA_FLAGS
    name it already, or JAX's backend has started (then it would be ignored: a warning on a
    GPU). Call before anything starts the backend; `determinism()` says what came of it."""
    global _how
    flags = os.environ.get("XLA_FLAGS", "")
    if _how in ("set", "user", "late"):
        return  # decided for this process: XLA read its flags once
    if _FLAG.search(flags):
        _how = "user"
    elif not on:
        _how = "off"
    elif xla_bridge.backends_are_initialized():
        _how = "late"
        if jax.default_backend() == "gpu":
            warnings.warn("JAX's GPU backend started before grokjax could ask XLA for "
                          "deterministic ops, so reruns may differ in their last bits; start "
                          f"Python with XLA_FLAGS={GPU_DETERMINISM}=true", stacklevel=2)
    else:
        os.environ["XLA_FLAGS"] = f"{flags} {GPU_DETERMINISM}=true".strip()
        _how = "set"


def determinism() -> dict:
    """What run.json records: whether XLA_FLAGS asks for deterministic GPU ops, how it came
    to ('set': by grokjax; 'user': the user's XLA_FLAGS; 'off': numerics.deterministic=false;
    'late': the backend had started before grokjax could ask), and XLA_FLAGS itself."""
    flags = os.environ.get("XLA_FLAGS", "")
    found = _FLAG.findall(flags)
    on = bool(found) and found[-1].lower() in ("", "true", "1")
    return {"gpu_deterministic_ops": on, "deterministic_how": _how or "late",
            "xla_flags": flags}


def configure(loss_dtype: str, deterministic: bool = True) -> str:
    """Asks for deterministic GPU ops (`request_determinism`) before the backend starts, then
    enables x64 if the float64 loss is wanted and possible; returns the loss dtype in effect."""
    request_determinism(deterministic)
    if loss_dtype == "float64" and jax.default_backend() != "tpu":
        jax.config.update("jax_enable_x64", True)
        return "float64"
    return "float32"


def loss_dtype(requested: str):
    """The dtype the loss is computed in: float64 only where x64 is on."""
    if requested == "float64" and jax.config.jax_enable_x64:
        return jnp.float64
    return jnp.float32


SOFTMAXES = ("softmax", "stablemax")


def _log_softmax(x: jax.Array) -> tuple[jax.Array, jax.Array]:
    """(log softmax(x), the exp-sum after the max shift, [..., 1]): jax.nn.log_softmax's own
    operations, so the same bits, with the sum the collapse measure reads."""
    shifted = x - jax.lax.stop_gradient(x.max(axis=-1, keepdims=True))
    sum_exp = jnp.sum(jnp.exp(shifted), axis=-1, keepdims=True)
    return shifted - jnp.log(sum_exp), sum_exp


def stablemax_s(x: jax.Array) -> jax.Array:
    """s(x) = x + 1 (x >= 0), 1 / (1 - x) (x < 0); the negative branch reads min(x, 0), so
    neither branch is infinite anywhere (where() would turn an infinite branch's gradient into
    NaN)."""
    return jnp.where(x < 0, 1 / (1 - jnp.minimum(x, 0)), x + 1)


def log_stablemax(x: jax.Array) -> jax.Array:
    s = stablemax_s(x)
    return jnp.log(s / jnp.sum(s, axis=-1, keepdims=True))


def _pick(logp: jax.Array, labels: jax.Array) -> jax.Array:
    return -jnp.take_along_axis(logp, labels[..., None], axis=-1)[..., 0]


def nll(logits: jax.Array, labels: jax.Array, dtype, softmax: str = "softmax") -> jax.Array:
    """The cross entropy of each example, -log softmax(logits)[label] (or StableMax's),
    computed in `dtype` (see `loss_dtype`): the one definition behind the train loss and the
    probes' losses."""
    return nll_and_sum_exp(logits, labels, dtype, softmax)[0]


def nll_and_sum_exp(logits: jax.Array, labels: jax.Array, dtype, softmax: str | jax.Array
                    = "softmax") -> tuple[jax.Array, jax.Array]:
    """(`nll`, the softmax's exp-sum after the max shift [...]). `softmax` may be a traced
    float (> 0.5: StableMax), for a grid whose members differ in it: both are computed and
    each member takes its own."""
    x = logits.astype(dtype)
    logp, sum_exp = _log_softmax(x)
    if isinstance(softmax, str) and softmax == "softmax":
        return _pick(logp, labels), sum_exp[..., 0]
    stable = _pick(log_stablemax(x), labels)
    if isinstance(softmax, str):
        return stable, sum_exp[..., 0]
    return jnp.where(softmax > 0.5, stable, _pick(logp, labels)), sum_exp[..., 0]


def stability(nll_: jax.Array, sum_exp: jax.Array) -> dict[str, jax.Array]:
    """Prieto et al.'s measures of one batch (float32 [..]; means over the last axis): the
    softmax-collapse fraction, rows whose exp-sum after the max shift is exactly 1 in the loss
    dtype (every other class's exp underflows or rounds away, so the correct class's gradient
    is exactly 0; their logger.py `compute_softmax_collapse`), and the zero-loss fraction, rows
    whose loss as trained is exactly 0 (`compute_zero_terms`)."""
    return {"softmax_collapse": (sum_exp == 1).astype(jnp.float32),
            "zero_loss": (nll_ == 0).astype(jnp.float32)}
