"""`grokjax plot RUN [RUN ...]`: the figures of finished runs, as PNG files.

Per run, from its history.npz and summary.json:

    <run>-curves.png      train and test accuracy and loss against step (log scale): the median
                          over seeds, a min-max band, every seed thin; median memorisation and
                          grok steps marked
    <run>-measures.png    the weight norm, FFD/FCR of W_E and W_L, restricted and excluded loss
                          (and Gini) against step, the same way, with the same marks
    <run>-spectra-seed<S>-step<N>.png
                          the Fourier spectra of W_E and W_L of one seed (--seed, default the
                          first) at one checkpoint (--step, default the latest); transformers
                          with p >= 5 only (it reads the checkpoint)

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

from grokjax.modular import is_prime
from grokjax.report import draw, runs
from grokjax.run import load_state
from grokjax.summary import grok_matrix, n_members


def event_marks(summary: dict) -> list[tuple[int, str, str]]:
    """The median memorisation and grok steps over the members that reached them."""
    marks = []
    for key, label, color in (("memorisation_step", "memorised (median)", "tab:gray"),
                              ("grok_step", "grokked (median)", "tab:green")):
        steps = [e[key] for e in summary["seeds"] if e[key] >= 0]
        if steps:
            marks.append((int(np.median(steps)), f"{label}, {len(steps)}/{len(summary['seeds'])}"
                          " seeds", color))
    return marks


def _labels(loaded: list[dict]) -> list[str]:
    """Column labels for the grok-step figure: the task and r, plus whatever else differs."""
    varying = [k for k in ("p", "seeds") if len({str(r["cfg"][k]) for r in loaded}) > 1]
    names = [f"{r['cfg']['task']}, r={r['cfg']['train_fraction']}"
             + "".join(f", {k}={r['cfg'][k]}" for k in varying) for r in loaded]
    if len(set(names)) < len(names):  # same settings: name the runs by their directories
        names = [f"{n}\n{r['dir'].name}" for n, r in zip(names, loaded)]
    return names


def _spectra(run: dict, seed: int | None, step: int | None, out: pathlib.Path,
             prefix: str) -> pathlib.Path | None:
    cfg = run["cfg"]
    if cfg["model"]["arch"] != "transformer" or cfg["p"] < 5:
        return None
    state, meta, exp = load_state(run["dir"], step)
    i, params = runs.member_params(state.params, exp.member_seeds, seed, str(run["dir"]))
    seed_i = exp.member_seeds[i]
    path = out / f"{prefix}-spectra-seed{seed_i}-step{meta['step']}.png"
    draw.spectra(params, cfg["p"], f"{run['title']}; seed {seed_i}, step {meta['step']}", path,
                 multiplicative=is_prime(cfg["p"]))
    return path


def heatmap(summary: dict, x_axis: str, y_axis: str | None = None
            ) -> tuple[list, list, np.ndarray, np.ndarray]:
    """(x values, y values, median grok step [y, x] (nan where no member grokked), grokked
    fraction [y, x]) over the members of a grid run's summary (summary.grok_matrix), other
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
        first = loaded[0]["dir"]
        out = first / "plots" if len(loaded) == 1 else first.parent / "plots"
    out = pathlib.Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for run in loaded:
        prefix, summary = run["dir"].name, run["summary"]
        name = run["title"] = runs.title(run["cfg"], n_members(summary), summary.get("grid"))
        marks = event_marks(summary)
        written.append(out / f"{prefix}-curves.png")
        draw.grokking_curves(run["history"], f"{name}: grokking curves (median, min-max band, "
                             "seeds thin)", written[-1], marks)
        written.append(out / f"{prefix}-measures.png")
        draw.measure_curves(run["history"], f"{name}: progress measures (median, min-max band, "
                            "seeds thin)", written[-1], marks)
        if "grid" in summary:
            written.append(out / f"{prefix}-grid.png")
            _grid(summary, name, written[-1])
        if spectra:
            path = _spectra(run, seed, step, out, prefix)
            if path is not None:
                written.append(path)
    groups = [{"label": label, "grok_steps": [e["grok_step"] for e in r["summary"]["seeds"]]}
              for label, r in zip(_labels(loaded), loaded)]
    members = sum(n_members(r["summary"]) for r in loaded)
    written.append(out / "grok-steps.png")
    heading = (loaded[0]["title"] if len(loaded) == 1
               else f"{len(loaded)} runs, {members} seeds")
    draw.grok_steps(groups, f"{heading}: grok step of every seed", written[-1])
    return written
