"""Models whose circuits are known by construction: the ground truth circuit methods are
scored against.

Weights are set by hand, in grokjax's own one-layer transformer (Furuta's variant: no
LayerNorm, no biases, ReLU MLP, readout at the last position), so that the model computes
c = (a + b) mod p by the Fourier algorithm of Nanda et al. (circuits.md section 7):

    embedding   W_E[x] = cos(w_k x), sin(w_k x) for K key frequencies w_k = 2 pi k / p, in
                dims E; the operator token writes 1 into a dim of its own (OP)
    head 0      attends uniformly (W_Q = W_K = 0), so at the readout position it writes
                (E[a] + E[op] + E[b]) / 3 = (E[a] + E[b]) / 3 into dims A
    MLP         neuron (k, phi, psi) reads cos(w_k a + phi) + cos(w_k b + psi) (cos w_k a is
                3 A - E, linear in the residual), phases on an N x N grid, and writes
                cos(w_k c + phi + psi)'s coefficients into dims M; averaged over the grid, the
                ReLU's cos(x + y) component leaves sum_k C cos(w_k (a + b - c)) (exact up to
                the grid's aliasing of the ReLU's higher harmonics)
                (Gromov 2023's construction, with ReLU for his quadratic activation)
    unembedding W_U[M, c] = cos(w_k c), sin(w_k c): the logit of c is sum_k C cos(w_k(a+b-c)),
                largest at c = a + b

The variants plant what circuit methods stumble on; every head but those named is dead
(random W_Q, W_K, W_V, so its inputs are active, and W_O = 0), and the neurons past the
K N^2 of the algorithm are dead (random W_in, W_out = 0):

    clean       the algorithm alone
    redundant   head 1 duplicates head 0, each writing half: both are in the circuit
    distractor  head 1 attends by content (random W_Q, W_K) and writes into dims nothing reads;
                the spare neurons read the residual and write there too: active, never needed
    constant    head 1 reads the operator token and writes a constant, which W_U turns into a
                per-class bias: in the circuit under zero ablation only (its mean, and its value
                on any corrupted input, equal its value)
    gromov      Gromov's random-phase MLP: every neuron its own key frequency and random phases
                phi, psi, writing cos(w c + phi + psi), in pairs s, -s (ReLU(s) + ReLU(-s) =
                |s| is even, like his quadratic activation); the average over 512 pairs is
                approximate, not exact, and reaches accuracy 1.0 (256 unpaired: 0.87-0.96)

The true circuit follows from the construction (`Known.truth`), per granularity (position-
resolved edges, edges without positions, nodes, and the MLP split into one group per key
frequency slot plus 'other') and per ablation (resample with both operands changed, mean over
the table, zero); tests/test_circuit_truth.py checks it by patching: keeping the truth and
ablating the rest leaves the logits unchanged, and ablating any true edge changes them.
A corruption that keeps an operand (b+1 keeps a) hides that operand's edges: their sender
does not change, so no method can see them, and the truth here is for 'shuffle'.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from grokjax.circuits.graph import Graph, Units
from grokjax.models import ModelConfig, Params

VARIANTS = ("clean", "redundant", "distractor", "constant", "gromov")
ABLATIONS = ("resample", "mean", "zero")
POSITIONS = ("a", "op", "b")


@dataclasses.dataclass(frozen=True)
class Known:
    """Constructed models stacked on a member axis (variants x seeds), with the inputs they
    are run on and what is known of them.

    `groups` [M, 1, K + 1, d_mlp] assigns each neuron to its key-frequency slot (groups
    'key1'..'keyK') or to 'other'; `keys` [M, K] are each member's key frequencies."""

    params: Params  # [M, ...]
    cfg: ModelConfig
    p: int
    names: tuple[str, ...]  # 'clean/0', ...
    variants: tuple[str, ...]  # per member
    keys: np.ndarray  # [M, K]
    groups: np.ndarray  # [M, 1, K + 1, d_mlp]

    @property
    def group_names(self) -> tuple[str, ...]:
        return tuple(f"key{i + 1}" for i in range(self.keys.shape[1])) + ("other",)

    @property
    def operands(self) -> np.ndarray:
        """Every (a, b) [p^2, 2]."""
        a, b = np.meshgrid(np.arange(self.p), np.arange(self.p), indexing="ij")
        return np.stack([a.ravel(), b.ravel()], axis=1)

    def tokens(self, operands: np.ndarray) -> np.ndarray:
        """[B, 3] token sequences a, op, b (the operator token is p)."""
        ab = np.asarray(operands)
        return np.stack([ab[:, 0], np.full(len(ab), self.p), ab[:, 1]], axis=1).astype(np.int32)

    def labels(self, operands: np.ndarray) -> np.ndarray:
        return (np.asarray(operands).sum(axis=1) % self.p).astype(np.int32)

    def truth(self, graph: Graph, units: Units, ablation: str = "resample") -> np.ndarray:
        """[M, n_units] bool: whether each unit is in the member's true circuit under
        `ablation` (a unit of several edges is true when any of its edges is)."""
        if ablation not in ABLATIONS:
            raise ValueError(f"ablation {ablation!r} is not one of {', '.join(ABLATIONS)}")
        edges = np.stack([edge_truth(graph, v, ablation) for v in self.variants])  # [M, E]
        out = np.zeros((len(self.variants), len(units)), bool)
        for e, u in enumerate(units.index):
            out[:, u] |= edges[:, e]
        return out


