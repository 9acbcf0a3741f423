"""Furuta's one-layer transformer (and Nanda's variant) as pure functions.

Furuta (paper.md section 1.4): no LayerNorm, no biases, no positional embedding, causal attention,
ReLU MLP, readout at the last position over all d_vocab logits; every weight N(0, sigma) with
sigma = 1/sqrt(d_vocab) for W_E and 1/sqrt(d_model) for the rest. Nanda (section 2) adds a
learned W_pos and MLP biases, and swaps the scales of W_E (1/sqrt(d_model)) and W_U
(1/sqrt(d_vocab)).

Shapes follow TransformerLens: W_E [d_vocab, d_model], W_Q/W_K/W_V [head, d_model, d_head],
W_O [head, d_head, d_model], W_in [d_model, d_mlp], W_out [d_mlp, d_model], W_U [d_model, d_vocab].
Activations carry their shapes in comments; letters: B batch, C context, D d_model, H heads,
E d_head, F d_mlp, V d_vocab, Q/K query/key positions.

Without hooks or a cache, the last block computes attention queries and the MLP at the readout
position only: the logits never read the other positions, so the result is the same and the
work is a third. A one-layer model goes further (`_attention_from_tables`): its attention input
is a token's embedding (plus its position's), so queries, keys and values are per-vocabulary
tables and the scores one [V, C, V, H] table, gathered per example; the same function, with
a much cheaper backward pass on a CPU (tests check both against the plain path);
`model.attention='dense'` keeps the per-example path, whose backward pass has no scatter-add
into the [V, C, V, H] table (a GPU computes those with atomics, or slowly when deterministic:
benchmarks/gpu.py times both).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from grokjax.models.base import HookPoints, ModelConfig, Params, activation
from grokjax.models.linear import linear

_MASKED = -1e10  # the reference's masked score, set before the 1/sqrt(d_head) scaling


def init(key: jax.Array, cfg: ModelConfig) -> Params:
    D, H, E, F, V = cfg.d_model, cfg.num_heads, cfg.d_head, cfg.d_mlp, cfg.d_vocab
    nanda = cfg.variant == "nanda"
    keys = iter(jax.random.split(key, 3 + 6 * cfg.num_layers))

    def normal(shape, std):
        return cfg.weight_scale * std * jax.random.normal(next(keys), shape, jnp.float32)

    s_model = 1 / math.sqrt(D)
    params: Params = {"embed": {"W_E": normal((V, D), s_model if nanda else 1 / math.sqrt(V))}}
    pos = normal((cfg.n_ctx, D), s_model)  # drawn for both variants so keys line up
    if nanda:
        params["pos_embed"] = {"W_pos": pos}
    blocks = {}
    for layer in range(cfg.num_layers):
        block = {
            "attn": {
                "W_Q": normal((H, D, E), s_model),
                "W_K": normal((H, D, E), s_model),
                "W_V": normal((H, D, E), s_model),
                "W_O": normal((H, E, D), s_model),
            },
            "mlp": {"W_in": normal((D, F), s_model), "W_out": normal((F, D), s_model)},
        }
        if nanda:
            block["mlp"]["b_in"] = jnp.zeros((F,), jnp.float32)
            block["mlp"]["b_out"] = jnp.zeros((D,), jnp.float32)
        blocks[str(layer)] = block
    params["blocks"] = blocks
    params["unembed"] = {"W_U": normal((D, V), 1 / math.sqrt(V) if nanda else s_model)}
    return params


def attention(p, x_BxCxD, hp: HookPoints, block: str, prec, queries_at_last: bool, rate: float):
    """Causal multi-head attention; with `queries_at_last` only the last query is computed.

    Each head's q/k/v input (`blocks.L.hook_q_input`, [B, C, H, D]: the residual stream copied
    per head, as TransformerLens's use_split_qkv_input) and each head's output before the heads
    are summed (`blocks.L.attn.hook_result`, [B, Q, H, D]) exist only when observed; otherwise
    the projections read the shared residual and the heads are summed inside one matmul."""
    name = f"{block}.attn"
    qkv = []
    for kind, x_BxNxD in (("q", x_BxCxD[:, -1:] if queries_at_last else x_BxCxD),
                          ("k", x_BxCxD), ("v", x_BxCxD)):
        W_HxDxE, hook = p[f"W_{kind.upper()}"], f"{block}.hook_{kind}_input"
        if hp.observes(hook):
            B, N, D = x_BxNxD.shape
            split_BxNxHxD = hp(hook, jnp.broadcast_to(x_BxNxD[:, :, None],
                                                      (B, N, W_HxDxE.shape[0], D)))
            out_BxNxHxE = jnp.einsum("bnhd,hde->bnhe", split_BxNxHxD, W_HxDxE, precision=prec)
        else:
            out_BxNxHxE = jnp.einsum("bnd,hde->bnhe", x_BxNxD, W_HxDxE, precision=prec)
        qkv.append(hp(f"{name}.hook_{kind}", out_BxNxHxE))
    z_BxQxHxE = attend(*qkv, hp=hp, name=name, prec=prec, rate=rate)
    if hp.observes(f"{name}.hook_result"):
        return head_results(z_BxQxHxE, p["W_O"], prec, hp, name).sum(axis=2)
    B, Q, H, E = z_BxQxHxE.shape
    return linear(z_BxQxHxE.reshape(B, Q, H * E), p["W_O"].reshape(H * E, -1), prec)


def attend(q_BxQxHxE, k_BxKxHxE, v_BxKxHxE, *, prec, rate: float = 1.0,
           hp: HookPoints | None = None, name: str = "") -> jax.Array:
    """Each head's z [B, Q, H, E]: causal scaled dot-product attention of the last Q queries
    over K keys, mixed with the uniform pattern as rate * softmax + (1 - rate) * uniform over
    the keys a query may see (Zhong et al.'s attention rate; 1 is the usual model)."""
    hp = hp or HookPoints({}, False)
    scores_BxHxQxK = jnp.einsum("bqhe,bkhe->bhqk", q_BxQxHxE, k_BxKxHxE, precision=prec)
    K, Q = k_BxKxHxE.shape[1], q_BxQxHxE.shape[1]
    causal_QxK = jnp.arange(K)[None, :] <= jnp.arange(K - Q, K)[:, None]
    scores_BxHxQxK = jnp.where(causal_QxK, scores_BxHxQxK, _MASKED) / math.sqrt(q_BxQxHxE.shape[-1])
    scores_BxHxQxK = hp(f"{name}.hook_attn_scores", scores_BxHxQxK)
    pattern_BxHxQxK = jax.nn.softmax(scores_BxHxQxK, axis=-1)
    if rate != 1.0:
        uniform_QxK = causal_QxK / causal_QxK.sum(axis=-1, keepdims=True)
        pattern_BxHxQxK = rate * pattern_BxHxQxK + (1 - rate) * uniform_QxK[None, None]
    pattern_BxHxQxK = hp(f"{name}.hook_pattern", pattern_BxHxQxK)
    return hp(f"{name}.hook_z",
              jnp.einsum("bhqk,bkhe->bqhe", pattern_BxHxQxK, v_BxKxHxE, precision=prec))


def head_results(z_BxQxHxE, W_O_HxExD, prec, hp: HookPoints | None = None, name: str = ""):
    """Each head's output written into the residual stream, before the heads are summed:
    `blocks.L.attn.hook_result` [B, Q, H, D]."""
    hp = hp or HookPoints({}, False)
    return hp(f"{name}.hook_result",
              jnp.einsum("bqhe,hed->bqhd", z_BxQxHxE, W_O_HxExD, precision=prec))


def _attention_from_tables(p, rows_PxVxD, tokens_BxC, prec, rate: float):
    """The attention output at the readout position [B, 1, D] of a first layer whose input at
    position c is rows_PxVxD[c or 0, token]: the query of the last token against the keys of all
    C (causality masks nothing for the last query), from per-vocabulary tables."""
    B, C = tokens_BxC.shape
    E = p["W_Q"].shape[-1]
    pos_C = jnp.arange(C) if rows_PxVxD.shape[0] > 1 else jnp.zeros((C,), jnp.int32)
    q_VxHxE = jnp.einsum("vd,hde->vhe", rows_PxVxD[pos_C[-1]], p["W_Q"], precision=prec)
    k_PxVxHxE = jnp.einsum("pvd,hde->pvhe", rows_PxVxD, p["W_K"], precision=prec)
    v_PxVxHxE = jnp.einsum("pvd,hde->pvhe", rows_PxVxD, p["W_V"], precision=prec)
    scores_VxPxVxH = jnp.einsum("ahe,pbhe->apbh", q_VxHxE, k_PxVxHxE,
                                precision=prec) / math.sqrt(E)
    scores_BxCxH = scores_VxPxVxH[tokens_BxC[:, -1:], pos_C[None], tokens_BxC]
    pattern_BxCxH = jax.nn.softmax(scores_BxCxH, axis=1)
    if rate != 1.0:
        pattern_BxCxH = rate * pattern_BxCxH + (1 - rate) / C
    z_BxHxE = (pattern_BxCxH[..., None] * v_PxVxHxE[pos_C[None], tokens_BxC]).sum(axis=1)
    H = z_BxHxE.shape[1]
    return linear(z_BxHxE.reshape(B, H * E), p["W_O"].reshape(H * E, -1), prec)[:, None]


def mlp(p, x_BxQxD, act, prec, hp: HookPoints | None = None, name: str = ""):
    """(MLP output, its hidden activations hook_post)."""
    hp = hp or HookPoints({}, False)
    pre_BxQxF = linear(x_BxQxD, p["W_in"], prec)
    if "b_in" in p:
        pre_BxQxF = pre_BxQxF + p["b_in"][None, None]
    post_BxQxF = hp(f"{name}.hook_post", act(hp(f"{name}.hook_pre", pre_BxQxF)))
    out_BxQxD = linear(post_BxQxF, p["W_out"], prec)
    if "b_out" in p:
        out_BxQxD = out_BxQxD + p["b_out"][None, None]
    return out_BxQxD, post_BxQxF


def apply(params: Params, tokens_BxC: jax.Array, cfg: ModelConfig, *, hooks, cache):
    hp = HookPoints(hooks, cache)
    logits_BxV, _ = _forward(params, tokens_BxC, cfg, hp)
    return hp.output(logits_BxV)


def logits_and_neurons(params: Params, tokens_BxC: jax.Array, cfg: ModelConfig):
    """(logits [B, V], the last block's MLP activations at the readout position [B, d_mlp]),
    by the readout-only path: what a probe of the whole (a, b) table reads, at a third of the
    cost of caching hook_post at every position."""
    return _forward(params, tokens_BxC, cfg, HookPoints({}, False))


def _forward(params: Params, tokens_BxC: jax.Array, cfg: ModelConfig, hp: HookPoints):
    """(logits, the last block's hook_post at the readout position)."""
    prec = jax.lax.Precision[cfg.precision.upper()]
    act = activation(cfg.act)
    x_BxCxD = hp("hook_embed", params["embed"]["W_E"][tokens_BxC])
    if "pos_embed" in params:
        pos_CxD = params["pos_embed"]["W_pos"][: tokens_BxC.shape[1]]
        x_BxCxD = x_BxCxD + hp("hook_pos_embed", jnp.broadcast_to(pos_CxD, x_BxCxD.shape))
    for layer in range(cfg.num_layers):
        p, name = params["blocks"][str(layer)], f"blocks.{layer}"
        last_only = layer == cfg.num_layers - 1 and not hp.active
        x_BxCxD = hp(f"{name}.hook_resid_pre", x_BxCxD)
        if last_only and layer == 0 and cfg.attention == "tables":  # input: a table lookup
            rows_PxVxD = _input_rows(params, tokens_BxC)
            attn_BxQxD = _attention_from_tables(p["attn"], rows_PxVxD, tokens_BxC, prec,
                                                cfg.attn_rate)
        else:
            attn_BxQxD = hp(f"{name}.hook_attn_out", attention(
                p["attn"], x_BxCxD, hp, name, prec, last_only, cfg.attn_rate))
        x_BxQxD = x_BxCxD[:, -1:] if last_only else x_BxCxD
        x_BxQxD = hp(f"{name}.hook_resid_mid", x_BxQxD + attn_BxQxD)
        mlp_BxQxD, post_BxQxF = mlp(p["mlp"], hp(f"{name}.hook_mlp_in", x_BxQxD), act, prec, hp,
                                    f"{name}.mlp")
        x_BxCxD = hp(f"{name}.hook_resid_post", x_BxQxD + hp(f"{name}.hook_mlp_out", mlp_BxQxD))
    logits_BxV = linear(x_BxCxD[:, -1], params["unembed"]["W_U"], prec)
    return logits_BxV, post_BxQxF[:, -1]


def _input_rows(params: Params, tokens_BxC) -> jax.Array:
    """The first layer's possible inputs: [1, V, D] embeddings, or [C, V, D] with positions."""
    W_E = params["embed"]["W_E"]
    if "pos_embed" not in params:
        return W_E[None]
    return W_E[None] + params["pos_embed"]["W_pos"][: tokens_BxC.shape[1], None]


def block_hook_names(b: str) -> list[str]:
    """The hooks of block `b` ('blocks.0') that every transformer variant has."""
    return ([f"{b}.hook_resid_pre"] + [f"{b}.hook_{n}_input" for n in ("q", "k", "v")]
            + [f"{b}.attn.hook_{n}"
               for n in ("q", "k", "v", "attn_scores", "pattern", "z", "result")]
            + [f"{b}.hook_attn_out", f"{b}.hook_resid_mid", f"{b}.hook_mlp_in",
               f"{b}.mlp.hook_pre", f"{b}.mlp.hook_post", f"{b}.hook_mlp_out",
               f"{b}.hook_resid_post"])


def hook_names(cfg: ModelConfig) -> tuple[str, ...]:
    names = ["hook_embed"] + (["hook_pos_embed"] if cfg.variant == "nanda" else [])
    for layer in range(cfg.num_layers):
        names += block_hook_names(f"blocks.{layer}")
    return tuple(names)
