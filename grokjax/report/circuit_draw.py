"""The figures of `grokjax circuits`: patching heatmaps, circuits as drawn graphs (and DOT text),
circuit size and metric against tau, the edge agreement across seeds, and circuits over
training. matplotlib only: no system graphviz is needed (the DOT text is for those who have it).
"""

from __future__ import annotations

import pathlib

import numpy as np

from grokjax.circuits.graph import Graph, Units, component
from grokjax.report import draw

plt = draw.plt


def _columns(graph: Graph) -> dict[str, tuple[float, float]]:
    """Each drawn node's (x, y): embeddings, then per layer the heads and the MLP groups, then
    the logits, left to right."""
    pos: dict[str, tuple[float, float]] = {}
    emb = [component(s) for s in graph.senders if graph.sender_layer[graph.senders.index(s)] < 0]
    for i, n in enumerate(emb):
        pos[n] = (0.0, i - (len(emb) - 1) / 2)
    for layer in range(graph.n_layers):
        heads = [f"L{layer}H{h}" for h in range(graph.n_heads)]
        mlps = [component(s) for s in graph.senders if s.startswith(f"blocks.{layer}.hook_mlp")]
        for i, n in enumerate(heads):
            pos[n] = (2 * layer + 1.0, i - (len(heads) - 1) / 2)
        for i, n in enumerate(mlps):
            pos[n] = (2 * layer + 2.0, (i - (len(mlps) - 1) / 2) * min(1.0, 6 / max(len(mlps), 1)))
    pos["logits"] = (2 * graph.n_layers + 1.0, 0.0)
    return pos


def _arrows(graph: Graph, units: Units, kept: np.ndarray, scores: np.ndarray
            ) -> dict[tuple[str, str], tuple[list[str], float]]:
    """{(sender node, receiver node): (labels such as 'k@a', summed |score|)} of the kept
    units; a node unit is keyed (node, node)."""
    out: dict[tuple[str, str], tuple[list[str], float]] = {}
    for i in np.flatnonzero(kept):
        key = units.keys[i]
        s = component(graph.senders[key[0]])
        if len(key) == 1:
            out[(s, s)] = ([], abs(float(scores[i])))
            continue
        r_name = graph.receivers[key[1]]
        r = component(r_name)
        kind = next((k for k in "qkv" if f"hook_{k}_input" in r_name), "")
        at = f"@{graph.positions[key[2]]}" if len(key) > 2 else ""
        labels, total = out.get((s, r), ([], 0.0))
        out[(s, r)] = (labels + [f"{kind}{at}" if kind or at else ""],
                       total + abs(float(scores[i])))
    return out


