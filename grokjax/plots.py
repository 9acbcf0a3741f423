"""Figures, drawn with matplotlib's headless Agg backend and saved as PNG.

Probe figures of one run: `spectra` (W_E and W_L in the Fourier basis: a heatmap of the
components and the per-frequency norms, additive and, for a prime p, discrete-log) and
`probe_curves` (FFD/FCR, restricted/excluded loss, Gini and weight norm over training, one thin
line per seed, the chosen seed bold, its phases marked).
"""

from __future__ import annotations

import pathlib

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from grokjax import fourier, probes  # noqa: E402

_PHASE_STYLE = {"memorisation_end": ("memorised", "tab:gray"),
                "circuit_formation_end": ("circuit formed", "tab:purple"),
                "cleanup_end": ("cleaned up", "tab:green")}


def _mark_phases(ax, phases: dict | None) -> None:
    for key, (label, color) in _PHASE_STYLE.items():
        if phases and phases.get(key) is not None:
            ax.axvline(max(phases[key], 1), color=color, ls="--", lw=1, label=label)


def spectra(params_one_seed: dict, p: int, title: str, path: pathlib.Path,
            multiplicative: bool) -> None:
    """W_E's number rows and W_L in the Fourier basis, for one seed."""
    weights = {"W_E": np.asarray(probes.embedding(params_one_seed, p)),
               "W_L": np.asarray(probes.neuron_logit_map(params_one_seed, p))}
    bases = [("additive", "Z/p")] + ([("multiplicative", "Z/(p-1), discrete-log order")]
                                     if multiplicative else [])
    fig, axes = plt.subplots(2 * len(bases), 2, figsize=(13, 4.2 * 2 * len(bases)),
                             gridspec_kw={"width_ratios": [3, 2]}, squeeze=False)
    row = 0
    for basis, basis_label in bases:
        for name, w in weights.items():
            src = np.asarray(fourier.to_log_basis(w, p)) if basis == "multiplicative" else w
            comps = np.abs(np.asarray(fourier.components(src)))
            ax = axes[row, 0]
            im = ax.imshow(comps, aspect="auto", cmap="viridis", interpolation="nearest")
            ax.set_ylabel("Fourier component (const, cos 1, sin 1, ...)")
            ax.set_xlabel("d_model dimension" if name == "W_E" else "MLP neuron")
            ax.set_title(f"|{name} in the Fourier basis over {basis_label}|")
            fig.colorbar(im, ax=ax, label="|component|")
            mu, nu = (np.asarray(x) for x in fourier.freq_norms(src))
            k = np.arange(1, len(mu) + 1)
            ax = axes[row, 1]
            ax.bar(k - 0.2, mu, width=0.4, label="cos ||mu_k||")
            ax.bar(k + 0.2, nu, width=0.4, label="sin ||nu_k||")
            ax.set_xlabel("frequency k")
            ax.set_ylabel("norm")
            ax.set_title(f"{name}: FFD {float(probes.ffd(mu, nu)):.2f}, "
                         f"FCR {float(probes.fcr(mu, nu)):.2f}")
            ax.legend()
            row += 1
    fig.suptitle(title)
    fig.tight_layout(rect=(0, 0, 1, 0.98))
    fig.savefig(path, dpi=100)
    plt.close(fig)


def probe_curves(history: dict, seed_index: int, seeds: list[int], title: str,
                 path: pathlib.Path, phases: dict | None) -> None:
    """FFD/FCR, restricted/excluded loss, Gini and weight norm against step."""
    steps = np.maximum(history["probe/step"], 1)
    log_steps = np.maximum(history["step"], 1)
    panels = [("FFD and FCR of W_E", [("probe/ffd/W_E", "FFD(W_E)"), ("probe/fcr/W_E", "FCR(W_E)")],
               "fraction", False),
              ("FFD and FCR of W_L", [("probe/ffd/W_L", "FFD(W_L)"), ("probe/fcr/W_L", "FCR(W_L)")],
               "fraction", False),
              ("losses", [("probe/restricted_loss", "restricted loss"),
                          ("probe/excluded_loss", "excluded loss"),
                          ("train/loss", "train loss"), ("test/loss", "test loss")],
               "cross entropy (nats)", True),
              ("Gini of the Fourier norms, and the weights",
               [("probe/gini/W_E", "Gini(W_E)"), ("probe/gini/W_L", "Gini(W_L)")], "Gini", False)]
    fig, axes = plt.subplots(2, 2, figsize=(13, 9))
    for ax, (name, series, ylabel, log_y) in zip(axes.flat, panels):
        for j, (key, label) in enumerate(series):
            if key not in history:
                continue
            values = history[key]
            x = log_steps if key.startswith(("train/", "test/")) else steps
            if values.ndim == 3:
                values = values.sum(-1)
            color = f"C{j}"
            for i in range(values.shape[0]):
                if i != seed_index:
                    ax.plot(x, values[i], color=color, lw=0.6, alpha=0.35)
            ax.plot(x, values[seed_index], color=color, lw=2, label=label)
        if name.startswith("Gini") and "probe/sum_sq_weights" in history:
            twin = ax.twinx()
            twin.plot(steps, history["probe/sum_sq_weights"][seed_index], color="k", lw=1.2,
                      label="sum of squared weights")
            twin.set_ylabel("sum of squared weights")
            twin.legend(loc="lower right")
        _mark_phases(ax, phases)
        ax.set_xscale("log")
        if log_y:
            ax.set_yscale("log")
        ax.set_xlabel("step (log scale)")
        ax.set_ylabel(ylabel)
        ax.set_title(name)
        ax.legend(loc="best", fontsize=8)
    fig.suptitle(f"{title}; seed {seeds[seed_index]} bold, other seeds thin")
    fig.tight_layout(rect=(0, 0, 1, 0.98))
    fig.savefig(path, dpi=100)
    plt.close(fig)
