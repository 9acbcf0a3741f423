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
        groups_LxGxF: jax.Array | None = None, start: int = 0,
        clean_UxBxCxD: jax.Array | None = None) -> tuple[jax.Array, jax.Array]:
    """(logits [B, V], every sender's output [U, B, C, D]) with the dense mask applied.

    `corrupt_UxBxCxD` holds the senders' corrupted outputs (B may be 1, broadcast); None with
    an all-ones mask runs the clean model. `groups_LxGxF` says which neurons belong to which
    MLP group (default: one group of all). With `start` > 0 the senders before that stage are
    taken from `clean_UxBxCxD` instead of being computed: right when every edge into a
    receiver before `start` is kept (ACDC's reverse order guarantees it), and the work of
    the stages before it is saved."""
    prec = jax.lax.Precision[cfg.precision.upper()]
    act = activation(cfg.act)
    if groups_LxGxF is None:
        groups_LxGxF = all_neurons(graph, cfg)
    B, C = tokens_BxC.shape
    if start > 0:
        senders = [clean_UxBxCxD[u] for u, st in enumerate(graph.sender_stage) if st < start]
    else:
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

    def read_projected(rows: slice, W_HxDxE: jax.Array, at: slice) -> jax.Array:
        """The first layer's q, k or v [B, C', H, E] of receivers `rows` (one per head): the
        same mix as `read`, taken after each sender's projection. The embeddings do not depend
        on the mask, so their projections are the same in every pass of a scan and XLA hoists
        them out of the loop; what is left per pass is the mix, in d_head rather than d_model."""
        m_CxHxU = mask_RxUxC[rows, :, at].transpose(2, 0, 1)
        total = 0.0
        for u, online_BxCxD in enumerate(senders):
            m = m_CxHxU[None, :, :, u, None]
            on, off = (jnp.einsum("bcd,hde->bche", x[:, at], W_HxDxE, precision=prec)
                       for x in (online_BxCxD, corrupt_UxBxCxD[u]))
            total = total + m * on + (1 - m) * off
        return total

    for layer in range(graph.n_layers):
        p = params["blocks"][str(layer)]
        rows = graph.receiver_rows(layer)
        # The last layer's queries and MLP matter at the readout position only (the graph has
        # no live edge into them elsewhere): computed there, zero at the other positions.
        at = slice(C - 1, C) if layer == graph.n_layers - 1 else slice(None)
        if 2 * layer + 2 < start:
            continue
        if 2 * layer + 1 < start:  # the heads are clean; only the MLP is recomputed
            senders += _mlps(p, read(rows["mlp"], at), groups_LxGxF[layer], graph, act, prec, C)
            continue
        if layer == 0:  # only the embeddings write before: project each, then mix (below)
            q, k, v = (read_projected(rows[n], p["attn"][f"W_{n.upper()}"],
                                      at if n == "q" else slice(None)) for n in "qkv")
        else:
            q, k, v = (jnp.einsum("hbcd,hde->bche", read(rows[n], at if n == "q" else slice(None)),
                                  p["attn"][f"W_{n.upper()}"], precision=prec) for n in "qkv")
        z_BxQxHxE = attend(q, k, v, prec=prec, rate=cfg.attn_rate)
        result_BxQxHxD = head_results(z_BxQxHxE, p["attn"]["W_O"], prec)
        senders += [_at(result_BxQxHxD[:, :, h], C) for h in range(graph.n_heads)]
        senders += _mlps(p, read(rows["mlp"], at), groups_LxGxF[layer], graph, act, prec, C)
    final_BxD = read(slice(len(graph.receivers) - 1, None), slice(C - 1, C))[0, :, 0]
    logits = linear(final_BxD, params["unembed"]["W_U"], prec)
    return logits, jnp.stack(senders)


def _mlps(p, mlp_in_GxBxQxD, groups_GxF, graph: Graph, act, prec, C: int) -> list[jax.Array]:
    """Each MLP group's output [B, C, D] from its own patched input."""
    out = []
    for g in range(len(graph.mlp_groups)):
        group = dict(p["mlp"], W_out=p["mlp"]["W_out"] * groups_GxF[g][:, None])
        if "b_out" in group and g:  # the output bias belongs to the first group
            group["b_out"] = jnp.zeros_like(group["b_out"])
        y, _ = mlp(group, mlp_in_GxBxQxD[g], act, prec)
        out.append(_at(y, C))
    return out


def _at(x_BxQxD: jax.Array, C: int) -> jax.Array:
    """The last Q positions' values in a [B, C, D] array, zero before them."""
    return jnp.pad(x_BxQxD, ((0, 0), (C - x_BxQxD.shape[1], 0), (0, 0)))


def clean_and_corrupt(params: Params, tokens: jax.Array, corrupt_tokens: jax.Array | None,
                      cfg: ModelConfig, graph: Graph, ablation: str = "resample",
                      groups_LxGxF: jax.Array | None = None, table_tokens: jax.Array | None = None):
    """(clean logits, corrupted logits, the senders' corrupted outputs [U, B|1, C, D], their
    clean outputs [U, B, C, D]).

    ablation 'resample': the senders on `corrupt_tokens`; 'mean': each sender's mean over
    `table_tokens` (the whole (a, b) table: exact, not an estimate), per position; 'zero':
    zeros. The corrupted logits are the model with every edge removed."""
    ones = jnp.ones((len(graph.receivers), len(graph.senders), tokens.shape[1]), jnp.float32)
    clean_logits, clean = run(params, tokens, cfg, graph, ones, None, groups_LxGxF)
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
    return clean_logits, corrupt_logits, corrupt, clean
