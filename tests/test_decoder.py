"""Power et al.'s decoder (model.variant='power'): equality with a float64 numpy forward pass
written the way openai/grok's grok/transformer.py computes (head by head, -inf mask after
the scaling), causality, hooks and cache, init, and training through grokjax's real run."""

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from grokjax import models
from grokjax.models import ModelConfig

CFG = ModelConfig(d_vocab=31, n_ctx=5, variant="power", num_layers=2, d_model=32, num_heads=4,
                  d_head=8, d_mlp=128)
TOKENS = jnp.array([[10, 0, 14, 3, 11], [10, 7, 14, 9, 11], [10, 9, 20, 2, 11]], jnp.int32)


def random_params(cfg, key=3):
    """Init, with the LayerNorms moved off (1, 0) so that their weights and biases count."""
    params = models.init(jax.random.key(key), cfg)
    flat = models.param_names(params)
    keys = iter(jax.random.split(jax.random.key(key + 1), len(flat)))
    for name in flat:
        if ".ln" in name:
            flat[name] = flat[name] + 0.3 * jax.random.normal(next(keys), flat[name].shape)
    return models.unflatten(flat)


def numpy_forward(params, tokens, cfg):
    """openai/grok's Transformer.forward in float64 numpy: logits at every position."""
    P = {k: np.asarray(v, np.float64) for k, v in models.param_names(params).items()}
    tokens = np.asarray(tokens)
    B, C = tokens.shape
    D = cfg.d_model
    pe = np.array([[math.sin(pos / (10000 ** (i / D))) if i % 2 == 0
                    else math.cos(pos / (10000 ** ((i - 1) / D))) for i in range(D)]
                   for pos in range(C)])
    x = P["embed.W_E"][tokens] + pe

    def layer_norm(x, w, b):
        mean = x.mean(-1, keepdims=True)
        var = ((x - mean) ** 2).mean(-1, keepdims=True)
        return (x - mean) / np.sqrt(var + 1e-5) * w + b

    mask = np.tril(np.ones((C, C)))
    for layer in range(cfg.num_layers):
        b = f"blocks.{layer}"
        heads = []
        for h in range(cfg.num_heads):
            q, k, v = (x @ P[f"{b}.attn.W_{n}"][h] for n in "QKV")
            attn = q @ np.swapaxes(k, -1, -2) / np.sqrt(cfg.d_head)
            attn = np.where(mask == 0, -np.inf, attn)
            attn = np.exp(attn - attn.max(-1, keepdims=True))
            heads.append((attn / attn.sum(-1, keepdims=True)) @ v)
        W_O = P[f"{b}.attn.W_O"].reshape(cfg.num_heads * cfg.d_head, D)  # heads concatenated
        a1 = layer_norm(x + np.concatenate(heads, -1) @ W_O, P[f"{b}.ln1.w"], P[f"{b}.ln1.b"])
        a2 = np.maximum(a1 @ P[f"{b}.mlp.W_in"], 0) @ P[f"{b}.mlp.W_out"]
        x = layer_norm(a1 + a2, P[f"{b}.ln2.w"], P[f"{b}.ln2.b"])
    return x @ P["unembed.W_U"]


def test_param_names_and_shapes_follow_transformer_lens():
    shapes = {k: v.shape for k, v in models.param_names(models.init(jax.random.key(0), CFG)).items()}
    block = {"attn.W_Q": (4, 32, 8), "attn.W_K": (4, 32, 8), "attn.W_V": (4, 32, 8),
             "attn.W_O": (4, 8, 32), "ln1.w": (32,), "ln1.b": (32,), "mlp.W_in": (32, 128),
             "mlp.W_out": (128, 32), "ln2.w": (32,), "ln2.b": (32,)}
    assert shapes == {"embed.W_E": (31, 32), "unembed.W_U": (32, 31),
                      **{f"blocks.{i}.{k}": s for i in (0, 1) for k, s in block.items()}}


