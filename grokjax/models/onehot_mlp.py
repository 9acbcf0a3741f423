"""Prieto et al.'s (2025) MLP on one-hot operands (`arch='mlp'`, `variant='prieto'`), as pure
functions: the model of "Grokking at the edge of numerical stability", Fig. 1 (its code:
models.MLP with bias=False on datasets.AlgorithmicDataset's inputs).

    concat(one_hot(a), one_hot(b)) (2p) -> Dense d_model -> act
      -> num_layers x (Dense d_model -> d_model, act) -> unembed (p)

No biases and no embedding: the first layer is a dense layer on the concatenated one-hot
operands, stored per position as `in_proj.W` [n_ctx, d_vocab, d_model] (its rows for the
operand in each position; `in_proj.W.reshape(n_ctx * d_vocab, d_model)` is the paper's weight,
transposed), so that operand order matters, unlike Furuta's MLP, which sums one shared
embedding. Prieto's [200, 200] hidden sizes are d_model=200 with num_layers=1. Every weight
is drawn as torch.nn.Linear's default (kaiming_uniform with a = sqrt(5)): U(-b, b) with
b = weight_scale / sqrt(fan_in), fan_in n_ctx * d_vocab for the first layer.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from grokjax.models.base import HookPoints, ModelConfig, Params, activation, torch_linear_init
from grokjax.models.linear import linear


def init(key: jax.Array, cfg: ModelConfig) -> Params:
    keys = iter(jax.random.split(key, 2 + cfg.num_layers))

    def uniform(shape, fan_in):
        return torch_linear_init(next(keys), shape, fan_in, cfg.weight_scale)

    C, V, D = cfg.n_ctx, cfg.d_vocab, cfg.d_model
    return {
        "in_proj": {"W": uniform((C, V, D), C * V)},
        "blocks": {str(i): {"W": uniform((D, D), D)} for i in range(cfg.num_layers)},
        "unembed": {"W_U": uniform((D, V), D)},
    }


def apply(params: Params, tokens_BxC: jax.Array, cfg: ModelConfig, *, hooks, cache):
    hp = HookPoints(hooks, cache)
    prec = jax.lax.Precision[cfg.precision.upper()]
    act = activation(cfg.act)
    W_CxVxD = params["in_proj"]["W"]
    # a one-hot input times the weight is the weight's row: a gather, summed over positions
    pre_BxD = W_CxVxD[jnp.arange(tokens_BxC.shape[1]), tokens_BxC].sum(axis=1)
    x_BxD = hp("hook_hidden", act(hp("hook_pre", pre_BxD)))
    for i in range(cfg.num_layers):
        x_BxD = linear(x_BxD, params["blocks"][str(i)]["W"], prec)
        x_BxD = hp(f"blocks.{i}.hook_post", act(x_BxD))
    logits_BxV = linear(x_BxD, params["unembed"]["W_U"], prec)
    return hp.output(logits_BxV)


def hook_names(cfg: ModelConfig) -> tuple[str, ...]:
    return ("hook_pre", "hook_hidden", *(f"blocks.{i}.hook_post" for i in range(cfg.num_layers)))
