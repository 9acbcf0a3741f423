"""Figures, drawn with matplotlib's headless Agg backend and saved as PNG.

Over training, every seed a thin line with the median and a min-max band over seeds (or one
chosen seed bold; for a grid run a median and band per setting, in the setting's colour), on a
log-scaled step axis: `grokking_curves` (train and test accuracy and
loss) and `measure_curves` (FFD/FCR of W_E and W_L, restricted and excluded loss, the weight norm
and Gini), with memorisation and grok steps or phases marked. Across seeds and runs:
`grok_steps` (the grok step of every seed, one column per run). Of one seed's weights:
`spectra` (W_E and W_L in the Fourier basis, additive and, for a multiplicative task, discrete
log: `shows_discrete_log`). Of the probes over training: `embedding_spectrum` (W_E's norm per
frequency against step, one panel per seed, the key frequencies marked).
For the reproduction report: `outcome_matrix` (runs as a table: grok step or best test
accuracy), `spectrum_patterns` (Furuta's Fig. 8), `measure_phases` (Nanda's Fig. 7 with the
phases from the measures) and `lu_landscape` (Omnigrok's Fig. 1(b): loss against weight norm).
(TensorBoard's small spectrum image is drawn by grokjax.monitor.spectrum_image.)

Events and phases have one colour each in every figure (`EVENTS`): `plot`'s median
memorisation and grok steps, `probe`'s phases of one seed, the report's phase spans.
"""

from __future__ import annotations

import pathlib
import warnings

import matplotlib

matplotlib.use("Agg")
import matplotlib.colors as mcolors  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker as mticker  # noqa: E402
import numpy as np  # noqa: E402

from grokjax.errors import GrokjaxError  # noqa: E402
from grokjax.probes import fourier, measures  # noqa: E402
from grokjax.summary import over_tasks  # noqa: E402
from grokjax.tasks import parse_task_spec  # noqa: E402

DPI = 100
CURVES_SIZE = (13, 5)  # inches, at DPI
MEASURES_SIZE = (13, 9)
HEATMAP_SIZE = (7.5, 5.5)


GROK_LEGEND_WIDTH = 3.2  # inches beside the grok-step axes for its legend


def grok_steps_size(n_groups: int) -> tuple[float, float]:
    return max(6.0, 1.1 * n_groups + 2) + GROK_LEGEND_WIDTH, 5.0


# Every event and phase a figure marks, with its label and its one colour (none of the C0-C5
# that the curves use): a run's events (summary's memorisation and grok steps) and one seed's
# phases (summary.phases: each phase is drawn in the colour of the event that ends it).
EVENTS = {"memorisation": ("memorised", "tab:gray"),
          "grok": ("grokked", "black"),
          "circuit_formation": ("circuit formed", "tab:cyan"),
          "cleanup": ("cleaned up", "tab:olive")}
PHASES = {"memorisation_end": "memorisation", "circuit_formation_end": "circuit_formation",
          "cleanup_end": "cleanup"}  # summary.phases' keys -> EVENTS
# The phases as spans, each in the colour of the event that ends it.
_PHASE_SPANS = tuple((label, EVENTS[event][1]) for label, event in (
    ("memorisation", "memorisation"), ("circuit formation", "circuit_formation"),
    ("cleanup", "cleanup")))


def phase_marks(phases: dict | None) -> list[tuple[int, str, str]]:
    """One seed's phases (summary.phases) as marks for the curve figures."""
    return [(phases[key], *EVENTS[event]) for key, event in PHASES.items()
            if phases and phases.get(key) is not None]


def shows_discrete_log(task: str, p: int) -> bool:
    """Whether a run's discrete-log panels say anything: some task of its `task` spec does
    (tasks.Task.shows_discrete_log)."""
    try:
        return any(t.shows_discrete_log(p) for t in parse_task_spec(task, p=p))
    except GrokjaxError:
        return False


