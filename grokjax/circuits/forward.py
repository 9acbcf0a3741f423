"""The model with any subset of edges patched: one function behind every circuit method.

Every edge e = (u, v, c) has a mask value m_e in [0, 1]. A receiver v reads, at position c,

    in_v[c] = sum_u  m_uvc * a_u[c] + (1 - m_uvc) * a'_u[c]

where a_u is sender u's output recomputed in this pass (its "online" value) and a'_u its output
on the corrupted input (or its table mean, or zero). Removing every edge therefore gives the
corrupted model and keeping every edge the clean one; downstream senders are recomputed from
their patched inputs, so removing an early edge changes what later senders write (ACDC's rule,
circuits.md section 2). The attention and MLP are the model's own (`transformer.attend`,
`transformer.mlp`), so there is one copy of each rule. Functions take one member's params;
`jax.vmap` lifts them to a run's member axis.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from grokjax.circuits.graph import Graph
from grokjax.models import ModelConfig, Params
from grokjax.models.base import activation
from grokjax.models.linear import linear
from grokjax.models.transformer import attend, head_results, mlp


def dense_mask(graph: Graph, edge_mask: jax.Array, n_ctx: int) -> jax.Array:
    """[receivers, senders, positions] of an [edges] mask; 1 (kept) off the graph's edges."""
    e = graph.edge_array
    dense = jnp.ones((len(graph.receivers), len(graph.senders), n_ctx), edge_mask.dtype)
    return dense.at[e[:, 1], e[:, 0], e[:, 2]].set(edge_mask)


def all_neurons(graph: Graph, cfg: ModelConfig) -> jax.Array:
    """The neuron-group membership of an unsplit MLP: [layers, 1, d_mlp] ones."""
    return jnp.ones((graph.n_layers, len(graph.mlp_groups), cfg.d_mlp), jnp.float32)


def run(params: Params, tokens_BxC: jax.Array, cfg: ModelConfig, graph: Graph,
        mask_RxUxC: jax.Array, corrupt_UxBxCxD: jax.Array | None = None,
        groups_LxGxF: jax.Array | None = None) -> tuple[jax.Array, jax.Array]:
    """(logits [B, V], every sender's output [U, B, C, D]) with the dense mask applied.

    `corrupt_UxBxCxD` holds the senders' corrupted outputs (B may be 1, broadcast); None with
    an all-ones mask runs the clean model. `groups_LxGxF` says which neurons belong to which
    MLP group (default: one group of all)."""
    prec = jax.lax.Precision[cfg.precision.upper()]
    act = activation(cfg.act)
    if groups_LxGxF is None:
        groups_LxGxF = all_neurons(graph, cfg)
    B, C = tokens_BxC.shape
    senders = [params["embed"]["W_E"][tokens_BxC]]
    if graph.pos_embed:
        senders.append(jnp.broadcast_to(params["pos_embed"]["W_pos"][:C], senders[0].shape))
    if corrupt_UxBxCxD is None:
        corrupt_UxBxCxD = jnp.zeros((len(graph.senders), 1, C, cfg.d_model), jnp.float32)

    def read(rows: slice, at: slice = slice(None)) -> jax.Array:
        """The patched inputs [R, B, C', D] of receivers `rows` at positions `at`, from the
        senders so far: sum_u m_u * online_u + (1 - m_u) * corrupt_u. A loop of broadcast
        multiply-adds over the few senders (an einsum over them is ~3x slower on a CPU)."""
        m_RxUxC = mask_RxUxC[rows, :, at]
        total = 0.0
        for u, online_BxCxD in enumerate(senders):
            m = m_RxUxC[:, u, None, :, None]
            total = total + m * online_BxCxD[None, :, at] + (1 - m) * corrupt_UxBxCxD[None, u, :, at]
        return total

    for layer in range(graph.n_layers):
        p = params["blocks"][str(layer)]
        rows = graph.receiver_rows(layer)
        # The last layer's queries and MLP matter at the readout position only (the graph has
        # no live edge into them elsewhere): computed there, zero at the other positions.
        at = slice(C - 1, C) if layer == graph.n_layers - 1 else slice(None)
        q, k, v = (jnp.einsum("hbcd,hde->bche", read(rows[n], at if n == "q" else slice(None)),
                              p["attn"][f"W_{n.upper()}"], precision=prec) for n in "qkv")
        z_BxQxHxE = attend(q, k, v, prec=prec, rate=cfg.attn_rate)
        result_BxQxHxD = head_results(z_BxQxHxE, p["attn"]["W_O"], prec)
        senders += [_at(result_BxQxHxD[:, :, h], C) for h in range(graph.n_heads)]
        mlp_in_GxBxQxD = read(rows["mlp"], at)
        for g in range(len(graph.mlp_groups)):
            group = dict(p["mlp"], W_out=p["mlp"]["W_out"] * groups_LxGxF[layer, g][:, None])
            if "b_out" in group and g:  # the output bias belongs to the first group
                group["b_out"] = jnp.zeros_like(group["b_out"])
            out, _ = mlp(group, mlp_in_GxBxQxD[g], act, prec)
            senders.append(_at(out, C))
    final_BxD = read(slice(len(graph.receivers) - 1, None))[0, :, -1]
    logits = linear(final_BxD, params["unembed"]["W_U"], prec)
    return logits, jnp.stack(senders)


def _at(x_BxQxD: jax.Array, C: int) -> jax.Array:
    """The last Q positions' values in a [B, C, D] array, zero before them."""
    return jnp.pad(x_BxQxD, ((0, 0), (C - x_BxQxD.shape[1], 0), (0, 0)))


def clean_and_corrupt(params: Params, tokens: jax.Array, corrupt_tokens: jax.Array | None,
                      cfg: ModelConfig, graph: Graph, ablation: str = "resample",
                      groups_LxGxF: jax.Array | None = None, table_tokens: jax.Array | None = None):
    """(clean logits, corrupted logits, the senders' corrupted outputs [U, B|1, C, D]).

    ablation 'resample': the senders on `corrupt_tokens`; 'mean': each sender's mean over
    `table_tokens` (the whole (a, b) table: exact, not an estimate), per position; 'zero':
    zeros. The corrupted logits are the model with every edge removed."""
    ones = jnp.ones((len(graph.receivers), len(graph.senders), tokens.shape[1]), jnp.float32)
    clean_logits, _ = run(params, tokens, cfg, graph, ones, None, groups_LxGxF)
    if ablation == "resample":
        _, corrupt = run(params, corrupt_tokens, cfg, graph, ones, None, groups_LxGxF)
    elif ablation == "mean":
        _, table = run(params, table_tokens, cfg, graph, ones, None, groups_LxGxF)
        corrupt = table.mean(axis=1, keepdims=True)
    elif ablation == "zero":
        corrupt = jnp.zeros((len(graph.senders), 1) + tokens.shape[1:] + (cfg.d_model,), jnp.float32)
    else:
        raise ValueError(f"ablation {ablation!r} is not one of resample, mean, zero")
    corrupt_logits, _ = run(params, tokens, cfg, graph, jnp.zeros_like(ones), corrupt, groups_LxGxF)
    return clean_logits, corrupt_logits, corrupt