def edge_truth(graph: Graph, variant: str, ablation: str) -> np.ndarray:
    """[n_edges] bool: the true circuit of a `variant` model on `graph` (one layer; the MLP
    whole or split into 'keyN' slots and 'other'), by the construction's rules."""
    if variant not in VARIANTS:
        raise ValueError(f"variant {variant!r} is not one of {', '.join(VARIANTS)}")
    if graph.n_layers != 1 or graph.positions != POSITIONS:
        raise ValueError("the constructed models have one layer and the positions a, op, b")
    main = {0, 1} if variant == "redundant" else {0}
    out = np.zeros(graph.n_edges, bool)
    for e, (s, r, c) in enumerate(graph.edges):
        sender, receiver, at = graph.senders[s], graph.receivers[r], graph.positions[c]
        s_head, r_head = _head(sender), _head(receiver)
        s_mlp = "hook_mlp_out" in sender and "[k=other]" not in sender
        r_mlp = "hook_mlp_in" in receiver and "[k=other]" not in receiver
        out[e] = (
            (sender == "hook_embed" and r_head in main and "hook_v_input" in receiver
             and at in ("a", "b"))
            or (sender == "hook_embed" and r_mlp and at == "b")
            or (s_head in main and r_mlp and at == "b")
            or (s_mlp and receiver == "logits")
            or (variant == "constant" and ablation == "zero" and (
                (sender == "hook_embed" and r_head == 1 and "hook_v_input" in receiver
                 and at == "op")
                or (s_head == 1 and receiver == "logits"))))
    return out


def _head(name: str) -> int | None:
    """The head index in 'blocks.0.attn.hook_result[h=2]' or 'blocks.0.hook_v_input[h=2]'."""
    return int(name[name.index("[h=") + 3:-1]) if "[h=" in name else None


