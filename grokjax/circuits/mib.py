"""Edge scores in the MIB circuit track's file format, and back (Mueller et al. 2025, "MIB: A
Mechanistic Interpretability Benchmark", arXiv 2504.13151).

The format is EAP-IG's `Graph.to_json` / `Graph.from_json` (hannamw/EAP-IG, src/eap/graph.py
at 795f5607b25638935aec89aee3c1cb4bd9ed72f1; the same `to_json` as 7af394a5, the commit MIB's
repository pins as its EAP-IG submodule). MIB reads it with that `from_json` (and its copy,
MIB_circuit_track/circuit_loading.py), in run_evaluation.py of hannamw/MIB-circuit-track at
b759df34433c9e31043ba9e02908ce0bf20e894f, which writes and reads
CIRCUIT_DIR/METHOD_ABLATION_LEVEL/TASK_MODEL/importances.json. One JSON object:

    {"cfg":   {"n_layers": L, "n_heads": H, "parallel_attn_mlp": false, "d_model": D},
     "nodes": {"input": {"in_graph": true}, "a0.h0": {...}, ..., "m0": {...}, ..., "logits": {...}},
     "edges": {"input->a0.h0<q>": {"score": 0.12, "in_graph": true}, ...,
               "a0.h1->m0": {...}, "m0->logits": {...}}}

Nodes: 'input' (the embedding), 'aL.hH' (a head's output), 'mL' (an MLP), 'logits'; each has
'in_graph' (a node-level file adds 'score'). Edges: 'PARENT->CHILD', with '<q>', '<k>' or '<v>'
when the child is a head (which of its inputs reads the edge); each has 'score' and 'in_graph'.
There are no positions: EAP-IG sums its scores over positions (and batch and hidden units).
`from_json` builds the full graph from cfg (`Graph.from_model`: heads of layer l feed the MLP
of layer l unless parallel_attn_mlp) and sets every edge the file names; it needs every edge's
'score' and 'in_graph' and every node's 'in_graph' ('logits' excepted).

What maps to what:

    hook_embed (+ hook_pos_embed)           'input'  (Nanda's two embeddings are one node)
    blocks.L.attn.hook_result[h=H]          'aL.hH'
    blocks.L.hook_mlp_out / hook_mlp_in     'mL'
    blocks.L.hook_q_input[h=H] (k, v)       'aL.hH' as the child of '...->aL.hH<q>'
    logits                                  'logits'

A grokjax 'edges-nopos' unit is one MIB edge. Position-resolved 'edges' units are reduced over
positions: 'sum' (default) is exact for EAP and EAP-IG, whose mask gradient is linear in the
edges at each position (the score of removing an edge everywhere is the sum of its positions'
scores: what grokjax's 'edges-nopos' EAP gives and what EAP-IG computes); 'max' keeps the
score of largest magnitude (for exact effects and ACDC's deltas, which do not add). A kept
unit keeps its MIB edge if any of its positions is kept. Nanda's two embeddings are reduced
the same way; reading back, the 'input' edge's score goes to hook_embed and 0 to
hook_pos_embed (whose activation a resampled input leaves alone; under a zero or mean ablation
the split is a choice), both kept alike.
'nodes' units are MIB's node-level scores (a sender and every edge out of it, MIB's
`--level node`). MLP frequency groups are not representable (MIB has one node per MLP).

Signs: EAP-IG attributes a loss (MIB: logit difference with loss=True, negated), so a positive
score is an edge whose removal hurts. grokjax's scores are metric(without the unit) -
metric(full): `metric` names the metric, and for 'logit_diff' and 'accuracy' (larger is
better) the file holds them negated; ACDC's deltas are already damage (metric=None).

A node's in_graph is what EAP-IG's `apply_topn` sets before pruning: it has a kept outgoing
edge, and a kept incoming one ('input' needs none); 'logits' always. Nothing is pruned, so
every edge's in_graph reads back as it was written. Without `kept`, every edge is in_graph
(the full model the scores are scores of); MIB's evaluation ignores in_graph and builds its
circuits from the scores (`apply_topn` at 0.1% ... 100% of the edges).

    to_mib / from_mib    one member's scores <-> the file's dict
    write_mib / read_mib the JSON file (compact, as `to_json` writes it)
    write_mib_run        every member: OUT/TASK_MEMBER/importances.json, MIB's layout
"""

