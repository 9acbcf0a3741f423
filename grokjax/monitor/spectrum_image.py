"""The spectrum image TensorBoard shows at every probe point: the per-frequency norms of W_E and
W_L as a small picture, redrawn in milliseconds (matplotlib's Agg backend, blitting).
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


class SpectrumCanvas:
    """One small reusable figure: the per-frequency norms (cos ||mu_k||, sin ||nu_k||) of W_E and
    W_L, one column per basis, each panel scaled to its largest norm, for TensorBoard's images
    at every probe point (TensorBoard shows the run and step). The axes are drawn once; a render
    only draws the bars onto a copy of them (blitting): a few milliseconds, as text is slow."""

    def __init__(self, bases: dict[str, int]):
        """bases: name -> its number of frequencies K (e.g. {'additive': 48} for p = 97)."""
        self.fig, axes = plt.subplots(2, len(bases), figsize=(4.2 * len(bases), 4.4), dpi=80,
                                      squeeze=False)
        self.panels = {}
        for col, (basis, n_freqs) in enumerate(bases.items()):
            k = np.arange(1, n_freqs + 1, dtype=float)
            for row, name in enumerate(("W_E", "W_L")):
                ax = axes[row, col]
                bars = tuple((ax.vlines(k + dx, 0, 0 * k, lw=2.5, color=c, label=lab,
                                        animated=True), k + dx)
                             for dx, c, lab in ((-0.18, "C0", "cos"), (0.18, "C1", "sin")))
                ax.set_xlim(0, n_freqs + 1)
                ax.set_ylim(0, 1.35)  # room above the bars for the legend and the text
                ax.set_title(f"{name}, {basis} basis", fontsize=9)
                ax.set_xlabel("frequency k", fontsize=8)
                ax.set_ylabel("norm / largest norm", fontsize=8)
                ax.tick_params(labelsize=7)
                ax.legend(fontsize=7, loc="upper right")
                self.panels[basis, name] = bars
        self.fig.suptitle("Fourier spectra: norm per frequency / the largest", fontsize=10)
        self.fig.tight_layout(rect=(0, 0, 1, 0.95))
        self.fig.canvas.draw()
        self.background = self.fig.canvas.copy_from_bbox(self.fig.bbox)

    def render(self, spectra: dict) -> np.ndarray:
        """spectra[(basis, 'W_E' | 'W_L')] = (mu [K], nu [K]) -> an RGB image [H, W, 3] uint8."""
        canvas = self.fig.canvas
        canvas.restore_region(self.background)
        for key, (mu, nu) in spectra.items():
            bars = self.panels[key]
            top = float(max(np.max(mu), np.max(nu)))
            scale = 1.0 / top if top > 0 else 1.0
            for (lines, x), values in zip(bars, (mu, nu)):
                height = np.asarray(values, float) * scale
                lines.set_segments(np.stack([np.stack([x, 0 * x], -1),
                                             np.stack([x, height], -1)], 1))
                lines.axes.draw_artist(lines)
        return np.asarray(canvas.buffer_rgba())[..., :3].copy()

    def close(self) -> None:
        plt.close(self.fig)
