"""Circuits: the patched forward pass, the methods built on it, and the clock/pizza measures,
each checked against an independent computation (circuits.md section 8)."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from grokjax import circuits, cli, models
from grokjax.circuits import clock_pizza, forward, metrics, patching
from grokjax.report import circuits as command
from grokjax.report.circuits import Options

P = 7


def _model(variant="nanda", layers=2, rate=1.0, seeds=2):
    """Random params (biases too) of a small transformer, stacked over `seeds`."""
    cfg = models.ModelConfig(d_vocab=P + 2, n_ctx=3, d_model=16, num_heads=2, d_head=4,
                             d_mlp=24, variant=variant, num_layers=layers, attn_rate=rate)

    def one(key):
        params = models.init(key, cfg)
        leaves, tree = jax.tree.flatten(params)
        keys = jax.random.split(jax.random.fold_in(key, 1), len(leaves))
        return jax.tree.unflatten(tree, [x + 0.3 * jax.random.normal(k, x.shape, x.dtype)
                                         for x, k in zip(leaves, keys)])
    return cfg, jax.vmap(one)(jax.random.split(jax.random.PRNGKey(0), seeds))


def _inputs(cfg, n=40):
    rng = np.random.default_rng(0)
    ab, bad = rng.integers(0, P, (n, 2)), rng.integers(0, P, (n, 2))
    tok = (lambda x: np.concatenate([x, np.full((n, 1), P)], 1) if cfg.variant == "nanda"
           else np.stack([x[:, 0], np.full(n, P), x[:, 1]], 1))
    return jnp.asarray(tok(ab), jnp.int32), jnp.asarray(tok(bad), jnp.int32), \
        jnp.asarray(ab.sum(1) % P, jnp.int32)


def _one(params, m):
    return jax.tree.map(lambda x: x[m], params)


def test_the_graph_has_acdc_s_23_edges_for_one_layer_of_four_heads_and_39_with_positions():
    cfg = models.ModelConfig(d_vocab=33, n_ctx=3)
    g = circuits.graph(cfg)
    assert g.n_edges == 39 and len(g.units("edges-nopos")) == 23 and len(g.units("nodes")) == 6
    # EAP-IG's counts: 1 + L(H+1) senders, L(3H+1) + 1 receivers
    g2 = circuits.graph(models.ModelConfig(d_vocab=33, n_ctx=3, num_layers=2))
    assert len(g2.senders) == 1 + 2 * 5 and len(g2.receivers) == 2 * 13 + 1
    names = g.edge_names()
    assert "blocks.0.attn.hook_result[h=2] -> blocks.0.hook_mlp_in @b" in names
    assert "L0H2 -> L0MLP @b" in g.edge_names(short=True)
    # a one-layer model's logits read the last position only: no edge into its MLP at a
    assert not any(n.endswith("hook_mlp_in @a") for n in names)


@pytest.mark.parametrize("variant,layers", [("furuta", 1), ("nanda", 2)])
def test_all_ones_is_the_clean_model_and_all_zeros_the_corrupted_one(variant, layers):
    cfg, params = _model(variant, layers)
    clean, bad, labels = _inputs(cfg)
    g = circuits.graph(cfg)
    s = circuits.prepare(params, cfg, g, clean, labels, corrupt_tokens=bad)
    run = jax.jit(forward.run, static_argnums=(2, 3))
    for m in range(2):
        pm = _one(params, m)
        dense = forward.dense_mask(g, jnp.ones(g.n_edges, jnp.float32), 3)
        logits, _ = run(pm, clean, cfg, g, dense, s.corrupt[m])
        np.testing.assert_allclose(logits, models.apply(pm, clean, cfg), rtol=1e-4, atol=1e-4)
        dense0 = forward.dense_mask(g, jnp.zeros(g.n_edges, jnp.float32), 3)
        logits0, _ = run(pm, clean, cfg, g, dense0, s.corrupt[m])
        np.testing.assert_allclose(logits0, models.apply(pm, bad, cfg), rtol=1e-4, atol=1e-4)


def test_removing_an_edge_into_the_logits_changes_them_by_that_sender_s_difference():
    cfg, params = _model("nanda", 2)
    clean, bad, labels = _inputs(cfg)
    g = circuits.graph(cfg)
    pm = _one(params, 0)
    _, cache_clean = models.apply(pm, clean, cfg, cache=True)
    _, cache_bad = models.apply(pm, bad, cfg, cache=True)
    e = g.edge_names().index("blocks.1.attn.hook_result[h=1] -> logits @=")
    s = circuits.prepare(params, cfg, g, clean, labels, corrupt_tokens=bad)
    mask = jnp.ones(g.n_edges, jnp.float32).at[e].set(0.0)
    logits, _ = forward.run(pm, clean, cfg, g, forward.dense_mask(g, mask, 3), s.corrupt[0])
    diff = (cache_clean["blocks.1.attn.hook_result"] - cache_bad["blocks.1.attn.hook_result"])
    expected = models.apply(pm, clean, cfg) - diff[:, -1, 1] @ pm["unembed"]["W_U"]
    np.testing.assert_allclose(logits, expected, rtol=1e-4, atol=1e-4)


def test_the_new_hook_points_have_transformer_lens_s_shapes_and_sum_to_the_attention_output():
    cfg, params = _model("furuta", 1)
    clean, _, _ = _inputs(cfg, 5)
    pm = _one(params, 0)
    _, c = models.apply(pm, clean, cfg, cache=True)
    assert c["blocks.0.hook_q_input"].shape == (5, 3, 2, 16)
    assert c["blocks.0.attn.hook_result"].shape == (5, 3, 2, 16)
    np.testing.assert_allclose(c["blocks.0.attn.hook_result"].sum(2), c["blocks.0.hook_attn_out"],
                               atol=1e-5)
    np.testing.assert_allclose(c["blocks.0.hook_mlp_in"], c["blocks.0.hook_resid_mid"])
    # a hook on one head's value input changes that head's output only
    hooked, c2 = models.apply(pm, clean, cfg, cache=True, hooks={
        "blocks.0.hook_v_input": lambda x: x.at[:, :, 1].set(0.0)})
    np.testing.assert_allclose(c2["blocks.0.attn.hook_result"][:, :, 0],
                               c["blocks.0.attn.hook_result"][:, :, 0], atol=1e-6)
    assert not np.allclose(c2["blocks.0.attn.hook_result"][:, :, 1],
                           c["blocks.0.attn.hook_result"][:, :, 1])


def test_eap_into_the_logits_equals_exact_patching_under_the_logit_difference():
    cfg, params = _model("nanda", 2)
    clean, bad, labels = _inputs(cfg)
    g = circuits.graph(cfg)
    s = circuits.prepare(params, cfg, g, clean, labels, corrupt_tokens=bad, n_answers=P)
    units = g.units("edges")
    exact = np.asarray(circuits.edge_effects(s, units, "logit_diff"))
    estimate = np.asarray(circuits.eap(s, units, "logit_diff"))
    into_logits = np.asarray([g.receivers[r] == "logits" for _, r, _ in g.edges])
    np.testing.assert_allclose(estimate[:, into_logits], exact[:, into_logits], atol=1e-4)
    # elsewhere the model is not linear: the estimate is only an estimate
    assert not np.allclose(estimate[:, ~into_logits], exact[:, ~into_logits], atol=1e-3)
    # EAP-IG with one step is EAP; with more it moves
    np.testing.assert_allclose(circuits.eap_ig(s, units, "logit_diff", 1), estimate, atol=1e-6)


def test_vmapped_members_equal_a_loop_over_members():
    cfg, params = _model("furuta", 1, seeds=3)
    clean, bad, labels = _inputs(cfg)
    g = circuits.graph(cfg)
    units = g.units("edges-nopos")
    s = circuits.prepare(params, cfg, g, clean, labels, corrupt_tokens=bad)
    together = circuits.acdc(s, units, "kl", 0.05)
    eap = circuits.eap(s, units, "kl")
    for m in range(3):
        alone = circuits.prepare(jax.tree.map(lambda x: x[m:m + 1], params), cfg, g, clean,
                                 labels, corrupt_tokens=bad)
        r = circuits.acdc(alone, units, "kl", 0.05)
        np.testing.assert_array_equal(r.kept[0], together.kept[m])
        np.testing.assert_allclose(r.value[0], together.value[m], rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(circuits.eap(alone, units, "kl")[0], eap[m], rtol=1e-4,
                                   atol=1e-7)


def test_acdc_keeps_nothing_at_tau_inf_everything_at_minus_inf_and_stays_within_tau_per_edge():
    cfg, params = _model("nanda", 2)
    clean, bad, labels = _inputs(cfg)
    g = circuits.graph(cfg)
    units = g.units("edges")
    s = circuits.prepare(params, cfg, g, clean, labels, corrupt_tokens=bad)
    assert not np.asarray(circuits.acdc(s, units, "kl", np.inf).kept).any()
    assert np.asarray(circuits.acdc(s, units, "kl", -np.inf).kept).all()
    full, corrupt = circuits.full_and_corrupt(s, units, "kl")
    for tau in (0.003, 0.03, 0.3):
        r = circuits.acdc(s, units, "kl", tau)
        removed = len(units) - np.asarray(r.kept).sum(-1)
        assert (np.asarray(r.value) - np.asarray(full) <= tau * removed + 1e-6).all()
        assert 0 < removed.min() and removed.max() < len(units)
        # the reported metric is the metric of the circuit it keeps
        np.testing.assert_allclose(circuits.evaluate(s, np.asarray(r.kept, np.float32), units,
                                                     "kl"), r.value, rtol=1e-4, atol=1e-6)
    # a tau axis is one vmapped call, equal to the calls one by one
    many = circuits.acdc(s, units, "kl", np.asarray([0.003, 0.3]))
    np.testing.assert_array_equal(many.kept[1], circuits.acdc(s, units, "kl", 0.3).kept)


def test_faithfulness_is_one_for_the_full_model_and_zero_for_the_corrupted():
    full, corrupt = jnp.asarray([0.0, 2.0]), jnp.asarray([4.0, 2.0])
    np.testing.assert_allclose(metrics.faithfulness(full, full, corrupt), [1.0, np.nan])
    np.testing.assert_allclose(metrics.faithfulness(corrupt, full, corrupt)[0], 0.0)
    np.testing.assert_allclose(metrics.faithfulness(jnp.asarray([1.0, 0]), full, corrupt)[0], 0.75)


@pytest.mark.parametrize("kind", ["resid_pre", "mlp_out", "attn_head_out_by_pos",
                                  "attn_head_pattern_by_pos", "attn_head_v_all_pos"])
@pytest.mark.parametrize("direction", ["denoise", "noise"])
def test_activation_patching_equals_a_loop_over_replacement_hooks(kind, direction):
    cfg, params = _model("nanda", 2)
    clean, bad, labels = _inputs(cfg)
    table = np.asarray(patching.act_patch(params, cfg, clean, bad, labels, kind=kind,
                                          metric="logit_diff", direction=direction, n_answers=P))
    base, source = (bad, clean) if direction == "denoise" else (clean, bad)
    hook = {"resid_pre": "hook_resid_pre", "mlp_out": "hook_mlp_out",
            "attn_head_out_by_pos": "attn.hook_z", "attn_head_pattern_by_pos": "attn.hook_pattern",
            "attn_head_v_all_pos": "attn.hook_v"}[kind]
    for m in range(2):
        pm = _one(params, m)
        clean_logits = models.apply(pm, clean, cfg)
        for layer in range(2):
            name = f"blocks.{layer}.{hook}"
            src = models.apply(pm, source, cfg, cache=[name])[1][name]
            for idx in np.ndindex(table.shape[2:]):
                if kind in ("resid_pre", "mlp_out"):
                    sl = (slice(None), idx[0])
                elif kind == "attn_head_out_by_pos":
                    sl = (slice(None), idx[0], idx[1])
                elif kind == "attn_head_pattern_by_pos":
                    sl = (slice(None), idx[0], idx[1])
                else:
                    sl = (slice(None), slice(None), idx[0])
                logits = models.apply(pm, base, cfg,
                                      hooks={name: lambda x: x.at[sl].set(src[sl])})
                expected = metrics.value("logit_diff", logits, clean_logits, labels, P)
                np.testing.assert_allclose(table[m, layer][idx], expected, rtol=1e-4, atol=1e-5)


def test_frequency_groups_split_the_mlp_exactly():
    cfg, params = _model("furuta", 1)
    clean, bad, labels = _inputs(cfg)
    ab = np.array([(a, b) for a in range(P) for b in range(P)])
    table = jnp.asarray(np.stack([ab[:, 0], np.full(len(ab), P), ab[:, 1]], 1), jnp.int32)
    names, groups = circuits.frequency_groups(params, cfg, table, P, threshold=0.0)
    assert names[-1] == "other" and groups.shape == (2, 1, len(names), cfg.d_mlp)
    np.testing.assert_allclose(groups.sum(2), 1.0)  # every neuron in exactly one group
    g = circuits.graph(cfg, mlp_groups=names)
    s = circuits.prepare(params, cfg, g, clean, labels, corrupt_tokens=bad, groups=groups)
    np.testing.assert_allclose(s.clean_logits, jax.vmap(lambda p: models.apply(p, clean, cfg))(
        params), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(s.corrupt_logits, jax.vmap(lambda p: models.apply(p, bad, cfg))(
        params), rtol=1e-4, atol=1e-4)


def test_distance_irrelevance_is_the_pizza_notebook_s_computation():
    cfg, params = _model("furuta", 1)
    pm = _one(params, 0)
    ab = np.array([(a, b) for a in range(P) for b in range(P)])
    tokens = jnp.asarray(np.stack([ab[:, 0], np.full(len(ab), P), ab[:, 1]], 1), jnp.int32)
    labels = jnp.asarray(ab.sum(1) % P, jnp.int32)
    got = float(clock_pizza.distance_irrelevance(pm, cfg, tokens, labels, P))
    o = np.asarray(models.apply(pm, tokens, cfg))
    oo = [[0.0] * P for _ in range(P)]  # eval-main.ipynb, cell 10, as written there
    for p_, (A, B), y in zip(o, ab, np.asarray(labels)):
        oo[(A + B) % P][(A - B) % P] = p_[y]
    oo = np.array(oo)
    np.testing.assert_allclose(got, np.mean(np.std(oo, axis=0)) / np.std(oo.flatten()), rtol=1e-5)


def test_gradient_symmetricity_is_one_when_attention_cannot_tell_the_operands_apart():
    # Nanda's layout [a, b, =] with uniform attention: a and b reach the readout only through
    # the same average, so their gradients are equal; softmax attention breaks the symmetry.
    triples = clock_pizza.sample_triples(P, 30)
    tokens = jnp.asarray(np.stack([triples[:, 0], triples[:, 1], np.full(30, P)], 1), jnp.int32)
    for rate, symmetric in ((0.0, True), (1.0, False)):
        cfg, params = _model("nanda", 1, rate=rate)
        pm = _one(params, 0)
        pm["pos_embed"]["W_pos"] = pm["pos_embed"]["W_pos"].at[1].set(pm["pos_embed"]["W_pos"][0])
        sym = float(jax.jit(clock_pizza.gradient_symmetricity, static_argnums=1)(
            pm, cfg, tokens, jnp.asarray(triples[:, 2])))
        assert (abs(sym - 1) < 1e-5) == symmetric, (rate, sym)
    assert clock_pizza.verdict(0.99, 0.2) == "pizza" and clock_pizza.verdict(0.4, 0.85) == "clock"


def test_attention_rate_mixes_the_pattern_with_uniform_attention():
    cfg, params = _model("furuta", 1, rate=0.25)
    clean, _, _ = _inputs(cfg, 4)
    pm = _one(params, 0)
    _, c = models.apply(pm, clean, cfg, cache=["blocks.0.attn.hook_pattern",
                                               "blocks.0.attn.hook_attn_scores"])
    soft = jax.nn.softmax(c["blocks.0.attn.hook_attn_scores"], axis=-1)
    causal = np.tril(np.ones((3, 3)))
    expected = 0.25 * soft + 0.75 * (causal / causal.sum(-1, keepdims=True))[None, None]
    np.testing.assert_allclose(c["blocks.0.attn.hook_pattern"], expected, atol=1e-6)
    # the readout-only path (tables) agrees with the hooked path
    np.testing.assert_allclose(models.apply(pm, clean, cfg),
                               models.apply(pm, clean, cfg, cache=True)[0], atol=1e-5)


# -- on a grokked run ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def grokked(tmp_path_factory):
    """configs/circuits.py (add mod 31), 2 seeds, 800 steps, saved every 400 (its own 100
    makes --over-training nine checkpoints' work, not three): both grok (at 760 and 670 on
    this machine)."""
    from grokjax import cli
    run = tmp_path_factory.mktemp("circuits") / "run"
    assert cli.main(["train", "configs/circuits.py", "--seeds", "2", "--steps", "800",
                     "--out", str(run), "--no-progress",
                     "--set", "checkpoint.save_every=400"]) == 0
    return run


def test_swapping_a_and_b_is_a_null_control_on_addition(grokked):
    model = circuits.load(grokked)
    kl = {}
    for kind in ("swap", "shuffle"):
        s, g = circuits.setup(model, circuits.inputs(model, kind))
        full, kl[kind] = map(np.asarray, circuits.full_and_corrupt(s, g.units("edges"), "kl"))
        np.testing.assert_allclose(full, 0.0, atol=1e-6)
    assert (kl["swap"] < 1e-3 * kl["shuffle"]).all(), kl


def test_the_circuits_command_writes_reports_figures_and_tensorboard_over_training(grokked):
    from grokjax import cli
    from tests.conftest import png_size, tb_events
    assert cli.main(["circuits", str(grokked), "--method", "acdc", "--over-training"]) == 0
    out = grokked / "circuits" / "acdc-edges"
    report = json.loads((out / "report.json").read_text())
    assert report["n_units"] == 39 and report["members"][0]["name"] == "seed_000"
    for m in report["members"]:
        assert m["size"] == len(m["kept"]) and 0 < m["size"] < 39
        assert m["faithfulness"] > 0.99 and m["metric"] <= 0.01 * (39 - m["size"])
        assert "L0MLP -> logits @b" in m["kept"]
    arrays = np.load(out / "arrays.npz")
    assert arrays["kept"].shape == (2, 39) and arrays["kept"].sum() == sum(
        m["size"] for m in report["members"])
    curve = report["tau_curve"]
    assert np.all(np.diff(np.asarray(curve["size"]).mean(1)) <= 0.5)  # fewer units as tau grows
    over = report["over_training"]
    assert over["steps"] == [0, 400, 800] and len(over["size"]) == 3
    for name in ("circuits.png", "tau.png", "agreement.png", "over-training.png"):
        png_size(out / name)
    assert (out / "circuit-seed_001.dot").read_text().startswith('digraph "seed_001"')
    events = tb_events(grokked / "tb" / "seed_000")
    sizes = events.Scalars("circuits/acdc-edges/size")
    assert [e.step for e in sizes] == over["steps"]
    assert [e.value for e in sizes] == [row[0] for row in over["size"]]
    cpr = events.Scalars("circuits/acdc-edges/cpr")  # the ranking's faithfulness area
    np.testing.assert_allclose([e.value for e in cpr], [row[0] for row in over["cpr"]], rtol=1e-6)
    assert all(0 <= row[m] <= 1.5 for row in over["cpr"] for m in range(2))


def test_eap_is_reported_beside_exact_edge_patching(grokked):
    from grokjax import cli
    assert cli.main(["circuits", str(grokked), "--method", "eap", "--metric", "logit_diff",
                     "--granularity", "edges-nopos", "--seeds", "1"]) == 0
    report = json.loads((grokked / "circuits" / "eap-edges-nopos-logit_diff-seeds-1" /
                         "report.json").read_text())
    assert report["seeds"] == [1] and report["n_units"] == 23
    assert report["correlation_with_exact"][0] > 0.5


def test_the_patching_command_writes_transformer_lens_tables(grokked):
    from grokjax import cli
    from tests.conftest import png_size
    assert cli.main(["circuits", str(grokked), "--method", "patch", "--examples", "200"]) == 0
    out = grokked / "circuits" / "patch"
    tables = np.load(out / "arrays.npz")
    assert tables["attn_head_out_by_pos"].shape == (2, 1, 3, 4)
    assert tables["resid_pre"].shape == (2, 1, 3)
    png_size(out / "patching.png")


@pytest.mark.parametrize("args,message", [
    (["--seeds", "9"], "has no seed 9"),
    (["--method", "patch", "--corrupt", "mean"], "give an input corruption"),
    (["--corrupt", "b+2"], "is not one of"),
    (["--seeds", "x"], "comma-separated list of integers")])
def test_bad_circuits_options_are_one_line_errors(grokked, capsys, args, message):
    from grokjax import cli
    assert cli.main(["circuits", str(grokked), *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err


def test_patching_tables_match_transformer_lens_on_the_same_weights():
    """TransformerLens's own `patching` functions on a HookedTransformer loaded with grokjax's
    weights (Furuta's model: no LayerNorm, no biases, no positional embedding). Needs the
    optional torch and transformer-lens 3 (`pip install -e '.[tlens]'`: transformer-lens 4
    removed HookedTransformer)."""
    torch = pytest.importorskip("torch", reason="torch is not installed (optional)")
    tl = pytest.importorskip("transformer_lens",
                             reason="transformer-lens is not installed (optional)")
    try:
        HookedTransformer, HookedTransformerConfig = tl.HookedTransformer, tl.HookedTransformerConfig
    except (ImportError, AttributeError):
        pytest.skip("transformer-lens 4 removed HookedTransformer; this test needs "
                    "transformer-lens<4")
    from transformer_lens import patching as tl_patching
    cfg, params = _model("furuta", 1, seeds=1)
    pm = jax.tree.map(lambda x: np.asarray(x[0], np.float32), params)
    model = HookedTransformer(HookedTransformerConfig(
        n_layers=1, d_model=cfg.d_model, n_heads=cfg.num_heads, d_head=cfg.d_head,
        d_mlp=cfg.d_mlp, d_vocab=cfg.d_vocab, n_ctx=cfg.n_ctx, act_fn="relu",
        normalization_type=None, device="cpu", seed=0))
    state = {k: torch.zeros_like(v) for k, v in model.state_dict().items()
             if k.endswith(("b_Q", "b_K", "b_V", "b_O", "b_in", "b_out", "b_U", "W_pos"))}
    flat = models.param_names(pm)
    state.update({name: torch.tensor(value) for name, value in flat.items()})
    model.load_state_dict(state, strict=False)
    clean, bad, labels = _inputs(cfg)
    to_t = lambda x: torch.tensor(np.asarray(x), dtype=torch.long)  # noqa: E731
    np.testing.assert_allclose(model(to_t(clean))[:, -1].detach().numpy(),
                               models.apply(jax.tree.map(jnp.asarray, pm), clean, cfg),
                               rtol=1e-4, atol=1e-4)
    _, clean_cache = model.run_with_cache(to_t(clean))
    lab = torch.tensor(np.asarray(labels))

    def logit_diff(logits):
        last = logits[:, -1]
        return (last.gather(1, lab[:, None])[:, 0] - last[:, :P].mean(-1)).mean()
    for kind, fn in (("resid_pre", tl_patching.get_act_patch_resid_pre),
                     ("attn_head_out_by_pos", tl_patching.get_act_patch_attn_head_out_by_pos),
                     ("attn_head_pattern_by_pos",
                      tl_patching.get_act_patch_attn_head_pattern_by_pos)):
        theirs = fn(model, to_t(bad), clean_cache, logit_diff).detach().numpy()
        ours = np.asarray(patching.act_patch(params, cfg, clean, bad, labels, kind=kind,
                                             metric="logit_diff", n_answers=P))[0]
        np.testing.assert_allclose(ours, theirs, rtol=1e-3, atol=1e-4, err_msg=kind)


@pytest.mark.parametrize("kind", ["edges", "nodes"])
def test_edge_effects_from_the_first_changed_stage_equal_whole_forward_passes(kind):
    # edge_effects and ACDC start each unit's pass at the first stage it changes, reusing the
    # clean model before it; evaluate() always runs the whole model.
    cfg, params = _model("nanda", 2)
    clean, bad, labels = _inputs(cfg)
    g = circuits.graph(cfg)
    units = g.units(kind)
    s = circuits.prepare(params, cfg, g, clean, labels, corrupt_tokens=bad)
    full = np.asarray(circuits.evaluate(s, np.ones((2, len(units)), np.float32), units, "loss"))
    masks = 1.0 - np.eye(len(units), dtype=np.float32)
    whole = np.stack([circuits.evaluate(s, np.stack([m, m]), units, "loss") for m in masks], 1)
    np.testing.assert_allclose(circuits.edge_effects(s, units, "loss"), whole - full[:, None],
                               rtol=1e-4, atol=1e-5)


# -- the command as a researcher meets it (the fixture-free parts: test_circuits_command.py)

def test_seed_1_s_heads_are_one_command_and_one_line_of_python(grokked, capsys):
    assert cli.main(["circuits", str(grokked), "--method", "edges", "--granularity", "nodes",
                     "--seed-list", "1"]) == 0
    out = capsys.readouterr().out
    assert "seed_001: 6 of 6 units kept" in out and "seed_000" not in out
    printed = {line.split()[-1]: float(line.split()[0]) for line in out.splitlines()
               if line.startswith("  ") and "CPR" not in line}
    assert set(printed) == {"E", "L0H0", "L0H1", "L0H2", "L0H3", "L0MLP"}  # all six nodes
    one_line = command.compute(circuits.load(grokked, seeds=[1]), Options(
        "edges", granularity="nodes")).report["members"][0]["scores"]
    report = json.loads((grokked / "circuits" / "edges-nodes-seeds-1" / "report.json").read_text())
    assert report["seeds"] == [1] and report["members"][0]["scores"] == pytest.approx(one_line)
    assert printed == pytest.approx(one_line, rel=1e-3)
    assert min(one_line[f"L0H{h}"] for h in range(4)) > 0.1  # every head matters once grokked


def test_eap_finds_a_circuit_prints_it_and_keys_every_score_by_its_unit(grokked):
    out, result = command.write(str(grokked), "eap", granularity="edges-nopos", seeds=[0])
    assert out.name == "eap-edges-nopos-logit_diff-seeds-0"
    r = json.loads((out / "report.json").read_text())
    member = r["members"][0]
    assert r["metric"] == "logit_diff" and 0 < member["size"] < 23
    assert list(member["scores"]) == r["units_short"]  # keyed, in arrays.npz's order
    np.testing.assert_allclose(list(member["scores"].values()),
                               np.load(out / "arrays.npz")["scores"][0], rtol=1e-6)
    assert r["correlation_with_exact"][0] > 0.9
    text = command.summary(result.report)
    top = max(member["scores"], key=lambda u: abs(member["scores"][u]))
    assert f"seed_000: {member['size']} of 23 units kept" in text and top in text
    assert "correlation with exact" in text and len(text.splitlines()) == 2 + 2 + command.TOP


@pytest.mark.slow  # 23 s; edge pruning itself is tests/test_circuit_truth.py's, the command above
def test_edge_pruning_and_every_method_s_faithfulness_curve_in_the_command(grokked):
    out, result = command.write(str(grokked), "prune", prune_steps=20)
    r = json.loads((out / "report.json").read_text())
    assert out.name == "prune-edges" and r["sparsity"] == 0.8 and r["prune_steps"] == 20
    assert [m["size"] for m in r["members"]] == [8, 8]  # round(0.2 * 39) units kept
    front = r["front"]
    assert front["targets"] == list(command.PRUNE_TARGETS)  # 0.8 among them
    assert np.asarray(front["size"]).shape == (len(command.PRUNE_TARGETS), 2)
    curve = np.asarray(r["faithfulness_curve"]["curve"], np.float64)
    assert curve.shape == (2, 40)
    np.testing.assert_allclose(curve[:, [0, -1]], [[0, 1], [0, 1]], atol=1e-5)
    for m, member in enumerate(r["members"]):  # CPR is the curve's area, and beats random
        np.testing.assert_allclose(member["cpr"], command.C.cpr_cmd(curve[m:m + 1])[0][0])
        assert member["cpr"] > member["cpr_random"] + 0.2
    from tests.conftest import png_size
    png_size(out / "faithfulness.png")
    assert "CPR" in command.summary(result.report)