from __future__ import annotations

import json
import pathlib
import re
from typing import Any

import numpy as np

from grokjax.circuits.graph import GRANULARITIES, Graph, Units
from grokjax.circuits.metrics import METRICS
from grokjax.errors import GrokjaxError, write_failed
from grokjax.store import rundir

IMPORTANCES = "importances.json"  # the file name MIB's run_attribution.py writes
REDUCTIONS = ("sum", "max")
_LOWER_IS_WORSE = ("logit_diff", "accuracy")  # negated into MIB's loss orientation

_HEAD = re.compile(r"blocks\.(\d+)\.attn\.hook_result\[h=(\d+)\]")
_MLP_OUT = re.compile(r"blocks\.(\d+)\.hook_mlp_out")
_QKV = re.compile(r"blocks\.(\d+)\.hook_([qkv])_input\[h=(\d+)\]")
_MLP_IN = re.compile(r"blocks\.(\d+)\.hook_mlp_in")


def mib_graph(n_layers: int, n_heads: int) -> tuple[list[str], list[tuple[str, str, str]]]:
    """EAP-IG's graph of a sequential (not parallel_attn_mlp) model, in `Graph.from_model`'s
    order: (node names, edges as (parent, child, qkv or '')). Edge names by `edge_name`."""
    nodes, edges, residual = ["input"], [], ["input"]
    for layer in range(n_layers):
        heads = [f"a{layer}.h{h}" for h in range(n_heads)]
        edges += [(u, a, q) for u in residual for a in heads for q in "qkv"]
        residual += heads
        edges += [(u, f"m{layer}", "") for u in residual]
        residual.append(f"m{layer}")
        nodes += heads + [f"m{layer}"]
    edges += [(u, "logits", "") for u in residual]
    return nodes + ["logits"], edges


def edge_name(parent: str, child: str, qkv: str = "") -> str:
    """'input->a0.h1<q>', 'a0.h1->m0': EAP-IG's `Edge.name`."""
    return f"{parent}->{child}<{qkv}>" if qkv else f"{parent}->{child}"


def sender_node(name: str) -> str:
    """The MIB node of a grokjax sender: 'input', 'aL.hH' or 'mL'."""
    if name in ("hook_embed", "hook_pos_embed"):
        return "input"
    if m := _HEAD.fullmatch(name):
        return f"a{m[1]}.h{m[2]}"
    if m := _MLP_OUT.fullmatch(name):
        return f"m{m[1]}"
    raise GrokjaxError(f"sender {name!r} has no MIB node (MIB has one node per MLP: build the "
                       "graph without MLP frequency groups)")


def receiver_node(name: str) -> tuple[str, str]:
    """The MIB child of a grokjax receiver and its input: ('a0.h1', 'q'), ('m0', ''),
    ('logits', '')."""
    if name == "logits":
        return "logits", ""
    if m := _QKV.fullmatch(name):
        return f"a{m[1]}.h{m[3]}", m[2]
    if m := _MLP_IN.fullmatch(name):
        return f"m{m[1]}", ""
    raise GrokjaxError(f"receiver {name!r} has no MIB node (MIB has one node per MLP: build "
                       "the graph without MLP frequency groups)")


def _check_graph(graph: Graph) -> None:
    if tuple(graph.mlp_groups) != ("",):
        raise GrokjaxError(f"MIB's graph has one node per MLP ('m0'), not the frequency groups "
                           f"{', '.join(graph.mlp_groups)}: build the graph without "
                           "--by-frequency / mlp_groups")