def circuits(graph: Graph, units: Units, kept_MxN: np.ndarray, scores_MxN: np.ndarray,
             names: list[str], title: str, path: pathlib.Path) -> None:
    """Every member's circuit as a graph: kept units as arrows labelled with the q/k/v input
    and the position, as wide as their summed |score|; a node circuit colours each node by its
    |score| and prints the score under it (grey: not kept)."""
    pos = _columns(graph)
    M = len(names)
    cols = min(M, 4)
    rows = -(-M // cols)
    nodes = units.kind == "nodes"
    fig, axes = plt.subplots(rows, cols, figsize=(5.0 * cols, 4.3 * rows + 0.4), dpi=draw.DPI,
                             squeeze=False)
    cmap = plt.get_cmap("Oranges")
    for m, ax in enumerate(axes.ravel()):
        ax.axis("off")
        if m >= M:
            continue
        arrows = _arrows(graph, units, kept_MxN[m], scores_MxN[m])
        widest = max([w for _, w in arrows.values()] + [1e-30])
        used = {n for pair in arrows for n in pair}
        for (s, r), (labels, weight) in arrows.items():
            if s == r:
                continue
            (x0, y0), (x1, y1) = pos[s], pos[r]
            ax.annotate("", xy=(x1, y1), xytext=(x0, y0),
                        arrowprops=dict(arrowstyle="->", color="tab:blue",
                                        lw=0.6 + 3.4 * weight / widest, shrinkA=12, shrinkB=12,
                                        connectionstyle="arc3,rad=0.08"))
            text = ",".join(sorted(set(l for l in labels if l)))
            if text:
                ax.text(x0 + 0.55 * (x1 - x0), y0 + 0.55 * (y1 - y0), text, fontsize=7,
                        color="tab:blue", ha="center", va="center",
                        bbox=dict(fc="white", ec="none", pad=0.3, alpha=0.8))
        node_score = {}
        if nodes:
            for i, key in enumerate(units.keys):
                node_score[component(graph.senders[key[0]])] = (float(scores_MxN[m][i]),
                                                                bool(kept_MxN[m][i]))
            top = max([abs(v) for v, _ in node_score.values()] + [1e-30])
        for n, (x, y) in pos.items():
            on = n in used or n == "logits"
            color, ink = ("tab:orange" if on else "0.9"), "black"
            if n in node_score:
                value, kept = node_score[n]
                shade = 0.2 + 0.8 * abs(value) / top
                color = cmap(shade) if kept else "0.9"
                ink = "white" if kept and shade > 0.6 else "black"
                ax.text(x, y - 0.33, f"{value:.3g}", fontsize=8, ha="center", va="top",
                        color="black" if kept else "0.5", zorder=4)
            ax.scatter([x], [y], s=520, color=color, zorder=3, edgecolor="0.3" if on else "0.7")
            label = n.replace("MLP", "M").replace("[k=", "\nk").rstrip("]")  # 'L0M\nk15'
            ax.text(x, y, label, fontsize=7 if "\n" not in label else 6, ha="center",
                    va="center", zorder=4, linespacing=0.9, color=ink)
        ax.set_title(f"{names[m]}: {int(kept_MxN[m].sum())} of {len(units)} kept", fontsize=10)
        ax.set_xlim(-0.6, 2 * graph.n_layers + 1.6)
        ax.set_ylim(min(y for _, y in pos.values()) - 0.7, max(y for _, y in pos.values()) + 0.5)
    how = ("under each node its score; colour: |score|, grey: not kept" if nodes else
           "arrow width: the kept units' summed |score|; labels: q/k/v input @ position")
    fig.suptitle(f"{title}\n{how}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def dot(graph: Graph, units: Units, kept: np.ndarray, scores: np.ndarray, name: str) -> str:
    """One member's circuit as DOT text (`dot -Tpng` draws it), edges labelled with the unit's
    score."""
    lines = [f'digraph "{name}" {{', "  rankdir=LR;", "  node [shape=box, fontsize=10];"]
    for i in np.flatnonzero(kept):
        key = units.keys[i]
        s = component(graph.senders[key[0]])
        if len(key) == 1:
            lines.append(f'  "{s}" [style=filled, fillcolor=orange, '
                         f'tooltip="score {scores[i]:.4g}"];')
            continue
        r_name = graph.receivers[key[1]]
        kind = next((k for k in "qkv" if f"hook_{k}_input" in r_name), "")
        at = f"@{graph.positions[key[2]]}" if len(key) > 2 else ""
        lines.append(f'  "{s}" -> "{component(r_name)}" [label="{kind}{at} {scores[i]:.3g}"];')
    return "\n".join(lines + ["}"]) + "\n"


def tau_curve(taus: np.ndarray, sizes_TxM: np.ndarray, values_TxM: np.ndarray, n_units: int,
              metric: str, names: list[str], path: pathlib.Path, tau: float | None = None
              ) -> None:
    """Circuit size and the circuit's metric against tau, one line per member; the tau used
    dotted. KL and loss (never negative) on a log axis down to their smallest positive value,
    with 0 at the bottom; logit difference and accuracy on a linear one."""
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4), dpi=draw.DPI)
    for m, name in enumerate(names):
        a.plot(taus, sizes_TxM[:, m], marker=".", lw=1, label=name)
        b.plot(taus, values_TxM[:, m], marker=".", lw=1, label=name)
    a.set(xscale="log", xlabel="tau", ylabel=f"units kept (of {n_units})", title="circuit size")
    a.yaxis.set_major_locator(plt.MaxNLocator(integer=True))
    b.set(xscale="log", xlabel="tau", ylabel=metric, title=f"the circuit's {metric}")
    if metric in ("kl", "loss"):
        values = np.asarray(values_TxM, np.float64)
        positive = values[np.isfinite(values) & (values > 0)]
        low = 10.0 ** np.floor(np.log10(positive.min())) if positive.size else 1e-3
        b.set_yscale("symlog", linthresh=low)
        b.set_ylim(0, positive.max() * 3 if positive.size else 1.0)
        b.set_ylabel(f"{metric} (log above {low:.0e}, 0 at the bottom)")
    if tau is not None:
        for ax in (a, b):
            ax.axvline(tau, color="0.4", ls=":", lw=1)
        a.plot([], [], color="0.4", ls=":", lw=1, label=f"tau used, {tau:g}")
    a.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def agreement(jaccard_MxM: np.ndarray, names: list[str], title: str, path: pathlib.Path) -> None:
    """The Jaccard index of kept units between every two members."""
    M = len(names)
    fig, ax = plt.subplots(figsize=(1.2 + 0.6 * M, 0.8 + 0.5 * M), dpi=draw.DPI)
    im = ax.imshow(jaccard_MxM, vmin=0, vmax=1, cmap="viridis")
    for i in range(M):
        for j in range(M):
            ax.text(j, i, f"{jaccard_MxM[i, j]:.2f}", ha="center", va="center", fontsize=7,
                    color="black" if jaccard_MxM[i, j] > 0.6 else "white")
    ax.set_xticks(range(M), names, rotation=60, fontsize=7)
    ax.set_yticks(range(M), names, fontsize=7)
    ax.set_title(title, fontsize=9)
    fig.colorbar(im, ax=ax, fraction=0.05)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def patching(fractions: dict[str, np.ndarray], graph: Graph, names: list[str], metric: str,
             direction: str, path: pathlib.Path) -> None:
    """TransformerLens's layout, one heatmap per table (rows layers, or layer x head; columns
    positions, or heads), one row of panels per member: each cell the fraction of the way from
    the unpatched run's metric to the other run's (`report.circuits.patch_fraction`, [M, ...]
    per table) on one diverging scale centred at 0, its value written in it."""
    kinds = list(fractions)
    M = len(names)
    fig, axes = plt.subplots(M, len(kinds), figsize=(3.3 * len(kinds) + 1.0, 2.9 * M + 0.8),
                             dpi=draw.DPI, squeeze=False)
    positions, H = graph.positions, graph.n_heads
    im = None
    for m in range(M):
        for j, kind in enumerate(kinds):
            ax, t = axes[m, j], np.asarray(fractions[kind][m])
            if t.ndim == 3:  # [layer, pos, head] / [layer, head, pos]: rows layer x first axis
                t = t.reshape(-1, t.shape[-1])
            im = ax.imshow(t, cmap="RdBu_r", vmin=-1, vmax=1, aspect="auto")
            if t.size <= 64:
                for (i, k), v in np.ndenumerate(t):
                    ax.text(k, i, "-" if not np.isfinite(v) else f"{v:.2f}".replace(
                        "-0.00", "0.00"), ha="center",
                            va="center", fontsize=8, color="white" if abs(v) > 0.6 else "black")
            if kind.endswith("_by_pos") and "pattern" not in kind:  # [layer x pos, head]
                xt = [f"H{h}" for h in range(t.shape[1])]
                yt = [f"L{i // len(positions)} @{positions[i % len(positions)]}"
                      for i in range(t.shape[0])]
            elif "pattern_by" in kind:  # [layer x head, dest pos]
                xt = [f"@{q}" for q in positions]
                yt = [f"L{i // H}H{i % H}" for i in range(t.shape[0])]
            else:  # [layer, pos]
                xt = [f"@{q}" for q in positions]
                yt = [f"L{i}" for i in range(t.shape[0])]
            ax.set_xticks(range(t.shape[1]), xt, fontsize=8)
            ax.set_yticks(range(t.shape[0]), yt, fontsize=8)
            ax.set_title(f"{names[m]}: {kind}", fontsize=9)
    base, other = ("corrupted", "clean") if direction == "denoise" else ("clean", "corrupted")
    fig.suptitle(f"activation patching ({direction}): the {base} run with one {other} "
                 f"activation; the fraction of the way from the {base} run's {metric} to the "
                 f"{other} run's (0: no effect, 1: all of it)", fontsize=10)
    fig.tight_layout(rect=(0, 0, 0.97, 1))
    fig.colorbar(im, ax=axes.ravel().tolist(), fraction=0.015, pad=0.01)
    fig.savefig(path)
    plt.close(fig)


