"""The computational graph of a grokjax transformer, resolved by position, and its coarser views.

Senders write into the residual stream: the token embedding (`hook_embed`), the positional
embedding of Nanda's variant (`hook_pos_embed`), each head's own output
(`blocks.L.attn.hook_result[h=H]`) and each MLP's output (`blocks.L.hook_mlp_out`). Receivers
read it: each head's query, key and value inputs (`blocks.L.hook_q_input[h=H]`, ...), each
MLP's input (`blocks.L.hook_mlp_in`) and the logits (`blocks.{L-1}.hook_resid_post` at the
readout position). The residual stream is a sum over positions kept apart, so an edge is a
(sender, receiver, position) triple: the sender at that position writing into the receiver at
the same position; moving between positions is the attention inside a head. Only edges whose
receiver can reach the logits are kept: a one-layer model's logits read the last position
only, so its MLP and queries matter there alone, while its keys and values matter everywhere.
One layer of four heads at three positions has 39 such edges; without positions, ACDC's and
EAP-IG's 23.

The MLP may be split into neuron groups (`mlp_groups`, e.g. the neurons of each key frequency,
`grokjax.circuits.frequency_groups`): each group is then a sender and a receiver of its own,
exact because the neurons of a ReLU MLP do not interact.

`Units` are what a method scores and a circuit keeps: single edges, edges without positions
(a unit of several edges), or nodes (a sender's every outgoing edge); `graph.units(kind)`.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np

from grokjax.models import ModelConfig

GRANULARITIES = ("edges", "edges-nopos", "nodes")


@dataclasses.dataclass(frozen=True)
class Graph:
    """Senders, receivers and edges (`edges[i] = (sender, receiver, position)` indices).

    The order of senders (embeddings, then each layer's heads and MLP groups) and of receivers
    (each layer's q, k, v inputs per head and MLP groups, then the logits) is the forward
    order; `sender_layer` / `receiver_layer` give each one's layer (-1 the embeddings, L the
    logits). Hashable, so that it can be a static argument of `jax.jit`."""

    n_layers: int
    n_heads: int
    positions: tuple[str, ...]
    mlp_groups: tuple[str, ...]
    pos_embed: bool
    senders: tuple[str, ...]
    receivers: tuple[str, ...]
    sender_layer: tuple[int, ...]
    receiver_layer: tuple[int, ...]
    edges: tuple[tuple[int, int, int], ...]
    # The forward order: embeddings write at stage 0, layer l's heads at 2l + 1 and its MLP at
    # 2l + 2; q/k/v inputs are read at 2l + 1 (before the heads write), the MLP's at 2l + 2,
    # the logits at 2L + 1. An edge runs from an earlier stage to a later one.
    sender_stage: tuple[int, ...] = ()
    receiver_stage: tuple[int, ...] = ()

    @property
    def n_edges(self) -> int:
        return len(self.edges)

    @property
    def edge_array(self) -> np.ndarray:
        return np.asarray(self.edges, np.int32).reshape(-1, 3)

    def receiver_rows(self, layer: int) -> dict[str, slice]:
        """The receivers of `layer` in the dense layout: {'q','k','v','mlp'} -> slice."""
        H, G = self.n_heads, len(self.mlp_groups)
        start = layer * (3 * H + G)
        return {"q": slice(start, start + H), "k": slice(start + H, start + 2 * H),
                "v": slice(start + 2 * H, start + 3 * H),
                "mlp": slice(start + 3 * H, start + 3 * H + G)}

    def edge_names(self, short: bool = False) -> list[str]:
        """'blocks.0.attn.hook_result[h=2] -> blocks.0.hook_mlp_in @b', or 'L0H2 -> L0MLP @b'."""
        s_names = [_short(n) for n in self.senders] if short else self.senders
        r_names = [_short(n) for n in self.receivers] if short else self.receivers
        return [f"{s_names[s]} -> {r_names[r]} @{self.positions[c]}" for s, r, c in self.edges]

    @functools.lru_cache(maxsize=None)
    def units(self, kind: str = "edges") -> "Units":
        """The units a method scores: 'edges' (each position-resolved edge), 'edges-nopos' (an
        edge at every position as one unit: ACDC's graph) or 'nodes' (every edge out of one
        sender)."""
        if kind not in GRANULARITIES:
            raise ValueError(f"granularity {kind!r} is not one of {', '.join(GRANULARITIES)}")
        e = self.edge_array
        if kind == "edges":
            keys = [tuple(row) for row in e]
        elif kind == "edges-nopos":
            keys = [(s, r) for s, r, _ in e]
        else:
            keys = [(s,) for s, _, _ in e]
        position = {k: i for i, k in enumerate(dict.fromkeys(keys))}  # first-seen order
        order = list(position)
        index = np.asarray([position[k] for k in keys], np.int32)
        names, short = [], []
        for k in order:
            if kind == "nodes":
                names.append(self.senders[k[0]])
                short.append(_short(self.senders[k[0]]))
            else:
                at = f" @{self.positions[k[2]]}" if kind == "edges" else ""
                names.append(f"{self.senders[k[0]]} -> {self.receivers[k[1]]}{at}")
                short.append(f"{_short(self.senders[k[0]])} -> {_short(self.receivers[k[1]])}{at}")
        # ACDC's visiting order: receivers from the logits back, and within a receiver the
        # senders from the latest back; for nodes, senders from the latest back.
        rank = [(-k[0],) if kind == "nodes" else (-k[1], -k[0], -(k[2] if len(k) > 2 else 0))
                for k in order]
        acdc_order = np.asarray(sorted(range(len(order)), key=lambda i: rank[i]), np.int32)
        # the earliest stage a unit's removal changes: what comes before it is the clean model
        # (while every edge into earlier receivers is kept, as in ACDC's order)
        stage = np.full(len(order), 10 ** 9, np.int32)
        np.minimum.at(stage, index, np.asarray([self.receiver_stage[r] for _, r, _ in e], np.int32))
        return Units(kind, tuple(names), tuple(short), index, acdc_order, tuple(order), stage)


@dataclasses.dataclass(frozen=True, eq=False)
class Units:
    """A granularity: `index[e]` is the unit of edge e; `acdc_order` the order ACDC visits."""

    kind: str
    names: tuple[str, ...]
    short_names: tuple[str, ...]
    index: np.ndarray
    acdc_order: np.ndarray
    keys: tuple[tuple[int, ...], ...]  # per unit: (sender,), (sender, receiver) or with position
    stage: np.ndarray  # per unit: the first stage of the forward pass its removal changes

    def segments(self, order: np.ndarray) -> list[tuple[int, np.ndarray]]:
        """`order` cut into runs of equal stage: [(stage, units), ...]."""
        out: list[tuple[int, list]] = []
        for i in order:
            if out and out[-1][0] == self.stage[i]:
                out[-1][1].append(int(i))
            else:
                out.append((int(self.stage[i]), [int(i)]))
        return [(st, np.asarray(u, np.int32)) for st, u in out]

    def __len__(self) -> int:
        return len(self.names)


def component(name: str) -> str:
    """The drawn node of a sender or receiver: 'L0H2' for a head and its q/k/v inputs."""
    return _short(name).split(".")[0]


def _short(name: str) -> str:
    """'blocks.0.attn.hook_result[h=2]' -> 'L0H2'; receivers add '.q'/'.k'/'.v'."""
    if name in ("hook_embed", "hook_pos_embed"):
        return {"hook_embed": "E", "hook_pos_embed": "P"}[name]
    if name == "logits":
        return "logits"
    layer = name.split(".")[1]
    group = name[name.index("[k="):] if "[k=" in name else ""
    if "hook_mlp" in name:
        return f"L{layer}MLP{group}"
    head = name[name.index("[h=") + 3:-1]
    kind = {"result": "", "q_input": ".q", "k_input": ".k", "v_input": ".v"}[
        name.split("hook_")[1].split("[")[0]]
    return f"L{layer}H{head}{kind}"


def graph(cfg: ModelConfig, positions: tuple[str, ...] | None = None,
          mlp_groups: tuple[str, ...] = ("",)) -> Graph:
    """The position-resolved graph of a transformer config. `positions` names the input
    positions (default: 'a', 'op', 'b' for Furuta's three, 'a', 'b', '=' for Nanda's);
    `mlp_groups` names the MLP's neuron groups (default one group, the whole MLP)."""
    if cfg.arch != "transformer":
        raise ValueError(f"circuits need the transformer, not arch={cfg.arch!r}")
    C, L, H = cfg.n_ctx, cfg.num_layers, cfg.num_heads
    positions = tuple(positions or default_positions(cfg))
    if len(positions) != C:
        raise ValueError(f"{len(positions)} position names for a context of {C}")
    pos_embed = cfg.variant == "nanda"
    senders, s_layer = ["hook_embed"], [-1]
    if pos_embed:
        senders.append("hook_pos_embed")
        s_layer.append(-1)
    receivers, r_layer = [], []
    groups = [f"[k={g}]" if g else "" for g in mlp_groups]
    for layer in range(L):
        b = f"blocks.{layer}"
        senders += [f"{b}.attn.hook_result[h={h}]" for h in range(H)]
        senders += [f"{b}.hook_mlp_out{g}" for g in groups]
        s_layer += [layer] * (H + len(groups))
        for kind in ("q", "k", "v"):
            receivers += [f"{b}.hook_{kind}_input[h={h}]" for h in range(H)]
        receivers += [f"{b}.hook_mlp_in{g}" for g in groups]
        r_layer += [layer] * (3 * H + len(groups))
    receivers.append("logits")
    r_layer.append(L)
    live = _live_receivers(C, L, H, len(groups))
    s_stage = [0 if lay < 0 else 2 * lay + 1 + ("hook_mlp_out" in n) for n, lay in zip(senders, s_layer)]
    r_stage = [2 * lay + 1 + ("hook_mlp_in" in n) for n, lay in zip(receivers, r_layer)]
    edges = [(s, r, c) for r in range(len(receivers)) for c in range(C) if live[r, c]
             for s in range(len(senders)) if s_stage[s] < r_stage[r]]
    return Graph(L, H, positions, tuple(mlp_groups), pos_embed, tuple(senders), tuple(receivers),
                 tuple(s_layer), tuple(r_layer), tuple(edges), tuple(s_stage), tuple(r_stage))


def default_positions(cfg: ModelConfig) -> tuple[str, ...]:
    """What each input position holds: [a, op, b] (Furuta), [a, b, =] (Nanda); longer inputs
    (three operands) x, op, y, op, z."""
    if cfg.variant == "nanda":
        return ("a", "b", "=")[: cfg.n_ctx] if cfg.n_ctx == 3 else tuple(
            f"x{i}" for i in range(cfg.n_ctx - 1)) + ("=",)
    if cfg.n_ctx == 3:
        return ("a", "op", "b")
    return tuple("x" + str(i // 2) if i % 2 == 0 else f"op{i // 2}" for i in range(cfg.n_ctx))


def _live_receivers(C: int, L: int, H: int, G: int) -> np.ndarray:
    """[receivers, positions]: whether the receiver's input there can change the logits."""
    n = L * (3 * H + G) + 1
    live = np.zeros((n, C), bool)
    live[-1, C - 1] = True
    needed = np.zeros(C, bool)  # positions where a later layer reads the residual stream
    needed[C - 1] = True
    for layer in reversed(range(L)):
        start = layer * (3 * H + G)
        last = np.flatnonzero(needed).max()
        live[start:start + H, needed] = True  # queries where the heads' outputs are read
        live[start + H:start + 3 * H, : last + 1] = True  # keys, values: every earlier position
        live[start + 3 * H:start + 3 * H + G, needed] = True
        needed = live[start:start + 3 * H + G].any(axis=0) | needed
    return live