def test_init_is_torchs_default():
    """nn.Embedding N(0, 1); every nn.Linear U(+-1/sqrt(fan_in)); LayerNorm (1, 0)."""
    big = ModelConfig(d_vocab=300, n_ctx=5, variant="power", num_layers=2, d_model=128,
                      num_heads=4, d_head=32, d_mlp=512)
    p = models.param_names(models.init(jax.random.key(0), big))
    assert np.std(p["embed.W_E"]) == pytest.approx(1.0, rel=0.02)
    for name, fan_in in (("blocks.0.attn.W_Q", 128), ("blocks.1.attn.W_O", 128),
                         ("blocks.0.mlp.W_in", 128), ("blocks.0.mlp.W_out", 512),
                         ("unembed.W_U", 128)):
        bound = 1 / np.sqrt(fan_in)
        assert np.abs(p[name]).max() <= bound
        assert np.std(p[name]) == pytest.approx(bound / np.sqrt(3), rel=0.03), name
    assert (p["blocks.1.ln2.w"] == 1).all() and (p["blocks.1.ln2.b"] == 0).all()


def test_logits_equal_openai_grok_forward_in_float64():
    params = random_params(CFG)
    want = numpy_forward(params, TOKENS, CFG)  # [B, C, V]
    np.testing.assert_allclose(models.apply(params, TOKENS, CFG), want[:, -1],
                               rtol=1e-5, atol=1e-5)
    _, cache = models.run_with_cache(params, TOKENS, CFG)
    every = np.asarray(cache["blocks.1.hook_normalized_resid_post"]) @ np.asarray(
        params["unembed"]["W_U"], np.float64)
    np.testing.assert_allclose(every, want, rtol=1e-5, atol=1e-5)


def test_gelu_is_torchs_exact_gelu():
    cfg = dataclasses.replace(CFG, act="gelu")
    params = random_params(cfg)
    relu = models.apply(params, TOKENS, CFG)
    gelu = models.apply(params, TOKENS, cfg)
    assert not np.allclose(relu, gelu)
    _, cache = models.run_with_cache(params, TOKENS, cfg, names=["blocks.0.mlp.hook_pre",
                                                                "blocks.0.mlp.hook_post"])
    pre = np.asarray(cache["blocks.0.mlp.hook_pre"], np.float64)
    erf = np.vectorize(math.erf)
    np.testing.assert_allclose(cache["blocks.0.mlp.hook_post"],
                               pre * 0.5 * (1 + erf(pre / np.sqrt(2))), rtol=1e-5, atol=1e-6)


def test_a_later_token_never_changes_an_earlier_position():
    params = random_params(CFG)
    changed = TOKENS.at[:, 3].set(25)
    _, a = models.run_with_cache(params, TOKENS, CFG)
    _, b = models.run_with_cache(params, changed, CFG)
    for name in ("blocks.0.hook_resid_post", "blocks.1.hook_normalized_resid_post",
                 "blocks.1.mlp.hook_post", "blocks.1.ln1.hook_normalized"):
        np.testing.assert_array_equal(a[name][:, :3], b[name][:, :3], err_msg=name)
        assert not np.allclose(a[name][:, 3:], b[name][:, 3:]), name
    assert (np.asarray(a["blocks.0.attn.hook_pattern"])[..., 0, 1:] == 0).all()