def constructed(p: int = 31, seeds: tuple[int, ...] = (0, 1, 2),
                variants: tuple[str, ...] = VARIANTS[:4], n_keys: int = 3, n_phases: int = 6,
                d_mlp: int | None = None, scale: float = 1.0) -> Known:
    """Every variant for every seed (the seed draws the key frequencies and the random
    weights of the inactive parts), stacked on one member axis, variant-major. `d_mlp`
    defaults to 1024 with 'gromov' among the variants (its random phases average out only
    over many neurons: 512 pairs reach accuracy 1.0 at p = 31, 256 plain neurons 0.87-0.96),
    else 128 (the grid's K N^2 = 108 neurons and 20 spare)."""
    d_mlp = d_mlp or (1024 if "gromov" in variants else 128)
    cfg = ModelConfig(d_vocab=p + 1, n_ctx=3, d_model=max(32, 8 * n_keys + 2), num_heads=4,
                      d_head=max(8, 2 * n_keys), d_mlp=d_mlp)
    if n_keys * n_phases ** 2 > d_mlp:
        raise ValueError(f"{n_keys} keys x {n_phases}^2 phases need d_mlp >= "
                         f"{n_keys * n_phases ** 2}, not {d_mlp}")
    if not 1 <= n_keys <= (p - 1) // 2:
        raise ValueError(f"n_keys={n_keys}: a modulus of {p} has {(p - 1) // 2} frequencies")
    members, names, kinds, keys, groups = [], [], [], [], []
    for variant in variants:
        for seed in seeds:
            rng = np.random.default_rng(seed)
            k = np.sort(rng.choice(np.arange(1, (p - 1) // 2 + 1), n_keys, replace=False))
            params, group = _build(variant, p, k, rng, cfg, n_phases, scale)
            members.append(params)
            names.append(f"{variant}/{seed}")
            kinds.append(variant)
            keys.append(k)
            groups.append(group)
    stacked = jax.tree.map(lambda *x: jnp.asarray(np.stack(x), jnp.float32), *members)
    return Known(stacked, cfg, p, tuple(names), tuple(kinds), np.asarray(keys),
                 np.asarray(groups, np.float32))


def _build(variant: str, p: int, keys: np.ndarray, rng: np.random.Generator, cfg: ModelConfig,
           n_phases: int, scale: float) -> tuple[dict, np.ndarray]:
    """One member's params and its neuron groups [1, K + 1, d_mlp]."""
    if variant not in VARIANTS:
        raise ValueError(f"variant {variant!r} is not one of {', '.join(VARIANTS)}")
    K, D, H, E, F, V = len(keys), cfg.d_model, cfg.num_heads, cfg.d_head, cfg.d_mlp, cfg.d_vocab
    dim_e, dim_a, dim_m = np.arange(2 * K), 2 * K + np.arange(2 * K), 4 * K + np.arange(2 * K)
    dim_op, dim_const, dim_dis = 6 * K, 6 * K + 1, 6 * K + 2 + np.arange(2 * K)
    w = 2 * np.pi * keys / p  # [K]
    x = np.arange(p)

    def normal(*shape):
        return rng.normal(0.0, 1 / np.sqrt(D), shape)

    W_E = np.zeros((V, D))
    W_E[:p, dim_e[0::2]] = np.cos(np.outer(x, w))
    W_E[:p, dim_e[1::2]] = np.sin(np.outer(x, w))
    W_E[p, dim_op] = 1.0
    # dead heads: active inputs, no output
    W_Q, W_K, W_V, W_O = normal(H, D, E), normal(H, D, E), normal(H, D, E), np.zeros((H, E, D))
    main = (0, 1) if variant == "redundant" else (0,)
    for h in main:
        W_Q[h], W_K[h], W_V[h] = 0.0, 0.0, 0.0
        W_V[h][dim_e, np.arange(2 * K)] = 1.0
        W_O[h][np.arange(2 * K), dim_a] = 1.0 / len(main)
    if variant == "distractor":  # attends by content, writes where nothing reads
        W_V[1] = 0.0
        W_V[1][dim_e, np.arange(2 * K)] = 1.0
        W_O[1][np.arange(2 * K), dim_dis] = 1.0
    if variant == "constant":  # uniform attention onto the operator's dim: a constant 1
        W_Q[1], W_K[1], W_V[1] = 0.0, 0.0, 0.0
        W_V[1][dim_op, 0] = 1.0
        W_O[1][0, dim_const] = 3.0

    W_in, W_out = normal(D, F), np.zeros((F, D))
    group = np.zeros((1, K + 1, F))
    if variant == "gromov":  # pairs of neurons s, -s: ReLU(s) + ReLU(-s) = |s|, even like
        # Gromov's quadratic activation, so the linear term's noise cancels in each pair
        slot = np.repeat(rng.integers(0, K, F // 2), 2)
        phi, psi = np.repeat(rng.uniform(0, 2 * np.pi, (2, F // 2)), 2, axis=1)
        sign = np.tile([1.0, -1.0], F // 2)
        used = 2 * (F // 2)
    else:
        grid = 2 * np.pi * np.arange(n_phases) / n_phases
        slot = np.repeat(np.arange(K), n_phases ** 2)
        phi = np.tile(np.repeat(grid, n_phases), K)
        psi = np.tile(np.tile(grid, n_phases), K)
        used = len(slot)
        sign = np.ones(used)
    n = np.arange(used)
    ce, se, ca, sa = dim_e[2 * slot], dim_e[2 * slot + 1], dim_a[2 * slot], dim_a[2 * slot + 1]
    W_in[:, :used] = 0.0
    # cos(w a + phi) + cos(w b + psi), with cos w a = 3 A_cos - E_cos (likewise sin)
    np.add.at(W_in, (ca, n), sign * 3 * np.cos(phi))
    np.add.at(W_in, (sa, n), sign * -3 * np.sin(phi))
    np.add.at(W_in, (ce, n), sign * (np.cos(psi) - np.cos(phi)))
    np.add.at(W_in, (se, n), sign * (np.sin(phi) - np.sin(psi)))
    per_slot = np.bincount(slot, minlength=K)[slot]
    W_out[n, dim_m[2 * slot]] = np.cos(phi + psi) / per_slot
    W_out[n, dim_m[2 * slot + 1]] = -np.sin(phi + psi) / per_slot
    group[0, slot, n] = 1.0
    group[0, K, used:] = 1.0
    if variant == "distractor":  # the spare neurons: active, written where nothing reads
        W_in[:, used:] = normal(D, F - used) * np.isin(np.arange(D), np.r_[dim_e, dim_a])[:, None]
        W_out[used:, dim_dis] = normal(F - used, 2 * K)
    W_U = np.zeros((D, V))
    # each slot's logit is C cos(w (a + b - c)) with C = E[ReLU(cos x + cos y) cos(x + y)]
    # ~ 0.135 (the grid's average is exact up to its aliasing); `scale` sets the margin of
    # the sum over K slots
    gain = 3.0 * scale / 0.135
    W_U[dim_m[0::2], :p] = gain * np.cos(np.outer(w, x))
    W_U[dim_m[1::2], :p] = gain * np.sin(np.outer(w, x))
    if variant == "constant":
        W_U[dim_const, :p] = rng.normal(0.0, 0.25, p)
    params = {"embed": {"W_E": W_E},
              "blocks": {"0": {"attn": {"W_Q": W_Q, "W_K": W_K, "W_V": W_V, "W_O": W_O},
                               "mlp": {"W_in": W_in, "W_out": W_out}}},
              "unembed": {"W_U": W_U}}
    return params, group