def over_training(steps: np.ndarray, sizes_SxM: np.ndarray, faith_SxM: np.ndarray,
                  cpr_SxM: np.ndarray, acc_steps: np.ndarray, test_acc_PxM: np.ndarray,
                  grok_steps: list, n_units: int, names: list[str], title: str,
                  path: pathlib.Path) -> None:
    """Circuit size and faithfulness (solid; the ranking's CPR dashed) at every checkpoint,
    above test accuracy, on one step axis with each member's grok step marked."""
    fig, axes = plt.subplots(3, 1, figsize=(9, 8), dpi=draw.DPI, sharex=True)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for m, name in enumerate(names):
        c = colors[m % len(colors)]
        axes[0].plot(steps, sizes_SxM[:, m], marker=".", color=c, label=name)
        axes[1].plot(steps, faith_SxM[:, m], marker=".", color=c)
        axes[1].plot(steps, cpr_SxM[:, m], ls="--", color=c, lw=1)
        axes[2].plot(acc_steps, test_acc_PxM[:, m], color=c, lw=1)
        for ax in axes:
            if grok_steps[m] is not None:
                ax.axvline(grok_steps[m], color=c, ls=":", lw=1)
    axes[0].set_ylabel(f"units kept (of {n_units})")
    axes[1].set_ylabel("faithfulness (solid)\nCPR of the ranking (dashed)")
    axes[2].set(ylabel="test accuracy", xlabel="step (dotted: each seed's grok step)")
    axes[0].legend(fontsize=7)
    axes[0].set_title(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def faithfulness_curves(curve_MxK: np.ndarray, random_MxK: np.ndarray, cpr_M: np.ndarray,
                        names: list[str], title: str, path: pathlib.Path,
                        front=None) -> None:
    """MIB's faithfulness curve per member: the top-k circuit's faithfulness against k (its
    area, CPR, in the legend), the random rankings' mean curve dashed, and edge pruning's
    circuits at its target sparsities as points (`front`: [targets, M] sizes, faithfulness)."""
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=draw.DPI)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    k = np.arange(curve_MxK.shape[1])
    for m, name in enumerate(names):
        c = colors[m % len(colors)]
        ax.plot(k, curve_MxK[m], color=c, marker=".", ms=3, label=f"{name} (CPR {cpr_M[m]:.2f})")
        ax.plot(k, random_MxK[m], color=c, ls="--", lw=1, alpha=0.6)
        if front is not None:
            ax.scatter(front[0][:, m], front[1][:, m], color=c, marker="x", zorder=3)
    ax.axhline(1.0, color="0.5", lw=0.8)
    ax.set(xlabel="units kept (the k highest ranked)", ylabel="faithfulness",
           xlim=(0, k[-1]))
    ax.set_title(title + ("\ndashed: random rankings" + ("; x: edge pruning's circuits"
                                                           if front is not None else "")),
                 fontsize=9)
    ax.legend(fontsize=7, loc="lower right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