def test_readout_path_equals_the_full_forward_and_logits_and_neurons():
    params = random_params(CFG)
    plain = models.apply(params, TOKENS, CFG)
    full, cache = models.run_with_cache(params, TOKENS, CFG)
    np.testing.assert_allclose(plain, full, rtol=1e-5, atol=1e-5)
    logits, neurons = models.logits_and_neurons(params, TOKENS, CFG)
    np.testing.assert_allclose(logits, plain, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(neurons, cache["blocks.1.mlp.hook_post"][:, -1],
                               rtol=1e-5, atol=1e-6)


def test_cache_holds_every_hook_with_its_shape():
    B, C, D, H, E, F = 3, 5, 32, 4, 8, 128
    shapes = {"hook_embed": (B, C, D), "hook_pos_embed": (B, C, D)}
    for layer in (0, 1):
        b = f"blocks.{layer}"
        shapes.update({f"{b}.hook_{n}_input": (B, C, H, D) for n in "qkv"})
        shapes.update({f"{b}.attn.hook_{n}": (B, C, H, E) for n in ("q", "k", "v", "z")})
        shapes.update({f"{b}.attn.hook_attn_scores": (B, H, C, C),
                       f"{b}.attn.hook_pattern": (B, H, C, C),
                       f"{b}.attn.hook_result": (B, C, H, D),
                       f"{b}.ln1.hook_scale": (B, C, 1), f"{b}.ln2.hook_scale": (B, C, 1),
                       f"{b}.mlp.hook_pre": (B, C, F), f"{b}.mlp.hook_post": (B, C, F)})
        shapes.update({f"{b}.{n}": (B, C, D) for n in (
            "hook_resid_pre", "hook_attn_out", "hook_resid_mid", "hook_mlp_in",
            "ln1.hook_normalized", "hook_mlp_out", "hook_resid_post", "ln2.hook_normalized",
            "hook_normalized_resid_post")})
    _, cache = models.run_with_cache(random_params(CFG), TOKENS, CFG)
    assert {k: v.shape for k, v in cache.items()} == shapes
    assert set(models.hook_names(CFG)) == set(shapes)
    np.testing.assert_array_equal(cache["blocks.0.hook_normalized_resid_post"],
                                  cache["blocks.1.hook_resid_pre"])


def test_a_zero_ablation_hook_changes_the_output_and_a_mean_one_patches():
    params = random_params(CFG)
    plain = models.apply(params, TOKENS, CFG)
    for name in ("blocks.1.mlp.hook_post", "blocks.0.attn.hook_pattern", "hook_pos_embed",
                 "blocks.1.ln2.hook_normalized"):
        ablated = models.apply(params, TOKENS, CFG, hooks={name: jnp.zeros_like})
        assert not np.allclose(ablated, plain), name
    # zeroing the last LayerNorm's output leaves logits 0: nothing else reaches the unembedding
    zero = models.apply(params, TOKENS, CFG,
                        hooks={"blocks.1.hook_normalized_resid_post": jnp.zeros_like})
    np.testing.assert_array_equal(zero, 0)
    with pytest.raises(ValueError, match="unknown hook"):
        models.apply(params, TOKENS, CFG, hooks={"ln_final.hook_normalized": jnp.zeros_like})


def test_a_tiny_power_model_trains_through_grokjax_run(tmp_path):
    """tests/tiny.py with the power model and openai/grok's tokens and split: a real run, whose
    train loss falls."""
    from grokjax import config as config_lib
    from grokjax import run
    from grokjax.store import rundir
    cfg = config_lib.load_config("tests/tiny.py", [
        "model.variant=power", "model.num_layers=2", "split.mode=grok", "split.seed=0",
        "task=division", "optim.lr=0.003", "optim.weight_decay=0.1", "train.steps=40",
        "train.chunk_steps=20", "probe.every=20", "seeds=1"])
    run.train(cfg, tmp_path / "run", progress=False)
    history = rundir.read_npz(tmp_path / "run" / "history.npz")
    loss = np.asarray(history["train/loss"]).mean(-1)[0]  # [seed, log point, task]
    assert np.isfinite(loss).all() and loss[-1] < 0.5 * loss[0], loss
    info = rundir.read_json(tmp_path / "run" / "run.json")
    assert info["vocab"]["tokens"]["<|eos|>"] == 11 and info["vocab"]["d_vocab"] == 11 + 142
    # the circuit tools read Furuta's and Nanda's models: a Power run is one line, not a crash
    from grokjax.circuits import runs as circuit_runs
    from grokjax.errors import GrokjaxError
    with pytest.raises(GrokjaxError, match="variant='power'") as e:
        circuit_runs.load(tmp_path / "run")
    assert "\n" not in str(e.value)