def spectra(params_one_seed: dict, p: int, title: str, path: pathlib.Path,
            multiplicative: bool) -> list[str]:
    """W_E's number rows and W_L in the Fourier basis, for one seed: additive, and with
    `multiplicative` (see `shows_discrete_log`) also over Z/(p-1) in discrete-log order.
    Returns the bases drawn."""
    weights = {"W_E": np.asarray(measures.embedding(params_one_seed, p)),
               "W_L": np.asarray(measures.neuron_logit_map(params_one_seed, p))}
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
            ax.set_title(f"{name}: FFD {float(measures.ffd(mu, nu)):.2f}, "
                         f"FCR {float(measures.fcr(mu, nu)):.2f}")
            ax.legend()
            row += 1
    fig.suptitle(title)
    fig.tight_layout(rect=(0, 0, 1, 0.98))
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return [basis for basis, _ in bases]


SPECTRUM_PANELS = 8  # seeds drawn by embedding_spectrum at most
SPECTRUM_COLUMNS = 4


def embedding_spectrum_size(n_panels: int, n_bases: int) -> tuple[float, float]:
    """The figure size of `embedding_spectrum`: up to SPECTRUM_COLUMNS panels a row, one block
    of rows per basis."""
    cols = min(n_panels, SPECTRUM_COLUMNS)
    rows = -(-n_panels // cols) * n_bases
    return max(7.0, 3.4 * cols + 1.6), 3.0 * rows + 1.6


def frequency_norms(history: dict, basis: str = "additive") -> np.ndarray:
    """[S, P_probe, K]: W_E's norm in each frequency k at every probe point,
    sqrt(||mu_k||^2 + ||nu_k||^2) from the probes' spectra (probe/W_E/mu and /nu, or
    probe/log/... in the discrete-log basis)."""
    prefix = "probe/log/" if basis == "multiplicative" else "probe/"
    return np.hypot(history[f"{prefix}W_E/mu"], history[f"{prefix}W_E/nu"])


def embedding_spectrum(history: dict, labels: list[str], title: str, path: pathlib.Path,
                       bases: tuple[str, ...] = ("additive",), key_basis: str | None = None,
                       marks: list[list[tuple[int, str, str]]] | None = None) -> dict:
    """The embedding's Fourier spectrum over training: for each of the first len(labels)
    members (at most SPECTRUM_PANELS) a frequency x probe-step heatmap of W_E's norm per
    frequency (`frequency_norms`), in each basis of `bases` ('additive', 'multiplicative'),
    all on one log colour scale. The key frequencies of the final probe point
    (probe/key_freqs, found in `key_basis`) are marked with red triangles on the right in
    that basis's panels; `marks` (per member: (step, label, colour)) are vertical lines.
    Returns what it drew: {'panels': [{'label', 'basis', 'member', 'keys'}], 'norm': (vmin,
    vmax)}."""
    n = min(len(labels), SPECTRUM_PANELS)
    if n == 0:
        raise GrokjaxError("embedding_spectrum needs at least one member")
    steps = np.asarray(history["probe/step"], np.float64)
    values = {b: frequency_norms(history, b)[:n] for b in bases}
    finite = np.concatenate([v[np.isfinite(v) & (v > 0)] for v in values.values()])
    vmax = float(finite.max()) if finite.size else 1.0
    vmin = max(float(finite.min()) if finite.size else vmax * 1e-3, vmax * 1e-3)
    norm = mcolors.LogNorm(vmin=vmin, vmax=max(vmax, vmin * 1.01))
    keys_all = history.get("probe/key_freqs")
    if len(steps) > 1:
        mid = (steps[1:] + steps[:-1]) / 2
        x_edges = np.concatenate([[steps[0] - (mid[0] - steps[0])], mid,
                                  [steps[-1] + (steps[-1] - mid[-1])]])
    else:
        x_edges = steps[0] + np.array([-0.5, 0.5])
    cols = min(n, SPECTRUM_COLUMNS)
    block = -(-n // cols)
    fig, axes = plt.subplots(block * len(bases), cols, figsize=embedding_spectrum_size(
        n, len(bases)), squeeze=False, layout="constrained")
    drawn, image = [], None
    for b_i, basis in enumerate(bases):
        K = values[basis].shape[-1]
        y_edges = np.arange(K + 1) + 0.5
        for i in range(block * cols):
            ax = axes[b_i * block + i // cols, i % cols]
            if i >= n:
                ax.axis("off")
                continue
            image = ax.pcolormesh(x_edges, y_edges, values[basis][i].T, norm=norm,
                                  cmap="viridis", shading="flat")
            keys = []
            if keys_all is not None and basis == key_basis:
                keys = [int(k) + 1 for k in np.flatnonzero(keys_all[i, -1])]
            if keys:
                ax.plot(np.full(len(keys), x_edges[-1]), keys, "<", color="red", ms=6,
                        clip_on=False, label="key frequency (final probe)")
            for step, label, color in (marks[i] if marks else []):
                ax.axvline(step, color=color, ls="--", lw=1.2, label=label)
            name = "discrete log, Z/(p-1)" if basis == "multiplicative" else "Z/p"
            ax.set_title(f"{labels[i]} ({name})" + (f"; keys {', '.join(map(str, keys))}"
                                                    if keys else ""), fontsize=9)
            ax.set_ylim(0.5, K + 0.5)
            ax.yaxis.set_major_locator(mticker.MaxNLocator(integer=True))
            if i % cols == 0:
                ax.set_ylabel("frequency k")
            ax.set_xlabel("training step (probe points)", fontsize=8)
            drawn.append({"label": labels[i], "basis": basis, "member": i, "keys": keys})
    handles = {}
    for ax in axes.flat:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(lab, h)
    if handles:
        fig.legend(list(handles.values()), list(handles), loc="outside lower center",
                   ncol=min(len(handles), 4), fontsize=8)
    bar = fig.colorbar(image, ax=axes, label="||W_E's frequency k|| (log scale)", shrink=0.9)
    _log_ticks(bar.ax.yaxis, norm.vmin, norm.vmax)
    more = f" (first {n} of {len(labels)} members)" if len(labels) > n else ""
    fig.suptitle(title + more, fontsize=10)
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return {"panels": drawn, "norm": (norm.vmin, norm.vmax)}


def _log_ticks(axis, low: float, high: float) -> None:
    """Plain-number labels on a log axis: the powers of ten, and between them every minor tick
    when the range is within a decade, else those at 2 and 5 times a power of ten."""
    plain = mticker.FuncFormatter(lambda v, _: f"{v:.3g}")
    narrow = np.log10(high / low) <= 1

    def minor(v, _):
        lead = round(v / 10 ** np.floor(np.log10(v)), 6)
        return f"{v:.3g}" if narrow or lead in (2, 5) else ""
    axis.set_major_formatter(plain)
    axis.set_minor_formatter(mticker.FuncFormatter(minor))


def _step_axis(ax) -> None:
    ax.set_xscale("log")
    ax.set_xlabel("training step (log scale; step 0 drawn at 1)")


def _mark(ax, marks: list[tuple[int, str, str]]) -> None:
    """Vertical dashed lines: (step, label, colour)."""
    for step, label, color in marks:
        ax.axvline(max(step, 1), color=color, ls="--", lw=1, label=label)


def _spread(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(median, min, max) over the members [S, P] -> [P] of the finite values: a diverged
    member's NaN leaves the others' median standing; NaN (no warning) where none is finite."""
    v = np.where(np.isfinite(values), values, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # numpy's 'All-NaN slice'
        return np.nanmedian(v, 0), np.nanmin(v, 0), np.nanmax(v, 0)


def seed_lines(ax, x: np.ndarray, values: np.ndarray, color: str, label: str,
               highlight: int | None = None, style: str = "-") -> None:
    """values [S, P] against x [P]: thin lines per seed, and either the median over seeds with a
    min-max band (highlight None) or one seed's line drawn bold."""
    for i in range(values.shape[0]):
        if i != highlight:
            ax.plot(x, values[i], color=color, lw=0.6, alpha=0.35, ls=style)
    if highlight is None:
        median, low, high = _spread(values)
        ax.fill_between(x, low, high, color=color, alpha=0.15, lw=0)
        ax.plot(x, median, color=color, lw=2, ls=style, label=f"{label} (median)")
    else:
        ax.plot(x, values[highlight], color=color, lw=2, ls=style, label=label)


# A grid run's figures: one colour per setting, one line style per series of a panel.
SERIES_STYLES = ("-", "--", ":", "-.")


def setting_colours(n: int) -> list:
    """n colours for a grid run's settings: C0-C5 (none of them an EVENTS colour), or for more
    settings a sequential colour map, in the settings' order."""
    if n <= 6:
        return [f"C{g}" for g in range(n)]
    return list(plt.get_cmap("viridis")(np.linspace(0, 0.9, n)))


def series_lines(ax, x: np.ndarray, values: np.ndarray, j: int, label: str,
                 groups: list[tuple[str, list[int]]] | None = None,
                 highlight: int | None = None) -> None:
    """Series j of a panel, values [S, P]: over all members in colour C{j} (`seed_lines`), or
    with `groups` (a grid run's settings: (label, member indices)) a median, band and thin
    lines per setting, in the setting's colour and the series' line style, labelled
    '<label>, <setting> (median)'."""
    if groups is None or highlight is not None:
        seed_lines(ax, x, values, f"C{j}", label, highlight)
        return
    for colour, (name, members) in zip(setting_colours(len(groups)), groups):
        seed_lines(ax, x, values[np.asarray(members, int)], colour, f"{label}, {name}",
                   style=SERIES_STYLES[j % len(SERIES_STYLES)])


def _per_seed(history: dict, key: str) -> np.ndarray:
    """[S, P]: a metric, for all tasks together if it is per task."""
    v = history[key]
    return over_tasks(key, v) if v.ndim == 3 else v


def _legend(ax, fontsize: float = 8) -> None:
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="best", fontsize=fontsize)


def grokking_curves(history: dict, title: str, path: pathlib.Path,
                    marks: list[tuple[int, str, str]],
                    groups: list[tuple[str, list[int]]] | None = None) -> None:
    """Train and test accuracy, and loss, against step: median, min-max band, seeds thin; with
    `groups` (a grid run's settings: (label, member indices)) one median and band per setting,
    in its colour (train dashed, test solid)."""
    x = np.maximum(history["step"], 1)
    fig, (acc, loss) = plt.subplots(1, 2, figsize=CURVES_SIZE)
    for ax, metric, ylabel in ((acc, "acc", "accuracy"), (loss, "loss", "cross-entropy (nats)")):
        for j, split in ((1, "train"), (0, "test")) if groups else enumerate(("train", "test")):
            series_lines(ax, x, _per_seed(history, f"{split}/{metric}"), j, split, groups)
        _mark(ax, marks)
        _step_axis(ax)
        ax.set_ylabel(ylabel)
        _legend(ax, 7 if groups else 8)
    acc.set_ylim(-0.02, 1.02)
    acc.set_title("accuracy")
    loss.set_yscale("log")
    loss.set_title("loss (log scale)")
    fig.suptitle(title)
    fig.tight_layout(rect=(0, 0, 1, 0.96))
    fig.savefig(path, dpi=DPI)
    plt.close(fig)


def measure_curves(history: dict, title: str, path: pathlib.Path,
                   marks: list[tuple[int, str, str]], highlight: int | None = None,
                   groups: list[tuple[str, list[int]]] | None = None) -> None:
    """The progress measures against step: FFD and FCR of W_E and of W_L, restricted and
    excluded loss with the train and test loss, the total weight norm and the Gini coefficients.
    Median and min-max band over seeds (or one seed bold: `highlight`), seeds thin; with
    `groups` (a grid run's settings) one median and band per setting, in its colour, each
    series of a panel in its own line style. `marks` are vertical lines (e.g. the memorisation
    and grok steps, or one seed's phases)."""
    steps = np.maximum(history.get("probe/step", np.zeros(0)), 1)
    log_steps = np.maximum(history["step"], 1)
    panels = [("FFD and FCR of W_E", [("probe/ffd/W_E", "FFD(W_E)"), ("probe/fcr/W_E", "FCR(W_E)")],
               "fraction of frequencies", False),
              ("FFD and FCR of W_L", [("probe/ffd/W_L", "FFD(W_L)"), ("probe/fcr/W_L", "FCR(W_L)")],
               "fraction of frequencies", False),
              ("restricted and excluded loss", [("probe/restricted_loss", "restricted loss"),
                                                ("probe/excluded_loss", "excluded loss"),
                                                ("train/loss", "train loss"),
                                                ("test/loss", "test loss")],
               "cross-entropy (nats, log scale)", True),
              ("weight norm, and Gini of the Fourier norms",
               [("norm/total", "L2 norm of all weights")], "L2 norm", False)]
    fig, axes = plt.subplots(2, 2, figsize=MEASURES_SIZE)
    for ax, (name, series, ylabel, log_y) in zip(axes.flat, panels):
        for j, (key, label) in enumerate(series):
            if key in history:
                x = log_steps if key.startswith(("train/", "test/", "norm/")) else steps
                series_lines(ax, x, _per_seed(history, key), j, label, groups, highlight)
        if name.startswith("weight norm") and "probe/gini/W_E" in history:
            twin = ax.twinx()
            for j, name_ in enumerate(("W_E", "W_L")):
                series_lines(twin, steps, history[f"probe/gini/{name_}"], j + (
                    1 if groups else 2), f"Gini({name_})", groups, highlight)
            twin.set_ylabel("Gini coefficient")
            twin.legend(loc="lower right", fontsize=7 if groups else 8)
        if not ax.lines:
            ax.text(0.5, 0.5, "not recorded (probe.every = 0, or no (a, b) table for this task)",
                    ha="center", va="center", transform=ax.transAxes, fontsize=9)
        _mark(ax, marks)
        _step_axis(ax)
        if log_y and ax.lines:
            ax.set_yscale("log")
        ax.set_ylabel(ylabel)
        ax.set_title(name)
        _legend(ax, 7 if groups else 8)
    fig.suptitle(title)
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    fig.savefig(path, dpi=DPI)
    plt.close(fig)


def final_key_curves(history: dict, over: dict, i: int, title: str, path: pathlib.Path,
                     marks: list[tuple[int, str, str]]) -> None:
    """Nanda's Fig. 7 for member i: the train and test loss (every log point), and the
    restricted and excluded loss with the final model's key frequencies at every checkpoint
    (`over`, from report.probe.over_training), beside those with the keys each probe step
    found (thin: before grokking no neuron passes the threshold, so they say little)."""
    fig, ax = plt.subplots(figsize=CURVES_SIZE)
    for key, label, color in (("train/loss", "train loss", "C0"), ("test/loss", "test loss", "C1")):
        ax.plot(history["step"], over_tasks(key, history[key][i]), color=color, lw=1.5,
                label=label)
    steps = np.asarray(over["steps"])
    for key, label, color in (("restricted_loss", "restricted loss (final keys)", "C2"),
                              ("excluded_loss", "excluded loss (final keys)", "C3")):
        ax.plot(steps, np.asarray(over[key])[:, i], "o-", color=color, lw=2, ms=4, label=label)
        if f"probe/{key}" in history:
            ax.plot(history["probe/step"], history[f"probe/{key}"][i], color=color,
                    lw=0.7, alpha=0.5, label=f"{key.split('_')[0]} loss (keys found per step)")
    _mark(ax, marks)
    ax.set_xlabel("training step (one point per checkpoint for the final-key losses)")
    ax.set_yscale("log")
    ax.set_ylabel("cross-entropy (nats, log scale)")
    ax.set_title(title, fontsize=10)
    _legend(ax)
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)


def grok_steps(groups: list[dict], title: str, path: pathlib.Path) -> None:
    """The grok step of every seed, one column per group (a run, or a task at one r): each
    grokked seed a dot, a box over them, and the seeds that never grokked counted in the label.
    groups: [{'label': str, 'grok_steps': [int per seed, -1 = never]}]."""
    fig, ax = plt.subplots(figsize=grok_steps_size(len(groups)))
    rng = np.random.default_rng(0)
    labels = []
    for j, g in enumerate(groups):
        steps = np.asarray(g["grok_steps"])
        done = steps[steps >= 0]
        if len(done):
            ax.boxplot([done], positions=[j], widths=0.5, whis=(0, 100), showfliers=False,
                       medianprops={"color": "C1"})
            ax.scatter(j + rng.uniform(-0.12, 0.12, len(done)), done, s=18, color="C0",
                       zorder=3, label="grok step of a seed" if not labels else None)
        labels.append(f"{g['label']}\ngrokked {len(done)}/{len(steps)}")
    ax.plot([], [], color="C1", label="median; box: quartiles, whiskers: range")
    ax.set_xticks(range(len(groups)), labels, fontsize=8)
    ax.set_xlim(-0.7, len(groups) - 0.3)
    if any(np.asarray(g["grok_steps"]).max(initial=-1) >= 0 for g in groups):
        ax.set_yscale("log")
    else:
        ax.text(0.5, 0.5, "no seed grokked", ha="center", va="center", transform=ax.transAxes)
    ax.set_ylabel("grok step (first step with test accuracy >= threshold; log scale)")
    ax.set_title(title)
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1), borderaxespad=0, fontsize=8)
    fig.tight_layout()  # makes room for the legend beside the axes
    fig.savefig(path, dpi=DPI)
    plt.close(fig)


