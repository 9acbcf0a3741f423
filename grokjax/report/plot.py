"""`grokjax plot RUN [RUN ...]`: the figures of finished runs, as PNG files.

Per run, from its history.npz and summary.json:

    <run>-curves.png      train and test accuracy and loss against step (log scale): the median
                          over seeds, a min-max band, every seed thin (for a grid run, one
                          median and band per grid setting, coloured and labelled by setting);
                          median memorisation and grok steps marked
    <run>-measures.png    the weight norm, FFD/FCR of W_E and W_L, restricted and excluded loss
                          (and Gini) against step, the same way, with the same marks
    <run>-embedding-spectrum.png
                          W_E's norm per frequency against step, one heatmap per seed (the
                          first 8), from the probes in the history; the key frequencies of the
                          final probe marked; the discrete-log basis too for multiplicative
                          tasks (draw.shows_discrete_log); runs with probes only
    <run>-spectra-seed<S>-step<N>.png
                          the Fourier spectra of W_E and W_L of one seed (--seed, default the
                          first) at one checkpoint (--step, default the latest), the
                          discrete-log panels for multiplicative tasks only; transformers with
                          p >= 5 only (it reads the checkpoint; not with --no-spectra)

    <run>-grid.png        for a grid run (`--grid`): the median grok step over the first two
                          grid axes (or the one), each cell with the fraction of seeds grokked

Across the runs given (one is fine):

    grok-steps.png        the grok step of every seed, one column per run, labelled by task and r

Every title names the task, p, r and the number of seeds. The default output directory is
RUN/plots for one run, and plots/ beside the first run for several.
"""

from __future__ import annotations

import pathlib

import numpy as np

from grokjax.grid import setting_text
from grokjax.report import draw, runs
from grokjax.saved import SavedRun
from grokjax.store.files import RunFiles
from grokjax.report.tables import grok_matrix
from grokjax.summary import n_members
from grokjax.tasks import parse_task_spec


def event_marks(summary: dict) -> list[tuple[int, str, str]]:
    """The median memorisation and grok steps over the members that reached them, in the
    colours of draw.EVENTS."""
    marks = []
    for key, event in (("memorisation_step", "memorisation"), ("grok_step", "grok")):
        label, color = draw.EVENTS[event]
        steps = [e[key] for e in summary["seeds"] if e[key] >= 0]
        if steps:
            marks.append((int(np.median(steps)), f"{label} (median), {len(steps)}/"
                          f"{len(summary['seeds'])} seeds", color))
    return marks


def key_basis(cfg: dict, summary: dict) -> str:
    """The basis the probes found the key frequencies in: the members' tasks' (Task.key_basis),
    if they share it; else the additive basis."""
    bases = {t.key_basis(cfg["p"]) for e in summary["seeds"]
             for t in parse_task_spec(runs.member_task(cfg["task"], e), p=cfg["p"])}
    return bases.pop() if len(bases) == 1 else "additive"


def _member_label(entry: dict) -> str:
    return ", ".join(filter(None, [f"seed {entry['seed']}",
                                   setting_text(entry.get("hparams", {}))]))


def setting_groups(summary: dict) -> list[tuple[str, list[int]]] | None:
    """A grid run's settings in member order, each as (label, its members' indices), e.g.
    ('lr=0.001', [0, 1]); None for a run without a grid."""
    if "grid" not in summary:
        return None
    groups: dict[str, list[int]] = {}
    for i, e in enumerate(summary["seeds"]):
        groups.setdefault(setting_text(e.get("hparams", {})), []).append(i)
    return list(groups.items())


def _embedding_spectrum(run: SavedRun, path: pathlib.Path) -> dict | None:
    """`<run>-embedding-spectrum.png` from the history's probes; None without them."""
    history, summary, cfg = run.history, run.summary, run.config
    if "probe/W_E/mu" not in history or not len(history["probe/step"]):
        return None
    entries = summary["seeds"][:draw.SPECTRUM_PANELS]
    log = ("probe/log/W_E/mu" in history
           and any(draw.shows_discrete_log(runs.member_task(cfg["task"], e), cfg["p"])
                   for e in entries))
    marks = [draw.phase_marks(e.get("phases"))
             + ([(e["grok_step"], *draw.EVENTS["grok"])] if e["grok_step"] >= 0 else [])
             for e in entries]
    return draw.embedding_spectrum(
        history, [_member_label(e) for e in summary["seeds"]],
        f"{runs.run_title(run)}: W_E's Fourier spectrum over training (norm per frequency)", path,
        bases=("additive", "multiplicative") if log else ("additive",),
        key_basis=key_basis(cfg, summary), marks=marks)