def _one_member(x, units: Units, what: str, dtype) -> np.ndarray:
    x = np.asarray(x, dtype)
    if x.shape != (len(units),):
        raise GrokjaxError(f"{what} of shape {x.shape}: MIB's file holds one member, "
                           f"[{len(units)}] over the {units.kind!r} units (pass scores[m])")
    return x


def _sign(metric: str | None) -> float:
    if metric is not None and metric not in METRICS:
        raise GrokjaxError(f"metric {metric!r} is not one of {', '.join(METRICS)} (or None "
                           "for scores that are already damage, as ACDC's deltas)")
    return -1.0 if metric in _LOWER_IS_WORSE else 1.0


def _reduce(values: list[float], how: str) -> float:
    if how == "sum":
        return float(np.sum(np.asarray(values, np.float64))) if len(values) > 1 else values[0]
    return max(values, key=abs)


def to_mib(graph: Graph, units: Units, scores, kept=None, *, d_model: int,
           metric: str | None, reduce: str = "sum") -> dict[str, Any]:
    """The MIB file's dict of one member's `scores` [n_units] (and `kept` [n_units] bool:
    each edge's in_graph; default every edge) over `units` of `graph`. `metric`: the metric
    whose difference the scores are (eap, eap_ig, edge_effects), None for damage (ACDC's
    deltas). `reduce` ('sum' or 'max') joins what MIB has as one edge: a unit's positions,
    and Nanda's two embeddings."""
    _check_graph(graph)
    if units.kind not in GRANULARITIES:
        raise GrokjaxError(f"units of kind {units.kind!r}: MIB reads {', '.join(GRANULARITIES)}")
    if reduce not in REDUCTIONS:
        raise GrokjaxError(f"reduce {reduce!r} is not one of {', '.join(REDUCTIONS)}")
    sign = _sign(metric)
    scores = _one_member(scores, units, "scores", np.float64) * sign
    kept = np.ones(len(units), bool) if kept is None else _one_member(kept, units, "kept", bool)
    nodes, edges = mib_graph(graph.n_layers, graph.n_heads)
    cfg = {"n_layers": graph.n_layers, "n_heads": graph.n_heads, "parallel_attn_mlp": False,
           "d_model": int(d_model)}

    if units.kind == "nodes":
        got: dict[str, list] = {}
        for i, (s,) in enumerate(units.keys):
            got.setdefault(sender_node(graph.senders[s]), []).append(i)
        missing = [n for n in nodes[:-1] if n not in got]
        if missing:
            raise GrokjaxError(f"the units have no score for MIB node(s) {', '.join(missing)}")
        node_dict = {n: {"in_graph": bool(kept[got[n]].any()),
                         "score": _reduce([float(scores[i]) for i in got[n]], reduce)}
                     for n in nodes[:-1]}
        node_dict["logits"] = {"in_graph": True}
        # MIB's node level keeps every edge out of a kept node; the edges carry no score
        edge_dict = {edge_name(*e): {"score": 0.0, "in_graph": node_dict[e[0]]["in_graph"]}
                     for e in edges}
        return {"cfg": cfg, "nodes": node_dict, "edges": edge_dict}

    by_edge: dict[str, list] = {}
    for i, key in enumerate(units.keys):
        child, qkv = receiver_node(graph.receivers[key[1]])
        by_edge.setdefault(edge_name(sender_node(graph.senders[key[0]]), child, qkv), []).append(i)
    names = [edge_name(*e) for e in edges]
    if set(by_edge) != set(names):
        extra, missing = sorted(set(by_edge) - set(names)), sorted(set(names) - set(by_edge))
        raise GrokjaxError(f"the units do not cover MIB's graph: missing {missing[:3]}, "
                           f"extra {extra[:3]}")
    edge_dict = {n: {"score": _reduce([float(scores[i]) for i in by_edge[n]], reduce),
                     "in_graph": bool(kept[by_edge[n]].any())} for n in names}
    out_kept = {n for n in names if edge_dict[n]["in_graph"]}
    has_out = {e[0] for e in edges if edge_name(*e) in out_kept}
    has_in = {e[1] for e in edges if edge_name(*e) in out_kept} | {"input"}
    node_dict = {n: {"in_graph": n in has_out and n in has_in} for n in nodes[:-1]}
    node_dict["logits"] = {"in_graph": True}
    return {"cfg": cfg, "nodes": node_dict, "edges": edge_dict}