def heatmap_size(n_rows: int) -> tuple[float, float]:
    return HEATMAP_SIZE[0], max(HEATMAP_SIZE[1], 0.45 * n_rows + 1.5)


def _tick(v) -> str:
    return v if isinstance(v, str) else f"{v:g}"


def _step_norm(steps: np.ndarray) -> mcolors.LogNorm:
    """A log colour scale over the finite grok steps; one grokked cell, or cells that share
    one step, still get a scale with a range."""
    finite = steps[np.isfinite(steps)]
    low = max(finite.min(), 1) if finite.size else 1
    return mcolors.LogNorm(vmin=low, vmax=max(finite.max() if finite.size else 2, low * 1.5))


def _text_on(cmap, norm, value: float) -> str:
    """White or black text, whichever reads on the cell's colour."""
    r, g, b, _ = cmap(norm(value))
    return "white" if 0.3 * r + 0.6 * g + 0.1 * b < 0.55 else "black"


def grid_heatmap(xs: list, ys: list, median: np.ndarray, fraction: np.ndarray, x_label: str,
                 y_label: str, title: str, path: pathlib.Path) -> None:
    """The median grok step over two axes (grid axes, or tasks by r; colour, log scale), each
    cell annotated with it and the fraction of its seeds that grokked; cells where none
    grokked are grey, cells without a run grey and without text."""
    fig, ax = plt.subplots(figsize=heatmap_size(len(ys)))
    norm = _step_norm(median)
    cmap = plt.get_cmap("viridis").with_extremes(bad="lightgrey")
    im = ax.imshow(np.ma.masked_invalid(median), origin="lower", aspect="auto", cmap=cmap,
                   norm=norm)
    for iy in range(len(ys)):
        for ix in range(len(xs)):
            m = median[iy, ix]
            if np.isnan(fraction[iy, ix]):  # no run there
                continue
            text = (f"{m:.0f}" if np.isfinite(m) else "never") + f"\n{fraction[iy, ix]:.0%}"
            ax.text(ix, iy, text, ha="center", va="center", fontsize=8,
                    color=_text_on(cmap, norm, m) if np.isfinite(m) else "black")
    ax.set_xticks(range(len(xs)), [_tick(x) for x in xs])
    ax.set_yticks(range(len(ys)), [_tick(y) for y in ys])
    ax.set_xlabel(x_label)
    ax.set_ylabel(y_label)
    ax.set_title(title, fontsize=10)
    fig.colorbar(im, ax=ax, label="median grok step over seeds (log scale)")
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)


