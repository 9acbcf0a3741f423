"""The model: shapes, init scales, causality, hooks and cache, and equality with the reference."""

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from grokjax import models
from grokjax.models import ModelConfig
from grokjax.models.linear import linear

CFG = ModelConfig(d_vocab=16, n_ctx=3, d_model=32, num_heads=2, d_head=16, d_mlp=64)
NANDA = ModelConfig(d_vocab=12, n_ctx=3, variant="nanda", d_model=32, num_heads=2, d_head=16,
                    d_mlp=64)
TOKENS = jnp.array([[1, 12, 3], [4, 12, 5], [7, 13, 0]], jnp.int32)


def test_param_names_and_shapes_follow_transformer_lens():
    shapes = {k: v.shape for k, v in models.param_names(models.init(jax.random.key(0), CFG)).items()}
    assert shapes == {
        "embed.W_E": (16, 32), "blocks.0.attn.W_Q": (2, 32, 16), "blocks.0.attn.W_K": (2, 32, 16),
        "blocks.0.attn.W_V": (2, 32, 16), "blocks.0.attn.W_O": (2, 16, 32),
        "blocks.0.mlp.W_in": (32, 64), "blocks.0.mlp.W_out": (64, 32), "unembed.W_U": (32, 16)}


def test_nanda_variant_has_positions_and_mlp_biases():
    names = models.param_names(models.init(jax.random.key(0), NANDA))
    assert names["pos_embed.W_pos"].shape == (3, 32)
    assert names["blocks.0.mlp.b_in"].shape == (64,) and names["blocks.0.mlp.b_out"].shape == (32,)


def test_init_scales_follow_the_reference():
    big = ModelConfig(d_vocab=400, n_ctx=3, d_model=256, d_mlp=512)
    p = models.param_names(models.init(jax.random.key(0), big))
    assert np.std(p["embed.W_E"]) == pytest.approx(1 / np.sqrt(400), rel=0.03)
    assert np.std(p["unembed.W_U"]) == pytest.approx(1 / np.sqrt(256), rel=0.03)
    for name in ("blocks.0.attn.W_Q", "blocks.0.attn.W_O", "blocks.0.mlp.W_in", "blocks.0.mlp.W_out"):
        assert np.std(p[name]) == pytest.approx(1 / np.sqrt(256), rel=0.03)
    nanda = models.param_names(models.init(jax.random.key(0), ModelConfig(
        d_vocab=400, n_ctx=3, d_model=256, variant="nanda")))
    assert np.std(nanda["embed.W_E"]) == pytest.approx(1 / np.sqrt(256), rel=0.03)
    assert np.std(nanda["unembed.W_U"]) == pytest.approx(1 / np.sqrt(400), rel=0.03)
    scaled = models.param_names(models.init(jax.random.key(0), ModelConfig(
        d_vocab=400, n_ctx=3, d_model=256, weight_scale=3.0)))
    np.testing.assert_allclose(scaled["embed.W_E"], 3 * p["embed.W_E"], rtol=1e-6)


@pytest.mark.parametrize("cfg", [CFG, NANDA, ModelConfig(d_vocab=16, n_ctx=3, num_layers=2,
                                                         d_model=32, num_heads=2, d_head=16)])
def test_readout_fast_path_equals_the_full_forward(cfg):
    params = models.init(jax.random.key(1), cfg)
    tokens = TOKENS % cfg.d_vocab
    plain = models.apply(params, tokens, cfg)
    full, cache = models.run_with_cache(params, tokens, cfg)
    assert plain.shape == (3, cfg.d_vocab)
    np.testing.assert_allclose(plain, full, rtol=1e-5, atol=1e-5)  # float32 sums
    assert set(cache) == set(models.hook_names(cfg))
    # A probe's one pass: the logits and the last MLP's activations at the readout position.
    logits, neurons = models.logits_and_neurons(params, tokens, cfg)
    np.testing.assert_allclose(logits, full, rtol=1e-5, atol=1e-5)
    # float32 sums of O(1) terms as the logits above: their rounding follows the CPU's vector
    # width (this machine's differs by 1.1e-6 at a neuron of 0.0128, with atol 1e-6 it failed)
    np.testing.assert_allclose(neurons, cache[f"blocks.{cfg.num_layers - 1}.mlp.hook_post"][:, -1],
                               rtol=1e-5, atol=1e-5)


