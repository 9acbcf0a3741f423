"""Activation patching tables with TransformerLens's names and shapes, every member at once.

`act_patch(..., kind)` is TransformerLens's `patching.get_act_patch_<kind>`: one patched run
per index, each scored by a metric, here one compiled program (a `lax.map` over the indices,
vmapped over members) instead of a Python loop of forward passes. The patch is made with the
model's own replacement hooks (`models.apply(hooks=...)`).

direction 'denoise' (TransformerLens's): run the corrupted input and patch in the clean
activation at the index; 1 - (effect) reads "how much of the clean behaviour this
activation restores". 'noise': run the clean input and patch in the corrupted activation.

    kind                         hook                      table
    resid_pre, resid_mid         blocks.L.hook_resid_*     [layer, pos]
    attn_out, mlp_out            blocks.L.hook_*_out       [layer, pos]
    attn_head_out_by_pos         blocks.L.attn.hook_z      [layer, pos, head]
    attn_head_{q,k,v}_by_pos     blocks.L.attn.hook_{q,k,v} [layer, pos, head]
    attn_head_pattern_by_pos     blocks.L.attn.hook_pattern [layer, head, dest_pos]
    attn_head_*_all_pos          as above, every position  [layer, head]
    block_every                  resid_pre, attn_out, mlp_out [3, layer, pos]
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp

from grokjax import models
from grokjax.circuits import metrics
from grokjax.models import ModelConfig, Params

_BY_POS = {"resid_pre": "hook_resid_pre", "resid_mid": "hook_resid_mid",
           "attn_out": "hook_attn_out", "mlp_out": "hook_mlp_out"}
_HEAD = {"out": "attn.hook_z", "q": "attn.hook_q", "k": "attn.hook_k", "v": "attn.hook_v",
         "pattern": "attn.hook_pattern"}
KINDS = (tuple(_BY_POS) + tuple(f"attn_head_{h}_by_pos" for h in _HEAD)
         + tuple(f"attn_head_{h}_all_pos" for h in _HEAD) + ("block_every",))


def _layer_table(kind: str, layer: int, cfg: ModelConfig):
    """(hook name, index shape, patch(x, src, idx)) of one layer's table."""
    C, H = cfg.n_ctx, cfg.num_heads
    b = f"blocks.{layer}"
    if kind in _BY_POS:
        return f"{b}.{_BY_POS[kind]}", (C,), lambda x, s, i: x.at[:, i[0]].set(s[:, i[0]])
    head = kind[len("attn_head_"):].rsplit("_", 2)[0]
    name = f"{b}.{_HEAD[head]}"
    if kind.endswith("_all_pos"):
        if head == "pattern":  # [B, H, Q, K]
            return name, (H,), lambda x, s, i: x.at[:, i[0]].set(s[:, i[0]])
        return name, (H,), lambda x, s, i: x.at[:, :, i[0]].set(s[:, :, i[0]])
    if head == "pattern":  # [layer, head, dest_pos]
        return name, (H, C), lambda x, s, i: x.at[:, i[0], i[1]].set(s[:, i[0], i[1]])
    return name, (C, H), lambda x, s, i: x.at[:, i[0], i[1]].set(s[:, i[0], i[1]])


@functools.partial(jax.jit, static_argnames=("cfg", "kind", "metric", "direction", "n_answers"))
def act_patch(params: Params, cfg: ModelConfig, clean_tokens, corrupt_tokens, labels, *,
              kind: str, metric: str = "logit_diff", direction: str = "denoise",
              n_answers: int | None = None) -> jax.Array:
    """[M, *table] metric of every patched run, for stacked params [M, ...] (see the module
    docstring for `kind`'s table and the two directions)."""
    if kind == "block_every":
        return jnp.stack([act_patch(params, cfg, clean_tokens, corrupt_tokens, labels, kind=k,
                                    metric=metric, direction=direction, n_answers=n_answers)
                          for k in ("resid_pre", "attn_out", "mlp_out")], axis=1)
    if kind not in KINDS:
        raise ValueError(f"patching kind {kind!r} is not one of {', '.join(KINDS)}")
    if direction not in ("denoise", "noise"):
        raise ValueError(f"direction {direction!r} is not 'denoise' or 'noise'")
    base, source = ((corrupt_tokens, clean_tokens) if direction == "denoise"
                    else (clean_tokens, corrupt_tokens))
    tables = [_layer_table(kind, layer, cfg) for layer in range(cfg.num_layers)]

    def one(p):
        clean_logits = models.apply(p, clean_tokens, cfg)
        _, cache = models.apply(p, source, cfg, cache=[name for name, _, _ in tables])
        out = []
        for name, shape, patch in tables:
            idx = jnp.stack(jnp.unravel_index(jnp.arange(math.prod(shape)), shape), axis=-1)

            def patched(i, name=name, patch=patch):
                logits = models.apply(p, base, cfg,
                                      hooks={name: lambda x: patch(x, cache[name], i)})
                return metrics.value(metric, logits, clean_logits, labels,
                                     n_answers or cfg.d_vocab)
            out.append(jax.lax.map(patched, idx, batch_size=4).reshape(shape))
        return jnp.stack(out)
    return jax.vmap(one)(params)
