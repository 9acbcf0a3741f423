"""The model interface: `ModelConfig`, `init(key, cfg) -> params`, `apply(params, tokens, cfg)`.

Four architectures sit behind it: Furuta's (and Nanda's) transformer in
`grokjax.models.transformer`, Power et al.'s post-LayerNorm decoder (openai/grok's; `arch=
'transformer'` with `variant='power'`) in `grokjax.models.decoder`, Furuta's MLP in
`grokjax.models.mlp` and Prieto et al.'s MLP on one-hot operands (`arch='mlp'` with
`variant='prieto'`) in `grokjax.models.onehot_mlp`; what they share (the
config, hook points, activations, flat names) is `grokjax.models.base`, and their matmul is
`grokjax.models.linear`. Params are plain nested dicts of float32 arrays whose flattened
names follow TransformerLens (`embed.W_E`, `blocks.0.attn.W_Q`, `unembed.W_U`); see
`param_names`. Everything here works on one member; the training program lifts it over the
member axis, so stacked params simply gain a leading axis.
"""

from __future__ import annotations

from typing import Iterable

import jax
import jax.numpy as jnp

from grokjax.models import decoder, mlp, onehot_mlp, transformer
from grokjax.models.base import (  # noqa: F401  (the interface's types)
    Hooks, ModelConfig, Params, param_names, unflatten)

_ARCHITECTURES = {"transformer": transformer, "mlp": mlp}


def _impl(cfg: ModelConfig):
    if cfg.arch == "transformer" and cfg.variant == "power":
        return decoder
    if cfg.arch == "mlp" and cfg.variant == "prieto":
        return onehot_mlp
    return _ARCHITECTURES[cfg.arch]


def init(key: jax.Array, cfg: ModelConfig) -> Params:
    """Fresh float32 params for one seed."""
    return _impl(cfg).init(key, cfg)


def apply(params: Params, tokens: jax.Array, cfg: ModelConfig, *, hooks: Hooks | None = None,
          cache: bool | Iterable[str] = False):
    """Logits (batch, d_vocab) at the readout position for int tokens (batch, n_ctx).

    `hooks` maps TransformerLens hook names to functions that replace the activation there
    (ablation, patching). `cache=True` (or a collection of hook names) also returns a dict of the
    activations at those names: `logits, cache = apply(..., cache=True)`. Hooks are resolved when
    the function is traced, so a forward pass without them compiles to the plain model.
    """
    cache = cache if isinstance(cache, bool) else tuple(cache)
    names = set(hooks or ()) | (set() if isinstance(cache, bool) else set(cache))
    unknown = sorted(names - set(hook_names(cfg)))
    if unknown:
        raise ValueError(f"unknown hook names {unknown}; grokjax.models.hook_names(cfg) lists them")
    return _impl(cfg).apply(params, tokens, cfg, hooks=hooks or {}, cache=cache)


def logits_and_neurons(params: Params, tokens: jax.Array, cfg: ModelConfig):
    """(logits [B, d_vocab], the last block's MLP activations `hook_post` at the readout
    position [B, d_mlp]) of the transformer (any variant), in one pass as cheap as the plain
    forward."""
    if cfg.arch != "transformer":
        raise ValueError(f"logits_and_neurons needs the transformer, not arch={cfg.arch!r}")
    return _impl(cfg).logits_and_neurons(params, tokens, cfg)


def run_with_cache(params: Params, tokens: jax.Array, cfg: ModelConfig, **kw):
    """TransformerLens' `run_with_cache`: (logits, every activation by hook name)."""
    return apply(params, tokens, cfg, cache=kw.pop("names", True), **kw)


def predicts(logits: jax.Array, labels: jax.Array) -> jax.Array:
    """Whether the prediction, argmax over the last axis (the first largest logit), is the label.

    The same test as `jnp.argmax(logits, -1) == labels`, from a max and a min instead of an
    argmax: XLA's CPU argmax is a paired (value, index) reduction that does not vectorise, ~12x
    slower on a [2822, 102] batch (0.7 ms, 3% of a train step). A NaN logit is never a correct
    prediction here (argmax would pick it)."""
    top = logits.max(axis=-1, keepdims=True)
    index = jnp.arange(logits.shape[-1], dtype=jnp.int32)
    first_top = jnp.min(jnp.where(logits == top, index, logits.shape[-1]), axis=-1)
    return first_top == labels


def hook_names(cfg: ModelConfig) -> tuple[str, ...]:
    """Every hook name the model exposes, in forward order."""
    return _impl(cfg).hook_names(cfg)