def outcome_matrix(rows: list[str], cols: list[str], cells: dict[tuple[str, str], dict],
                   title: str, path: pathlib.Path) -> None:
    """A table of runs as a heatmap (the Table A.5 grid, the transfer matrix): a cell
    (row, col) holds `{'grokked': k, 'n': n, 'grok_step': median or None, 'best_test_acc':
    median}`. Cells where a member grokked are coloured by the median grok step (log scale);
    the others are grey and show the best test accuracy; cells without a run stay white with
    'not run'."""
    median = np.full((len(rows), len(cols)), np.nan)
    for (r, c), cell in cells.items():
        if cell["grok_step"] is not None:
            median[rows.index(r), cols.index(c)] = cell["grok_step"]
    fig, ax = plt.subplots(figsize=(max(6.0, 1.3 * len(cols) + 3), max(3.0, 0.42 * len(rows)
                                                                        + 1.8)))
    norm = _step_norm(median)
    cmap = plt.get_cmap("viridis")
    im = ax.imshow(np.ma.masked_invalid(median), aspect="auto", cmap=cmap, norm=norm)
    for iy, r in enumerate(rows):
        for ix, c in enumerate(cols):
            cell = cells.get((r, c))
            if cell is None:
                ax.text(ix, iy, "not run", ha="center", va="center", fontsize=7,
                        color="0.6")
                continue
            if cell["grok_step"] is None:
                ax.add_patch(plt.Rectangle((ix - 0.5, iy - 0.5), 1, 1, color="0.82"))
                text, color = f"no grok\nbest {cell['best_test_acc']:.1%}", "black"
            else:
                text = f"{cell['grok_step']:.0f}\n{cell['grokked']}/{cell['n']} grokked"
                color = _text_on(cmap, norm, cell["grok_step"])
            ax.text(ix, iy, text, ha="center", va="center", fontsize=7, color=color)
    ax.set_xticks(range(len(cols)), cols, fontsize=8, rotation=20, ha="right")
    ax.set_yticks(range(len(rows)), rows, fontsize=8)
    ax.set_title(title, fontsize=10)
    fig.colorbar(im, ax=ax, label="median grok step (log scale)")
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)


