"""Power et al.'s decoder-only transformer (openai/grok's grok/transformer.py) as pure
functions: `model.variant='power'` (with model.num_layers=2, d_model 128, 4 heads of 32 and
d_mlp 512, the defaults otherwise, it is the paper's model).

What openai/grok builds, and this follows:

* input: a learned token embedding (torch's nn.Embedding: N(0, 1)) plus a fixed sinusoidal
  position encoding, PE[pos, i] = sin(pos / 10000^(i / D)) for even i and
  cos(pos / 10000^((i - 1) / D)) for odd i (a buffer, not trained: here a constant);
* each block is post-LayerNorm, x = LN1(x + Attn(x)), x = LN2(x + MLP(x)), LayerNorm with a
  weight and a bias (eps 1e-5); the last block's LN2 is the last operation before the
  unembedding (there is no separate final LayerNorm, so no `ln_final`);
* causal multi-head attention, heads of d_model / heads, no biases anywhere but the
  LayerNorms'; the MLP is d_model -> 4 d_model -> d_model with ReLU (or GELU);
* a separate (untied) unembedding without bias;
* init is torch's default: every Linear U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (kaiming_uniform with
  a = sqrt(5)), LayerNorm w = 1 and b = 0; `weight_scale` multiplies the random weights.

Dropout (openai/grok's only on the MLP output, default 0.0 in its training script) and its weight
noise (default 0.0) are left out: both are off in its runs by default, and at evaluation.

Names follow TransformerLens, its BERT block for the post-LN order: `blocks.L.hook_mlp_in` is
resid_mid, which `ln1` normalises; `hook_resid_post` is the sum after the MLP, which `ln2`
normalises into `hook_normalized_resid_post`, the block's output. Params: `embed.W_E`,
`blocks.L.attn.W_Q/W_K/W_V` [H, D, E], `W_O` [H, E, D], `blocks.L.ln1.w/b`, `blocks.L.mlp.W_in/
W_out`, `blocks.L.ln2.w/b`, `unembed.W_U`. Attention is `transformer.attention` (the same hooks).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from grokjax.models.base import HookPoints, ModelConfig, Params, activation, torch_linear_init
from grokjax.models.linear import linear
from grokjax.models.transformer import attention, block_hook_names, mlp

LN_EPS = 1e-5  # torch's nn.LayerNorm default


def init(key: jax.Array, cfg: ModelConfig) -> Params:
    D, H, E, F, V = cfg.d_model, cfg.num_heads, cfg.d_head, cfg.d_mlp, cfg.d_vocab
    keys = iter(jax.random.split(key, 2 + 6 * cfg.num_layers))

    def uniform(shape, fan_in):
        return torch_linear_init(next(keys), shape, fan_in, cfg.weight_scale)

    def layer_norm():
        return {"w": jnp.ones((D,), jnp.float32), "b": jnp.zeros((D,), jnp.float32)}

    embed = cfg.weight_scale * jax.random.normal(next(keys), (V, D), jnp.float32)
    blocks = {str(layer): {
        "attn": {"W_Q": uniform((H, D, E), D), "W_K": uniform((H, D, E), D),
                 "W_V": uniform((H, D, E), D), "W_O": uniform((H, E, D), H * E)},
        "ln1": layer_norm(),
        "mlp": {"W_in": uniform((D, F), D), "W_out": uniform((F, D), F)},
        "ln2": layer_norm(),
    } for layer in range(cfg.num_layers)}
    return {"embed": {"W_E": embed}, "blocks": blocks, "unembed": {"W_U": uniform((D, V), D)}}


def positions(n_ctx: int, d_model: int) -> np.ndarray:
    """openai/grok's sinusoidal position encoding [n_ctx, d_model] (float64, as it computes it
    before torch stores it as float32)."""
    pos, i = np.arange(n_ctx)[:, None], np.arange(d_model)[None, :]
    angle = pos / 10000 ** ((i - i % 2) / d_model)
    return np.where(i % 2 == 0, np.sin(angle), np.cos(angle))


def layer_norm(p, x_BxQxD, hp: HookPoints, name: str) -> jax.Array:
    """torch's LayerNorm (biased variance, eps inside the root), hooked as TransformerLens's."""
    centred_BxQxD = x_BxQxD - x_BxQxD.mean(axis=-1, keepdims=True)
    scale_BxQx1 = hp(f"{name}.hook_scale",
                     jnp.sqrt((centred_BxQxD ** 2).mean(axis=-1, keepdims=True) + LN_EPS))
    return hp(f"{name}.hook_normalized",
              centred_BxQxD / scale_BxQx1 * p["w"][None, None] + p["b"][None, None])


def apply(params: Params, tokens_BxC: jax.Array, cfg: ModelConfig, *, hooks, cache):
    hp = HookPoints(hooks, cache)
    logits_BxV, _ = _forward(params, tokens_BxC, cfg, hp)
    return hp.output(logits_BxV)


def logits_and_neurons(params: Params, tokens_BxC: jax.Array, cfg: ModelConfig):
    """(logits [B, V], the last block's MLP activations at the readout position [B, d_mlp])."""
    return _forward(params, tokens_BxC, cfg, HookPoints({}, False))


def _forward(params: Params, tokens_BxC: jax.Array, cfg: ModelConfig, hp: HookPoints):
    """(logits, the last block's hook_post at the readout position). Without hooks or a cache
    the last block runs at the readout position only (LayerNorm and the MLP are per position,
    and the logits read nothing else)."""
    prec = jax.lax.Precision[cfg.precision.upper()]
    act = activation(cfg.act)
    B, C = tokens_BxC.shape
    x_BxCxD = hp("hook_embed", params["embed"]["W_E"][tokens_BxC])
    pos_CxD = jnp.asarray(positions(C, cfg.d_model), jnp.float32)
    x_BxCxD = x_BxCxD + hp("hook_pos_embed", jnp.broadcast_to(pos_CxD, x_BxCxD.shape))
    for layer in range(cfg.num_layers):
        p, name = params["blocks"][str(layer)], f"blocks.{layer}"
        last_only = layer == cfg.num_layers - 1 and not hp.active
        x_BxCxD = hp(f"{name}.hook_resid_pre", x_BxCxD)
        attn_BxQxD = hp(f"{name}.hook_attn_out", attention(
            p["attn"], x_BxCxD, hp, name, prec, last_only, cfg.attn_rate))
        x_BxQxD = x_BxCxD[:, -1:] if last_only else x_BxCxD
        x_BxQxD = hp(f"{name}.hook_resid_mid", x_BxQxD + attn_BxQxD)
        x_BxQxD = layer_norm(p["ln1"], hp(f"{name}.hook_mlp_in", x_BxQxD), hp, f"{name}.ln1")
        mlp_BxQxD, post_BxQxF = mlp(p["mlp"], x_BxQxD, act, prec, hp, f"{name}.mlp")
        x_BxQxD = hp(f"{name}.hook_resid_post", x_BxQxD + hp(f"{name}.hook_mlp_out", mlp_BxQxD))
        x_BxCxD = hp(f"{name}.hook_normalized_resid_post",
                     layer_norm(p["ln2"], x_BxQxD, hp, f"{name}.ln2"))
    logits_BxV = linear(x_BxCxD[:, -1], params["unembed"]["W_U"], prec)
    return logits_BxV, post_BxQxF[:, -1]


def hook_names(cfg: ModelConfig) -> tuple[str, ...]:
    names = ["hook_embed", "hook_pos_embed"]
    for layer in range(cfg.num_layers):
        b = f"blocks.{layer}"
        names += block_hook_names(b) + [
            f"{b}.ln1.hook_scale", f"{b}.ln1.hook_normalized", f"{b}.ln2.hook_scale",
            f"{b}.ln2.hook_normalized", f"{b}.hook_normalized_resid_post"]
    return tuple(names)