def test_the_cache_holds_every_hook_batch_first_with_heads_as_an_axis():
    """run_with_cache records each hook as [batch, pos, ...] (attention [batch, head, query,
    key], rows summing to 1); apply(cache=[...]) returns only the hooks it names."""
    params = models.init(jax.random.key(1), CFG)
    _, cache = models.run_with_cache(params, TOKENS, CFG)
    assert cache["hook_embed"].shape == (3, 3, 32)
    assert cache["blocks.0.attn.hook_pattern"].shape == (3, 2, 3, 3)  # batch, head, query, key
    assert cache["blocks.0.attn.hook_q"].shape == (3, 3, 2, 16)  # batch, pos, head, d_head
    assert cache["blocks.0.mlp.hook_post"].shape == (3, 3, 64)
    np.testing.assert_allclose(cache["blocks.0.attn.hook_pattern"].sum(-1), 1.0, rtol=1e-6)
    _, some = models.apply(params, TOKENS, CFG, cache=["blocks.0.mlp.hook_post"])
    assert list(some) == ["blocks.0.mlp.hook_post"]


def test_attention_is_causal():
    params = models.init(jax.random.key(2), CFG)
    _, a = models.run_with_cache(params, TOKENS, CFG)
    _, b = models.run_with_cache(params, TOKENS.at[:, 2].set(9), CFG)
    pattern = a["blocks.0.attn.hook_pattern"]
    assert float(jnp.abs(jnp.triu(pattern, k=1)).max()) == 0.0
    np.testing.assert_allclose(a["blocks.0.hook_resid_post"][:, :2],
                               b["blocks.0.hook_resid_post"][:, :2], rtol=1e-6)
    assert not np.allclose(a["blocks.0.hook_resid_post"][:, 2], b["blocks.0.hook_resid_post"][:, 2])


def test_a_hook_replaces_the_activation():
    params = models.init(jax.random.key(3), CFG)
    ablated = models.apply(params, TOKENS, CFG,
                          hooks={"blocks.0.hook_attn_out": jnp.zeros_like})
    no_attn = jax.tree.map(lambda x: x, params)
    no_attn["blocks"]["0"]["attn"]["W_O"] = jnp.zeros_like(params["blocks"]["0"]["attn"]["W_O"])
    np.testing.assert_allclose(ablated, models.apply(no_attn, TOKENS, CFG), rtol=1e-6)
    assert not np.allclose(ablated, models.apply(params, TOKENS, CFG))


def test_unknown_hook_names_are_errors():
    params = models.init(jax.random.key(0), CFG)
    with pytest.raises(ValueError, match="hook_attn_outt"):
        models.apply(params, TOKENS, CFG, hooks={"blocks.0.hook_attn_outt": jnp.zeros_like})
    with pytest.raises(ValueError, match="hook_patern"):
        models.apply(params, TOKENS, CFG, cache=["blocks.0.attn.hook_patern"])


def test_hooks_cost_nothing_when_absent():
    """Without hooks the forward pass compiles to the plain model, which skips the positions the
    readout never uses; observing activations costs extra only when asked for."""
    params = models.init(jax.random.key(0), CFG)
    tokens = jnp.zeros((256, 3), jnp.int32)

    def flops(**kw):
        fn = jax.jit(lambda p, t: models.apply(p, t, CFG, **kw))
        return fn.lower(params, tokens).compile().cost_analysis()["flops"]

    identity = {"hook_embed": lambda x: x}
    assert flops() < 0.6 * flops(hooks=identity)
    # ... and costs what it computes: the plain pass and the observed one agree, and an empty
    # cache request is no request (plain logits, no cache dict).
    np.testing.assert_allclose(models.apply(params, tokens, CFG),
                               models.apply(params, tokens, CFG, hooks=identity), rtol=1e-5,
                               atol=1e-6)
    assert isinstance(models.apply(params, tokens, CFG, cache=[]), jax.Array)
    assert flops(cache=[]) == flops()