def check_mib(d: Any, graph: Graph | None = None, where: str = "the MIB dict") -> dict:
    """`d` if it is an MIB file's dict (of `graph`'s shape, when given), else a one-line
    GrokjaxError naming what is wrong."""
    if not isinstance(d, dict) or not all(k in d for k in ("cfg", "nodes", "edges")):
        raise GrokjaxError(f"{where} is not an MIB circuit file: it needs the keys 'cfg', "
                           "'nodes' and 'edges' (EAP-IG's Graph.to_json)")
    cfg = d["cfg"]
    if not (isinstance(cfg, dict) and all(_count(cfg.get(k)) for k in ("n_layers", "n_heads"))):
        raise GrokjaxError(f"{where}: cfg needs whole numbers n_layers and n_heads, has "
                           f"{cfg!r}"[:300])
    if not isinstance(d["nodes"], dict) or not isinstance(d["edges"], dict):
        raise GrokjaxError(f"{where}: 'nodes' and 'edges' must be objects keyed by name")
    if cfg.get("parallel_attn_mlp"):
        raise GrokjaxError(f"{where} is a parallel_attn_mlp model's graph; grokjax's blocks run "
                           "attention, then the MLP")
    if graph is not None and (cfg["n_layers"], cfg["n_heads"]) != (graph.n_layers, graph.n_heads):
        raise GrokjaxError(f"{where} is a {cfg['n_layers']}-layer, {cfg['n_heads']}-head graph; "
                           f"this model has {graph.n_layers} layers of {graph.n_heads} heads")
    nodes, edges = mib_graph(int(cfg["n_layers"]), int(cfg["n_heads"]))
    names = {edge_name(*e) for e in edges}
    for n, v in d["edges"].items():
        if n not in names:
            raise GrokjaxError(f"{where}: edge {n!r} is not in MIB's graph of this model")
        if not (isinstance(v, dict) and _number(v.get("score")) and _flag(v.get("in_graph"))):
            raise GrokjaxError(f"{where}: edge {n!r} needs a number 'score' and a true/false "
                               f"'in_graph', has {v!r}"[:300])
    missing = names - set(d["edges"])
    if missing:
        raise GrokjaxError(f"{where} lacks {len(missing)} of MIB's {len(names)} edges, e.g. "
                           f"{sorted(missing)[0]!r}")
    for n, v in d["nodes"].items():
        if n not in nodes:
            raise GrokjaxError(f"{where}: node {n!r} is not in MIB's graph of this model")
        if n != "logits" and not (isinstance(v, dict) and _flag(v.get("in_graph"))
                                  and ("score" not in v or _number(v["score"]))):
            raise GrokjaxError(f"{where}: node {n!r} needs a true/false 'in_graph' (and a "
                               f"number 'score', if any), has {v!r}"[:300])
    return d


def _count(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool) and x > 0


def _number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _flag(x) -> bool:
    return isinstance(x, bool) or x in (0, 1)


