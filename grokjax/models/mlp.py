"""Furuta's MLP model (`model='mlp'` in frt03/grok_mod_poly), as pure functions.

    embed (d_emb) -> in_proj to d_model -> sum over positions -> act
      -> num_layers x (Dense d_model -> d_model, act) -> out_proj to d_emb -> unembed (d_vocab)

No biases. Every weight is N(0, weight_scale / sqrt(fan_in)); the embedding's fan-in is d_vocab and
the unembedding's d_emb, as in the reference. `weight_scale` is Omnigrok's alpha.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from grokjax.models.base import HookPoints, ModelConfig, Params, activation
from grokjax.models.linear import linear


def init(key: jax.Array, cfg: ModelConfig) -> Params:
    keys = iter(jax.random.split(key, 4 + cfg.num_layers))

    def normal(fan_in, fan_out):
        std = cfg.weight_scale / math.sqrt(fan_in)
        return std * jax.random.normal(next(keys), (fan_in, fan_out), jnp.float32)

    V, M, D = cfg.d_vocab, cfg.d_emb, cfg.d_model
    return {
        "embed": {"W_E": normal(V, M)},
        "in_proj": {"W": normal(M, D)},
        "blocks": {str(i): {"W": normal(D, D)} for i in range(cfg.num_layers)},
        "out_proj": {"W": normal(D, M)},
        "unembed": {"W_U": normal(M, V)},
    }


def apply(params: Params, tokens_BxC: jax.Array, cfg: ModelConfig, *, hooks, cache):
    hp = HookPoints(hooks, cache)
    prec = jax.lax.Precision[cfg.precision.upper()]
    act = activation(cfg.act)
    x_BxCxM = hp("hook_embed", params["embed"]["W_E"][tokens_BxC])
    x_BxCxD = linear(x_BxCxM, params["in_proj"]["W"], prec)
    x_BxD = hp("hook_hidden", act(hp("hook_pre", x_BxCxD.sum(axis=1))))
    for i in range(cfg.num_layers):
        x_BxD = linear(x_BxD, params["blocks"][str(i)]["W"], prec)
        x_BxD = hp(f"blocks.{i}.hook_post", act(x_BxD))
    out_BxM = hp("hook_out", linear(x_BxD, params["out_proj"]["W"], prec))
    logits_BxV = linear(out_BxM, params["unembed"]["W_U"], prec)
    return hp.output(logits_BxV)


def hook_names(cfg: ModelConfig) -> tuple[str, ...]:
    return ("hook_embed", "hook_pre", "hook_hidden",
            *(f"blocks.{i}.hook_post" for i in range(cfg.num_layers)), "hook_out")