def spectrum_patterns(curves: list[dict], title: str, path: pathlib.Path) -> None:
    """Furuta's Fig. 8: FFD and FCR of W_E against step, one line per task; a dot marks each
    task's grok step. curves: [{'label', 'steps', 'ffd', 'fcr', 'grok_step' (-1: never)}]."""
    fig, axes = plt.subplots(1, 2, figsize=CURVES_SIZE)
    for j, c in enumerate(curves):
        for ax, key in zip(axes, ("ffd", "fcr")):
            steps = np.maximum(np.asarray(c["steps"]), 1)
            ax.plot(steps, c[key], color=f"C{j % 10}", lw=1.5,
                    label=c["label"] + ("" if c["grok_step"] >= 0 else " (no grok)"))
            if c["grok_step"] >= 0:
                at = min(np.searchsorted(c["steps"], c["grok_step"]), len(steps) - 1)
                ax.plot(steps[at], c[key][at], "o", color=f"C{j % 10}", ms=6)
    for ax, name in zip(axes, ("FFD(W_E), eta = 0.5: fraction of components above half the "
                               "max", "FCR(W_E): cos/sin balance")):
        _step_axis(ax)
        ax.set_ylim(-0.02, 1.05)
        ax.set_title(name, fontsize=10)
    axes[0].set_ylabel("value (dot: the task's grok step)")
    _legend(axes[1])
    fig.suptitle(title)
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    fig.savefig(path, dpi=DPI)
    plt.close(fig)