def from_mib(d: dict, graph: Graph, units: Units | None = None, *,
             metric: str | None) -> tuple[np.ndarray, np.ndarray]:
    """(scores [n_units] float64, kept [n_units] bool) of an MIB file's dict over `units`
    ('edges-nopos' by default, or 'nodes' for a node-level file), in grokjax's orientation
    for `metric` (as `to_mib` took it). MIB has no positions: 'edges' units are an error."""
    _check_graph(graph)
    units = graph.units("edges-nopos") if units is None else units
    if units.kind not in ("edges-nopos", "nodes"):
        raise GrokjaxError(f"MIB's graph has no positions: read it into graph.units("
                           f"'edges-nopos') or 'nodes', not {units.kind!r}")
    sign = _sign(metric)
    check_mib(d, graph)
    scores = np.zeros(len(units), np.float64)
    kept = np.zeros(len(units), bool)
    for i, key in enumerate(units.keys):
        sender = graph.senders[key[0]]
        if units.kind == "nodes":
            entry = d["nodes"].get(sender_node(sender))
            if entry is None or "score" not in entry:
                raise GrokjaxError(f"the MIB file has no score for node "
                                   f"{sender_node(sender)!r}: it is not a node-level file")
        else:
            entry = d["edges"][edge_name(sender_node(sender),
                                         *receiver_node(graph.receivers[key[1]]))]
        scores[i] = 0.0 if sender == "hook_pos_embed" else float(entry["score"]) * sign
        kept[i] = bool(entry["in_graph"])
    return scores, kept


def write_mib(path: str | pathlib.Path, graph: Graph, units: Units, scores, kept=None, *,
              d_model: int, metric: str | None, reduce: str = "sum") -> pathlib.Path:
    """Writes `to_mib(...)` to `path` (its folder made if need be), compact as `to_json`."""
    path = pathlib.Path(path)
    d = to_mib(graph, units, scores, kept, d_model=d_model, metric=metric, reduce=reduce)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise write_failed(path, e) from None
    rundir.write_text(path, json.dumps(d))
    return path


def read_mib(path: str | pathlib.Path) -> dict:
    """An MIB circuit file's dict (checked against its own cfg); a file that is not one is a
    one-line GrokjaxError."""
    path = pathlib.Path(path)
    if not path.is_file():
        raise GrokjaxError(f"{path}: no such MIB circuit file")
    return check_mib(rundir.read_json(path), where=str(path))


def _folder(text: str) -> str:
    """A name for MIB's TASK_MODEL folder: '_' is its separator, so '-' within a part."""
    return re.sub(r"[^A-Za-z0-9.+-]", "-", str(text))


def write_mib_run(out_dir: str | pathlib.Path, graph: Graph, units: Units, result, *,
                  d_model: int, members: list[str], metric: str | None, kept=None,
                  task: str = "grokjax", reduce: str = "sum") -> list[pathlib.Path]:
    """Every member's file, OUT/TASK_MEMBER/importances.json (MIB's folder per task/model;
    '_' in the parts becomes '-'). `result`: scores [M, n_units] of eap / eap_ig /
    edge_effects in `metric`'s units, or an `AcdcResult` of one tau (its deltas, which are
    damage, and its kept; `metric` is then ignored). `members`: their names, e.g.
    `model.names`."""
    if hasattr(result, "deltas") and hasattr(result, "kept"):
        scores, kept, metric = np.asarray(result.deltas), np.asarray(result.kept), None
    else:
        scores = np.asarray(result)
    if scores.ndim != 2 or scores.shape[1] != len(units):
        raise GrokjaxError(f"scores of shape {scores.shape}: write_mib_run needs [members, "
                           f"{len(units)}] (one tau of an ACDC sweep)")
    if len(members) != scores.shape[0]:
        raise GrokjaxError(f"{len(members)} member names for {scores.shape[0]} members")
    kept = None if kept is None else np.asarray(kept)
    if kept is not None and kept.shape != scores.shape:
        raise GrokjaxError(f"kept of shape {kept.shape} for scores of shape {scores.shape}")
    folders = [f"{_folder(task)}_{_folder(m)}" for m in members]
    if len(set(folders)) != len(folders):
        raise GrokjaxError(f"member names {members} give the same folder twice")
    return [write_mib(pathlib.Path(out_dir) / f / IMPORTANCES, graph, units, scores[m],
                      None if kept is None else kept[m], d_model=d_model, metric=metric,
                      reduce=reduce)
            for m, f in enumerate(folders)]