def reference_forward(params, tokens):
    """numpy transcription of frt03/grok_mod_poly model.py (Transformer.forward), in the
    reference's own weight layouts: W_E (d_model, d_vocab), W_Q (head, d_head, d_model),
    W_O (d_model, head*d_head), W_in (d_mlp, d_model), W_out (d_model, d_mlp), W_U (d_model, V)."""
    p = {k: np.asarray(v, np.float64) for k, v in models.param_names(params).items()}
    W_E = p["embed.W_E"].T
    W_Q, W_K, W_V = (p[f"blocks.0.attn.W_{n}"].transpose(0, 2, 1) for n in "QKV")
    W_O = p["blocks.0.attn.W_O"].reshape(-1, p["blocks.0.attn.W_O"].shape[-1]).T
    W_in, W_out = p["blocks.0.mlp.W_in"].T, p["blocks.0.mlp.W_out"].T
    x = np.einsum("dbp->bpd", W_E[:, tokens])
    k = np.einsum("ihd,bpd->biph", W_K, x)
    q = np.einsum("ihd,bpd->biph", W_Q, x)
    v = np.einsum("ihd,bpd->biph", W_V, x)
    scores = np.einsum("biph,biqh->biqp", k, q)
    mask = np.tril(np.ones((3, 3)))
    scores = np.tril(scores) - 1e10 * (1 - mask)
    scores = scores / np.sqrt(W_Q.shape[1])
    attn = np.exp(scores - scores.max(-1, keepdims=True))
    attn = attn / attn.sum(-1, keepdims=True)
    z = np.einsum("biph,biqp->biqh", v, attn)
    z_flat = z.transpose(0, 2, 1, 3).reshape(z.shape[0], z.shape[2], -1)  # b q (i h)
    x = x + np.einsum("df,bqf->bqd", W_O, z_flat)
    x = x + np.einsum("dm,bpm->bpd", W_out, np.maximum(np.einsum("md,bpd->bpm", W_in, x), 0))
    return (x @ p["unembed.W_U"])[:, -1, :]


def test_transformer_equals_the_reference_forward():
    params = models.init(jax.random.key(4), CFG)
    tokens = np.random.default_rng(0).integers(0, 16, size=(64, 3))
    np.testing.assert_allclose(models.apply(params, jnp.asarray(tokens, jnp.int32), CFG),
                               reference_forward(params, tokens), rtol=2e-4, atol=2e-5)


def test_the_mlp_model_has_its_configured_shapes_and_hooks_and_ignores_token_order():
    """arch="mlp": d_emb embeddings, d_model-square hidden layers, one logit vector per input, a
    cache of exactly its hook_names, and (it sums its positions) the same logits reversed."""
    cfg = ModelConfig(d_vocab=16, n_ctx=3, arch="mlp", d_emb=40, d_model=24, num_layers=2,
                      weight_scale=2.0)
    params = models.init(jax.random.key(0), cfg)
    names = models.param_names(params)
    assert names["embed.W_E"].shape == (16, 40) and names["blocks.1.W"].shape == (24, 24)
    logits, cache = models.run_with_cache(params, TOKENS, cfg)
    assert logits.shape == (3, 16) and set(cache) == set(models.hook_names(cfg))
    # The positions are summed: the MLP model is blind to operand order.
    swapped = models.apply(params, TOKENS[:, ::-1], cfg)
    np.testing.assert_allclose(logits, swapped, rtol=1e-5)


PRIETO = ModelConfig(d_vocab=11, n_ctx=2, arch="mlp", variant="prieto", d_model=24,
                     num_layers=1)


def test_prietos_mlp_is_a_dense_net_on_the_concatenated_one_hot_operands():
    """Prieto et al.'s models.MLP(bias=False) on datasets.AlgorithmicDataset's inputs, computed
    in numpy on the concatenated one-hot vectors: the same logits; operand order matters."""
    params = models.init(jax.random.key(0), PRIETO)
    names = models.param_names(params)
    assert {k: v.shape for k, v in names.items()} == {
        "in_proj.W": (2, 11, 24), "blocks.0.W": (24, 24), "unembed.W_U": (24, 11)}
    tokens = np.random.default_rng(0).integers(0, 11, size=(64, 2))
    x = np.concatenate([np.eye(11)[tokens[:, 0]], np.eye(11)[tokens[:, 1]]], axis=1)  # [B, 2p]
    w = {k: np.asarray(v, np.float64) for k, v in names.items()}
    h = np.maximum(x @ w["in_proj.W"].reshape(22, 24), 0)
    h = np.maximum(h @ w["blocks.0.W"], 0)
    logits, cache = models.run_with_cache(params, jnp.asarray(tokens, jnp.int32), PRIETO)
    np.testing.assert_allclose(logits, h @ w["unembed.W_U"], rtol=1e-5, atol=1e-6)
    assert set(cache) == set(models.hook_names(PRIETO)) == {"hook_pre", "hook_hidden",
                                                             "blocks.0.hook_post"}
    swapped = models.apply(params, jnp.asarray(tokens[:, ::-1], jnp.int32), PRIETO)
    assert not np.allclose(logits, swapped)


