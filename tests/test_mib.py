"""The MIB circuit-track export (grokjax.circuits.mib): EAP-IG's Graph.to_json names and
counts, written out here independently, exact round trips, Nanda's embeddings as one 'input'
node, position sums equal to position-free EAP, and one-line errors."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from grokjax import circuits, models
from grokjax.circuits import mib
from grokjax.errors import GrokjaxError


def _cfg(layers=1, heads=4, variant="furuta"):
    return models.ModelConfig(d_vocab=13, n_ctx=3, d_model=16, num_heads=heads, d_head=4,
                              d_mlp=24, num_layers=layers, variant=variant)


def _random(units, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=len(units)).astype(np.float32), rng.random(len(units)) < 0.5)


def _one_line(excinfo):
    text = str(excinfo.value)
    assert text and "\n" not in text, text
    return text


def test_the_file_is_eap_igs_graph_of_one_layer_of_four_heads():
    g = circuits.graph(_cfg())
    d = mib.to_mib(g, g.units("edges-nopos"), np.zeros(23), d_model=16, metric="kl")
    assert list(d) == ["cfg", "nodes", "edges"]
    assert d["cfg"] == {"n_layers": 1, "n_heads": 4, "parallel_attn_mlp": False, "d_model": 16}
    assert list(d["nodes"]) == ["input", "a0.h0", "a0.h1", "a0.h2", "a0.h3", "m0", "logits"]
    # ACDC's and EAP-IG's 23 residual edges, spelled as EAP-IG's Edge.name spells them
    heads = [f"a0.h{h}" for h in range(4)]
    expected = ([f"input->{a}<{q}>" for a in heads for q in "qkv"] + ["input->m0"]
                + [f"{a}->m0" for a in heads] + ["input->logits"]
                + [f"{a}->logits" for a in heads] + ["m0->logits"])
    assert sorted(d["edges"]) == sorted(expected) and len(expected) == 23
    assert list(d["edges"])[:4] == ["input->a0.h0<q>", "input->a0.h0<k>", "input->a0.h0<v>",
                                    "input->a0.h1<q>"]  # from_model's order
    assert all(set(v) == {"score", "in_graph"} for v in d["edges"].values())
    assert all(set(v) == {"in_graph"} for v in d["nodes"].values())


def test_a_gpt2_sized_graph_matches_mibs_example_file(tmp_path):
    """MIB's circuits/ioi-eap-ig.json (GPT-2 small, hannamw/MIB-circuit-track@b759df34) has
    158 nodes and 32491 edges and opens as below; written from grokjax's 12 x 12 graph, that
    file reads back and writes out byte for byte (checked by hand against the real file)."""
    nodes, edges = mib.mib_graph(12, 12)
    assert (len(nodes), len(edges)) == (158, 32491)
    g = circuits.graph(models.ModelConfig(d_vocab=13, n_ctx=3, d_model=768, num_heads=12,
                                          d_head=64, d_mlp=32, num_layers=12))
    units = g.units("edges-nopos")
    path = mib.write_mib(tmp_path / "i.json", g, units, np.zeros(len(units)), d_model=768,
                         metric="kl")
    assert path.read_text().startswith(
        '{"cfg": {"n_layers": 12, "n_heads": 12, "parallel_attn_mlp": false, "d_model": 768}, '
        '"nodes": {"input": {"in_graph": true}, "a0.h0": {"in_graph": true}, ')
    assert '"input->a0.h0<q>": {"score": 0.0, "in_graph": true}, "input->a0.h0<k>": ' \
        in path.read_text()
    assert path.read_text().endswith('"m11->logits": {"score": 0.0, "in_graph": true}}}')


@pytest.mark.parametrize("layers,heads", [(1, 4), (2, 4), (3, 2)])
def test_node_and_edge_counts_are_eap_igs(layers, heads):
    g = circuits.graph(_cfg(layers, heads))
    d = mib.to_mib(g, g.units("edges-nopos"), np.zeros(len(g.units("edges-nopos"))),
                   d_model=16, metric="kl")
    L, H = layers, heads
    parents = {n.split("->")[0] for n in d["edges"]}
    receivers = {n.split("->")[1] for n in d["edges"]}
    assert len(parents) == 1 + L * (H + 1)  # EAP-IG's n_forward
    assert len(receivers) == L * (3 * H + 1) + 1  # its n_backward
    assert len(d["nodes"]) == 1 + L * (H + 1) + 1
    # every earlier sender into every later receiver: heads of a layer feed its MLP
    n_edges = sum((1 + l * (H + 1)) * 3 * H + (1 + l * (H + 1) + H) for l in range(L)) \
        + 1 + L * (H + 1)
    assert len(d["edges"]) == n_edges == len(g.units("edges-nopos"))
    if L >= 2:
        for name in ["m0->a1.h1<k>", "a0.h1->a1.h0<v>", "a0.h0->m1", "a1.h1->logits",
                     "input->m1"]:
            assert name in d["edges"], name
        assert "a1.h0->a1.h1<q>" not in d["edges"] and "m1->a1.h0<q>" not in d["edges"]


@pytest.mark.parametrize("layers", [1, 2])
def test_scores_and_in_graph_round_trip_exactly_through_the_file(tmp_path, layers):
    g = circuits.graph(_cfg(layers))
    units = g.units("edges-nopos")
    scores, kept = _random(units, layers)
    path = mib.write_mib(tmp_path / "x" / "importances.json", g, units, scores, kept,
                         d_model=16, metric="kl")
    d = mib.read_mib(path)
    assert d == json.loads(path.read_text())
    back, back_kept = mib.from_mib(d, g, metric="kl")
    assert np.array_equal(back, scores.astype(np.float64)) and np.array_equal(back_kept, kept)
    # a node is in the graph with a kept edge out and (but for 'input') one in
    kept_names = [n for n, v in d["edges"].items() if v["in_graph"]]
    for node, v in d["nodes"].items():
        out = any(n.startswith(node + "->") for n in kept_names)
        into = node == "input" or any(n.split("->")[1].split("<")[0] == node for n in kept_names)
        assert v["in_graph"] == (node == "logits" or (out and into)), node


def test_without_kept_every_edge_is_in_the_graph_and_scores_round_trip():
    g = circuits.graph(_cfg(2))
    units = g.units("edges-nopos")
    scores, _ = _random(units)
    d = mib.to_mib(g, units, scores, d_model=16, metric="loss")
    assert all(v["in_graph"] for v in d["edges"].values())
    assert all(v["in_graph"] for v in d["nodes"].values())
    assert np.array_equal(mib.from_mib(d, g, metric="loss")[0], scores.astype(np.float64))


def test_node_level_scores_round_trip():
    g = circuits.graph(_cfg(2))
    units = g.units("nodes")
    scores, kept = _random(units, 3)
    d = mib.to_mib(g, units, scores, kept, d_model=16, metric="kl")
    assert d["nodes"]["a1.h2"]["score"] == float(scores[list(units.names).index(
        "blocks.1.attn.hook_result[h=2]")])
    assert "score" not in d["nodes"]["logits"]
    back, back_kept = mib.from_mib(d, g, units, metric="kl")
    assert np.array_equal(back, scores.astype(np.float64)) and np.array_equal(back_kept, kept)
    # MIB's node level keeps every edge out of a kept node
    assert d["edges"]["m0->logits"]["in_graph"] == d["nodes"]["m0"]["in_graph"]


def test_logit_difference_scores_are_negated_into_mibs_loss_orientation():
    g = circuits.graph(_cfg())
    units = g.units("edges-nopos")
    scores, kept = _random(units)
    d = mib.to_mib(g, units, scores, kept, d_model=16, metric="logit_diff")
    first = units.names.index("hook_embed -> blocks.0.hook_q_input[h=0]")
    assert d["edges"]["input->a0.h0<q>"]["score"] == -float(scores[first])
    assert np.array_equal(mib.from_mib(d, g, metric="logit_diff")[0], scores.astype(np.float64))
    assert np.array_equal(mib.from_mib(d, g, metric=None)[0], -scores.astype(np.float64))


def test_a_nanda_models_two_embeddings_are_one_input_node():
    furuta, nanda = circuits.graph(_cfg(2)), circuits.graph(_cfg(2, variant="nanda"))
    assert "hook_pos_embed" in nanda.senders
    units = nanda.units("edges-nopos")
    scores, kept = _random(units)
    d = mib.to_mib(nanda, units, scores, kept, d_model=16, metric="kl")
    d_furuta = mib.to_mib(furuta, furuta.units("edges-nopos"),
                          np.zeros(len(furuta.units("edges-nopos"))), d_model=16, metric="kl")
    assert list(d["nodes"]) == list(d_furuta["nodes"])
    assert list(d["edges"]) == list(d_furuta["edges"])
    i = units.names.index("hook_embed -> blocks.1.hook_mlp_in")
    j = units.names.index("hook_pos_embed -> blocks.1.hook_mlp_in")
    assert d["edges"]["input->m1"]["score"] == float(np.float64(scores[i]) + np.float64(scores[j]))
    assert d["edges"]["input->m1"]["in_graph"] == bool(kept[i] or kept[j])
    # back: the input's score to hook_embed, 0 to hook_pos_embed, kept alike; and again
    back, back_kept = mib.from_mib(d, nanda, metric="kl")
    assert back[j] == 0.0 and back[i] == d["edges"]["input->m1"]["score"]
    assert back_kept[i] == back_kept[j] == d["edges"]["input->m1"]["in_graph"]
    assert mib.to_mib(nanda, units, back, back_kept, d_model=16, metric="kl") == d
    nodes = nanda.units("nodes")
    dn = mib.to_mib(nanda, nodes, np.arange(len(nodes), dtype=np.float64), d_model=16,
                    metric="kl", reduce="max")
    assert dn["nodes"]["input"]["score"] == 1.0  # max |.| of hook_embed (0) and hook_pos_embed (1)


def _setup():
    """A random 1-layer model (two members) on a few inputs, for EAP."""
    cfg = models.ModelConfig(d_vocab=9, n_ctx=3, d_model=16, num_heads=2, d_head=4, d_mlp=24)
    params = jax.vmap(lambda k: models.init(k, cfg))(jax.random.split(jax.random.PRNGKey(0), 2))
    rng = np.random.default_rng(0)
    ab, bad = rng.integers(0, 7, (16, 2)), rng.integers(0, 7, (16, 2))
    tok = lambda x: jnp.asarray(np.stack([x[:, 0], np.full(16, 7), x[:, 1]], 1), jnp.int32)
    g = circuits.graph(cfg)
    s = circuits.prepare(params, cfg, g, tok(ab), jnp.asarray(ab.sum(1) % 7),
                         corrupt_tokens=tok(bad), n_answers=7)
    return s, g


def test_position_sums_are_the_position_free_eap_scores():
    s, g = _setup()
    by_pos = np.asarray(circuits.eap(s, g.units("edges"), "logit_diff"))
    nopos = np.asarray(circuits.eap(s, g.units("edges-nopos"), "logit_diff"))
    for m in range(2):
        summed = mib.to_mib(g, g.units("edges"), by_pos[m], d_model=16, metric="logit_diff")
        direct = mib.to_mib(g, g.units("edges-nopos"), nopos[m], d_model=16, metric="logit_diff")
        a = np.array([v["score"] for v in summed["edges"].values()])
        b = np.array([v["score"] for v in direct["edges"].values()])
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    # 'max' keeps the largest magnitude; a unit kept at any position keeps its edge
    units = g.units("edges")
    scores = np.zeros(len(units))
    kept = np.zeros(len(units), bool)
    at = [i for i, n in enumerate(units.names)
          if n.startswith("hook_embed -> blocks.0.hook_k_input[h=1] @")]
    assert len(at) == 3  # keys are read at every position
    scores[at] = [0.5, -2.0, 1.0][:len(at)]
    kept[at[0]] = True
    d = mib.to_mib(g, units, scores, kept, d_model=16, metric="kl", reduce="max")
    assert d["edges"]["input->a0.h1<k>"] == {"score": -2.0, "in_graph": True}
    assert mib.to_mib(g, units, scores, kept, d_model=16, metric="kl")["edges"][
        "input->a0.h1<k>"]["score"] == -0.5


def test_write_mib_run_writes_every_member_in_mibs_layout(tmp_path):
    g = circuits.graph(_cfg())
    units = g.units("edges-nopos")
    scores = np.stack([_random(units, m)[0] for m in range(3)])
    paths = mib.write_mib_run(tmp_path, g, units, scores, d_model=16, metric="kl",
                              members=["seed_000", "seed_001", "seed_002"], task="x+y_mod")
    assert [p.relative_to(tmp_path).as_posix() for p in paths] == [
        f"x+y-mod_seed-00{m}/importances.json" for m in range(3)]
    for m, p in enumerate(paths):
        assert np.array_equal(mib.from_mib(mib.read_mib(p), g, metric="kl")[0],
                              scores[m].astype(np.float64))
    kept = scores > 0
    result = circuits.AcdcResult(kept=kept, value=np.zeros(3), deltas=scores)
    paths = mib.write_mib_run(tmp_path / "acdc", g, units, result, d_model=16,
                              metric="logit_diff", members=["a", "b", "c"])
    back, back_kept = mib.from_mib(mib.read_mib(paths[1]), g, metric=None)
    assert np.array_equal(back, scores[1].astype(np.float64)) and np.array_equal(back_kept, kept[1])


def test_bad_input_is_a_one_line_error(tmp_path):
    g = circuits.graph(_cfg())
    units = g.units("edges-nopos")
    scores, kept = _random(units)
    good = mib.to_mib(g, units, scores, kept, d_model=16, metric="kl")
    grouped = circuits.graph(_cfg(), mlp_groups=("14", "other"))
    with pytest.raises(GrokjaxError) as e:
        mib.to_mib(grouped, grouped.units("edges-nopos"), np.zeros(len(grouped.units(
            "edges-nopos"))), d_model=16, metric="kl")
    assert "frequency groups" in _one_line(e)
    with pytest.raises(GrokjaxError) as e:
        mib.to_mib(g, units, np.zeros((2, len(units))), d_model=16, metric="kl")
    assert "one member" in _one_line(e)
    with pytest.raises(GrokjaxError) as e:
        mib.to_mib(g, units, scores, d_model=16, metric="nll")
    _one_line(e)
    with pytest.raises(GrokjaxError) as e:
        mib.to_mib(g, units, scores, d_model=16, metric="kl", reduce="mean")
    _one_line(e)
    with pytest.raises(GrokjaxError) as e:
        mib.from_mib(good, g, g.units("edges"), metric="kl")
    assert "no positions" in _one_line(e)
    with pytest.raises(GrokjaxError) as e:
        mib.from_mib(good, circuits.graph(_cfg(2)), metric="kl")
    assert "1-layer" in _one_line(e)
    with pytest.raises(GrokjaxError) as e:
        mib.from_mib(good, g, g.units("nodes"), metric="kl")
    assert "node-level" in _one_line(e)
    bad = json.loads(json.dumps(good))
    del bad["edges"]["m0->logits"]
    with pytest.raises(GrokjaxError) as e:
        mib.from_mib(bad, g, metric="kl")
    assert "m0->logits" in _one_line(e)
    bad = json.loads(json.dumps(good))
    bad["edges"]["a0.h0->a0.h1<q>"] = {"score": 0.0, "in_graph": True}
    with pytest.raises(GrokjaxError) as e:
        mib.from_mib(bad, g, metric="kl")
    _one_line(e)
    bad = json.loads(json.dumps(good))
    bad["edges"]["m0->logits"] = {"score": "high", "in_graph": True}
    with pytest.raises(GrokjaxError) as e:
        mib.from_mib(bad, g, metric="kl")
    _one_line(e)
    for text in ["not json", json.dumps({"cfg": {}, "edges": {}}), json.dumps([1, 2])]:
        (tmp_path / "f.json").write_text(text)
        with pytest.raises(GrokjaxError) as e:
            mib.read_mib(tmp_path / "f.json")
        _one_line(e)
    with pytest.raises(GrokjaxError) as e:
        mib.read_mib(tmp_path / "missing.json")
    _one_line(e)
    with pytest.raises(GrokjaxError) as e:
        mib.write_mib_run(tmp_path, g, units, np.zeros((2, len(units))), d_model=16,
                          metric="kl", members=["a"])
    _one_line(e)