def _labels(loaded: list[SavedRun]) -> list[str]:
    """Column labels for the grok-step figure: the task and r, plus whatever else differs."""
    varying = [k for k in ("p", "seeds") if len({str(r.config[k]) for r in loaded}) > 1]
    names = [f"{r.config['task']}, r={r.config['train_fraction']}"
             + "".join(f", {k}={r.config[k]}" for k in varying) for r in loaded]
    if len(set(names)) < len(names):  # same settings: name the runs by their directories
        names = [f"{n}\n{r.dir.name}" for n, r in zip(names, loaded)]
    return names


def _spectra(run: SavedRun, seed: int | None, step: int | None, out: pathlib.Path,
             prefix: str) -> pathlib.Path | None:
    cfg = run.config
    if cfg["model"]["arch"] != "transformer" or cfg["p"] < 5:
        return None
    saved = run.restore(step)
    i, params = runs.member_params(saved.state.params, run.member_seeds, seed, str(run.dir))
    seed_i = run.member_seeds[i]
    path = out / f"{prefix}-spectra-seed{seed_i}-step{saved.step}.png"
    task = runs.member_task(cfg["task"], run.summary["seeds"][i])
    draw.spectra(params, cfg["p"], f"{runs.run_title(run)}; seed {seed_i}, step {saved.step}",
                 path, multiplicative=draw.shows_discrete_log(task, cfg["p"]))
    return path


def heatmap(summary: dict, x_axis: str, y_axis: str | None = None
            ) -> tuple[list, list, np.ndarray, np.ndarray]:
    """(x values, y values, median grok step [y, x] (nan where no member grokked), grokked
    fraction [y, x]) over the members of a grid run's summary (tables.grok_matrix), other
    axes and seeds pooled; without `y_axis`, one row."""
    entries = summary["seeds"]

    def value(e, axis):
        return e["hparams"][axis] if axis else 0.0

    xs = sorted({value(e, x_axis) for e in entries})
    ys = sorted({value(e, y_axis) for e in entries})
    cells: dict[tuple, list[dict]] = {}
    for e in entries:
        cells.setdefault((value(e, y_axis), value(e, x_axis)), []).append(e)
    med, frac = grok_matrix(cells, ys, xs)
    return xs, ys, med, frac


def _grid(summary: dict, name: str, path: pathlib.Path) -> None:
    axes = list(summary["grid"]["axes"])
    x_axis, y_axis = axes[0], (axes[1] if len(axes) > 1 else None)
    if "arm" in axes:  # grid.arms: one row of named settings, nothing pooled
        axes, x_axis, y_axis = ["arm"], "arm", None
    xs, ys, med, frac = heatmap(summary, x_axis, y_axis)
    extra = f"; pooled over {', '.join(axes[2:])}" if axes[2:] else ""
    draw.grid_heatmap(xs, ys, med, frac, x_axis, y_axis or "", f"{name}: median grok step"
                      f"{extra}", path)


def write(run_dirs: list[str | pathlib.Path], out: str | pathlib.Path | None = None,
          seed: int | None = None, step: int | None = None, spectra: bool = True
          ) -> list[pathlib.Path]:
    """Draws every figure of the runs in `run_dirs`; returns the paths written."""
    loaded = [runs.read_finished(r, "plot") for r in run_dirs]
    if out is None:
        out = (loaded[0].files.plots if len(loaded) == 1
               else RunFiles(loaded[0].dir.parent).plots)
    out = pathlib.Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for run in loaded:
        prefix, summary = run.dir.name, run.summary
        name = runs.run_title(run)
        marks = event_marks(summary)
        groups = setting_groups(summary)
        how = ("median per grid setting" if groups else "median") + ", min-max band, seeds thin"
        written.append(out / f"{prefix}-curves.png")
        draw.grokking_curves(run.history, f"{name}: grokking curves ({how})", written[-1],
                             marks, groups=groups)
        written.append(out / f"{prefix}-measures.png")
        draw.measure_curves(run.history, f"{name}: progress measures ({how})", written[-1],
                            marks, groups=groups)
        if "grid" in summary:
            written.append(out / f"{prefix}-grid.png")
            _grid(summary, name, written[-1])
        if _embedding_spectrum(run, out / f"{prefix}-embedding-spectrum.png") is not None:
            written.append(out / f"{prefix}-embedding-spectrum.png")
        if spectra:
            path = _spectra(run, seed, step, out, prefix)
            if path is not None:
                written.append(path)
    groups = [{"label": label, "grok_steps": [e["grok_step"] for e in r.summary["seeds"]]}
              for label, r in zip(_labels(loaded), loaded)]
    members = sum(n_members(r.summary) for r in loaded)
    written.append(out / "grok-steps.png")
    heading = (runs.run_title(loaded[0]) if len(loaded) == 1
               else f"{len(loaded)} runs, {members} seeds")
    draw.grok_steps(groups, f"{heading}: grok step of every seed", written[-1])
    return written