def test_prietos_mlp_draws_torch_linears_default_init():
    """torch.nn.Linear's default, kaiming_uniform(a=sqrt(5)): U(-b, b), b = 1/sqrt(fan_in), the
    first layer's fan-in both operands' one-hot widths; weight_scale multiplies b."""
    for scale in (1.0, 2.0):
        cfg = dataclasses.replace(PRIETO, d_vocab=113, d_model=200, weight_scale=scale)
        names = models.param_names(models.init(jax.random.key(1), cfg))
        for name, fan_in in (("in_proj.W", 226), ("blocks.0.W", 200), ("unembed.W_U", 200)):
            w, bound = np.asarray(names[name]), scale / np.sqrt(fan_in)
            assert np.abs(w).max() <= bound and np.abs(w).max() > 0.99 * bound, name
            np.testing.assert_allclose(w.std(), bound / np.sqrt(3), rtol=0.03, err_msg=name)


@pytest.mark.parametrize("shape", [(50, 8, 24), (50, 24, 8), (5, 10, 8, 24)])
def test_linear_is_x_at_w_with_the_same_gradients(shape):
    """The models' matmul (its CPU backward pass written out as plain matmuls) computes x @ W
    and the gradients that automatic differentiation of jnp.dot gives, for a leading batch of
    any rank and either operand the smaller one."""
    *lead, i, o = shape
    kx, kw = jax.random.split(jax.random.key(0))
    x = jax.random.normal(kx, (*lead, i))
    w = jax.random.normal(kw, (i, o))
    prec = jax.lax.Precision.HIGHEST

    def loss(f, x, w):
        return jnp.sum(jnp.sin(f(x, w, precision=prec)))

    np.testing.assert_allclose(linear(x, w, prec), jnp.dot(x, w, precision=prec), rtol=1e-6)
    ours = jax.grad(functools.partial(loss, lambda x, w, precision: linear(x, w, precision)),
                    argnums=(0, 1))(x, w)
    plain = jax.grad(functools.partial(loss, jnp.dot), argnums=(0, 1))(x, w)
    for a, b in zip(ours, plain):
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("variant", ["furuta", "nanda"])
def test_attention_from_tables_equals_the_plain_attention(variant):
    """A one-layer model attends from per-vocabulary tables when nothing is observed; logits and
    every gradient equal those of the plain path (forced here by an identity hook)."""
    cfg = dataclasses.replace(CFG, variant=variant, d_vocab=15 if variant == "nanda" else 16)
    params = models.init(jax.random.key(5), cfg)
    tokens = jnp.asarray(np.random.default_rng(1).integers(0, cfg.d_vocab, size=(200, 3)),
                         jnp.int32)
    plain = {"blocks.0.hook_resid_pre": lambda x: x}

    def loss(p, **kw):
        return jnp.sum(jnp.sin(models.apply(p, tokens, cfg, **kw)))

    np.testing.assert_allclose(models.apply(params, tokens, cfg),
                               models.apply(params, tokens, cfg, hooks=plain), rtol=1e-5,
                               atol=1e-6)
    grads, grads_plain = jax.grad(loss)(params), jax.grad(functools.partial(loss, hooks=plain))(
        params)
    # (each gradient entry sums hundreds of float32 terms, in another order on either path)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5), grads,
                 grads_plain)


def test_dense_attention_is_the_same_function_as_attention_from_tables():
    """model.attention='dense' (the per-example path, readout position only): the logits and
    every gradient of the default 'tables' path, to float rounding."""
    tables, dense = CFG, dataclasses.replace(CFG, attention="dense")
    params = models.init(jax.random.key(6), tables)
    tokens = jnp.asarray(np.random.default_rng(2).integers(0, CFG.d_vocab, size=(200, 3)),
                         jnp.int32)

    def loss(p, cfg):
        return jnp.sum(jnp.sin(models.apply(p, tokens, cfg)))

    np.testing.assert_allclose(models.apply(params, tokens, tables),
                               models.apply(params, tokens, dense), rtol=1e-5, atol=1e-6)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5),
                 jax.grad(loss)(params, tables), jax.grad(loss)(params, dense))
    # and they are two computations: XLA's programs differ (a gather from the score table)
    texts = [jax.jit(lambda p, c=c: models.apply(p, tokens, c)).lower(params).as_text()
             for c in (tables, dense)]
    assert texts[0] != texts[1]
