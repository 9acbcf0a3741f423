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


def _arrows(graph: Graph, units: Units, kept: np.ndarray) -> dict[tuple[str, str], list[str]]:
    """{(sender node, receiver node): labels such as 'k@a'} of the kept units."""
    out: dict[tuple[str, str], list[str]] = {}
    for i in np.flatnonzero(kept):
        key = units.keys[i]
        s = component(graph.senders[key[0]])
        if len(key) == 1:  # a node: drawn as an arrow to the logits
            out.setdefault((s, s), [])
            continue
        r_name = graph.receivers[key[1]]
        r = component(r_name)
        kind = next((k for k in "qkv" if f"hook_{k}_input" in r_name), "")
        at = f"@{graph.positions[key[2]]}" if len(key) > 2 else ""
        out.setdefault((s, r), []).append(f"{kind}{at}" if kind or at else "")
    return out


def circuits(graph: Graph, units: Units, kept_MxN: np.ndarray, names: list[str], title: str,
             path: pathlib.Path) -> None:
    """Every member's circuit as a graph: kept units as arrows labelled with the q/k/v input
    and the position; a node circuit shades its kept nodes."""
    pos = _columns(graph)
    M = len(names)
    cols = min(M, 4)
    rows = -(-M // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.6 * rows), dpi=draw.DPI,
                             squeeze=False)
    for m, ax in enumerate(axes.ravel()):
        ax.axis("off")
        if m >= M:
            continue
        arrows = _arrows(graph, units, kept_MxN[m])
        used = {n for pair in arrows for n in pair}
        for (s, r), labels in arrows.items():
            if s == r:
                continue
            (x0, y0), (x1, y1) = pos[s], pos[r]
            ax.annotate("", xy=(x1, y1), xytext=(x0, y0),
                        arrowprops=dict(arrowstyle="->", color="tab:blue", lw=1.2,
                                        shrinkA=9, shrinkB=9, connectionstyle="arc3,rad=0.08"))
            text = ",".join(sorted(set(l for l in labels if l)))
            if text:
                ax.text(x0 + 0.55 * (x1 - x0), y0 + 0.55 * (y1 - y0), text, fontsize=6,
                        color="tab:blue", ha="center", va="center",
                        bbox=dict(fc="white", ec="none", pad=0.3, alpha=0.8))
        for n, (x, y) in pos.items():
            on = n in used or n == "logits"
            ax.scatter([x], [y], s=260, color="tab:orange" if on else "0.9", zorder=3,
                       edgecolor="0.3" if on else "0.8")
            ax.text(x, y, n.replace("MLP", "M"), fontsize=6, ha="center", va="center", zorder=4)
        ax.set_title(f"{names[m]}: {int(kept_MxN[m].sum())} of {len(units)} kept", fontsize=9)
        ax.set_xlim(-0.6, 2 * graph.n_layers + 1.6)
    fig.suptitle(title, fontsize=10)
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
              metric: str, names: list[str], path: pathlib.Path) -> None:
    """Circuit size and the circuit's metric against tau, one line per member."""
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4), dpi=draw.DPI)
    for m, name in enumerate(names):
        a.plot(taus, sizes_TxM[:, m], marker=".", lw=1, label=name)
        b.plot(taus, values_TxM[:, m], marker=".", lw=1, label=name)
    a.set(xscale="log", xlabel="tau", ylabel=f"units kept (of {n_units})", title="circuit size")
    b.set(xscale="log", xlabel="tau", ylabel=metric, title=f"the circuit's {metric}")
    if metric in ("kl", "loss"):
        b.set_yscale("symlog", linthresh=1e-3)
    a.legend(fontsize=7)
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


def patching(tables: dict[str, np.ndarray], graph: Graph, names: list[str], metric: str,
             direction: str, path: pathlib.Path) -> None:
    """TransformerLens's layout: one heatmap per table (rows layers, or layer x head; columns
    positions, or heads), one row of panels per member."""
    kinds = list(tables)
    M = len(names)
    fig, axes = plt.subplots(M, len(kinds), figsize=(3.1 * len(kinds), 2.4 * M), dpi=draw.DPI,
                             squeeze=False)
    for m in range(M):
        for j, kind in enumerate(kinds):
            ax, t = axes[m, j], np.asarray(tables[kind][m])
            if t.ndim == 3:  # [layer, pos, head] / [layer, head, pos]: rows layer x first axis
                t = t.reshape(-1, t.shape[-1])
            lim = np.nanmax(np.abs(t)) or 1.0
            if np.nanmin(t) >= 0:  # KL, loss: one-sided
                im = ax.imshow(t, cmap="viridis", vmin=0, vmax=lim, aspect="auto")
            else:
                im = ax.imshow(t, cmap="RdBu", vmin=-lim, vmax=lim, aspect="auto")
            if kind.endswith("_by_pos") and "pattern" not in kind:
                ax.set_xticks(range(t.shape[1]), [f"H{h}" for h in range(t.shape[1])], fontsize=6)
                ax.set_yticks(range(t.shape[0]), [f"L{i // len(graph.positions)} "
                                                  f"{graph.positions[i % len(graph.positions)]}"
                                                  for i in range(t.shape[0])], fontsize=6)
            elif kind.endswith("_pos"):
                ax.set_xticks(range(t.shape[1]), [graph.positions[i] if "pattern" in kind else
                                                  f"H{i}" for i in range(t.shape[1])], fontsize=6)
                H = graph.n_heads
                ax.set_yticks(range(t.shape[0]), [f"L{i // H} H{i % H}" if "pattern_by" in kind
                                                  else f"L{i}" for i in range(t.shape[0])],
                              fontsize=6)
            else:
                ax.set_xticks(range(t.shape[1]), graph.positions, fontsize=6)
                ax.set_yticks(range(t.shape[0]), [f"L{i}" for i in range(t.shape[0])], fontsize=6)
            ax.tick_params(labelsize=6)
            ax.set_title(f"{names[m]}: {kind}", fontsize=7)
            fig.colorbar(im, ax=ax, fraction=0.05)
    fig.suptitle(f"activation patching ({direction}), {metric}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def over_training(steps: np.ndarray, sizes_SxM: np.ndarray, faith_SxM: np.ndarray,
                  acc_steps: np.ndarray, test_acc_PxM: np.ndarray, grok_steps: list,
                  n_units: int, names: list[str], title: str, path: pathlib.Path) -> None:
    """Circuit size and faithfulness at every checkpoint, above test accuracy, on one step axis
    with each member's grok step marked."""
    fig, axes = plt.subplots(3, 1, figsize=(9, 8), dpi=draw.DPI, sharex=True)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for m, name in enumerate(names):
        c = colors[m % len(colors)]
        axes[0].plot(steps, sizes_SxM[:, m], marker=".", color=c, label=name)
        axes[1].plot(steps, faith_SxM[:, m], marker=".", color=c)
        axes[2].plot(acc_steps, test_acc_PxM[:, m], color=c, lw=1)
        for ax in axes:
            if grok_steps[m] is not None:
                ax.axvline(grok_steps[m], color=c, ls=":", lw=1)
    axes[0].set_ylabel(f"units kept (of {n_units})")
    axes[1].set_ylabel("faithfulness")
    axes[2].set(ylabel="test accuracy", xlabel="step (dotted: each seed's grok step)")
    axes[0].legend(fontsize=7)
    axes[0].set_title(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