def lu_landscape(alphas: list[float], train: list[float], test: list[float], title: str,
                 path: pathlib.Path) -> None:
    """Omnigrok's Fig. 1(b): the final train and test loss of runs held on spheres of weight
    norm alpha * w0 (one point per norm, the median over seeds), on log-log axes."""
    fig, ax = plt.subplots(figsize=HEATMAP_SIZE)
    ax.plot(alphas, train, "o-", color="C1", label="train loss (L)")
    ax.plot(alphas, test, "s-", color="0.45", label="test loss (U)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xticks(alphas, [_tick(a) for a in alphas])
    ax.xaxis.set_minor_locator(mticker.NullLocator())
    ax.set_xlabel("weight norm w / w0 (held during training)")
    ax.set_ylabel("final loss")
    _legend(ax)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)


def measure_phases(history: dict, over: dict, i: int, phases: dict, title: str,
                   path: pathlib.Path) -> None:
    """Nanda's Fig. 7 on one member, with the phases found from the measures shaded: the
    train, test, restricted and excluded loss (final key frequencies, one point per
    checkpoint) above; the Gini coefficients of W_E and W_L and the sum of squared weights
    below."""
    fig, (top, low) = plt.subplots(2, 1, figsize=MEASURES_SIZE, sharex=True)
    for key, label, color in (("train/loss", "train loss", "C0"), ("test/loss", "test loss", "C1")):
        top.plot(history["step"], over_tasks(key, history[key][i]), color=color, lw=1.5,
                 label=label)
    for key, label, color in (("restricted_loss", "restricted loss", "C2"),
                              ("excluded_loss", "excluded loss", "C3")):
        top.plot(over["steps"], np.asarray(over[key])[:, i], "o-", color=color, ms=3,
                 label=f"{label} (final key frequencies)")
    top.set_yscale("log")
    top.set_ylabel("cross-entropy (nats, log scale)")
    for w, color in (("W_E", "C4"), ("W_L", "C5")):
        low.plot(history["probe/step"], history[f"probe/gini/{w}"][i], color=color,
                 label=f"Gini of {w}'s Fourier components")
    low.set_ylabel("Gini coefficient")
    twin = low.twinx()
    twin.plot(history["probe/step"], history["probe/sum_sq_weights"][i], color="k", lw=1,
              ls=":", label="sum of squared weights")
    twin.set_ylabel("sum of squared weights")
    ends = [0, phases.get("memorisation_end"), phases.get("circuit_formation_end"),
            phases.get("cleanup_end")]
    for ax in (top, low):
        for (label, color), a, b in zip(_PHASE_SPANS, ends[:-1], ends[1:]):
            if a is not None and b is not None:
                ax.axvspan(a, b, color=color, alpha=0.12, lw=0,
                           label=label if ax is top else None)
    low.set_xlabel("training step")
    _legend(top)
    lines = low.get_legend_handles_labels()
    extra = twin.get_legend_handles_labels()
    low.legend(lines[0] + extra[0], lines[1] + extra[1], loc="best", fontsize=8)
    fig.suptitle(title)
    fig.tight_layout(rect=(0, 0, 1, 0.96))
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
