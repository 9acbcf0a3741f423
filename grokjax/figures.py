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

from grokjax import rundir
from grokjax.errors import GrokjaxError


def _read(run: pathlib.Path) -> dict:
    for name in ("config.json", "history.npz", "summary.json"):
        if not (run / name).is_file():
            raise GrokjaxError(f"{run} has no {name}: plot needs a finished grokjax run (train it "
                               "to its end, or resume it with `grokjax train CONFIG --workdir "
                               f"{run}`)")
    return {"dir": run, "cfg": rundir.read_json(run / "config.json"),
            "history": rundir.read_npz(run / "history.npz"),
            "summary": rundir.read_json(run / "summary.json")}


def title(cfg: dict, n_seeds: int, grid: dict | None = None) -> str:
    """'task add, p=97, r=0.3, 4 seeds'; for a grid run (summary['grid']), its axes instead of
    the values they replace, and the seeds per setting."""
    if not grid:
        return (f"task {cfg['task']}, p={cfg['p']}, r={cfg['train_fraction']}, "
                f"{n_seeds} seed{'s' * (n_seeds != 1)}")
    axes = grid["axes"]
    per = n_seeds // max(len(grid["cells"]), 1)
    r = "" if "train_fraction" in axes else f", r={cfg['train_fraction']}"
    return (f"task {cfg['task']}, p={cfg['p']}{r}, grid {' x '.join(axes)} "
            f"({len(grid['cells'])} settings x {per} seed{'s' * (per != 1)})")


def event_marks(summary: dict) -> list[tuple[int, str, str]]:
    """The median memorisation and grok steps over the seeds that reached them."""
    marks = []
    for key, label, color in (("memorisation_step", "memorised (median)", "tab:gray"),
                              ("grok_step", "grokked (median)", "tab:green")):
        steps = [e[key] for e in summary["seeds"] if e[key] >= 0]
        if steps:
            marks.append((int(np.median(steps)), f"{label}, {len(steps)}/{len(summary['seeds'])}"
                          " seeds", color))
    return marks


def _labels(runs: list[dict]) -> list[str]:
    """Column labels for the grok-step figure: the task and r, plus whatever else differs."""
    varying = [k for k in ("p", "seeds") if len({str(r["cfg"][k]) for r in runs}) > 1]
    names = [f"{r['cfg']['task']}, r={r['cfg']['train_fraction']}"
             + "".join(f", {k}={r['cfg'][k]}" for k in varying) for r in runs]
    if len(set(names)) < len(names):  # same settings: name the runs by their directories
        names = [f"{n}\n{r['dir'].name}" for n, r in zip(names, runs)]
    return names


def _spectra(run: dict, seed: int | None, step: int | None, out: pathlib.Path,
             prefix: str) -> pathlib.Path | None:
    cfg = run["cfg"]
    if cfg["model"]["arch"] != "transformer" or cfg["p"] < 5:
        return None
    import jax  # pylint: disable=import-outside-toplevel
    from grokjax import plots, tasks  # pylint: disable=import-outside-toplevel
    from grokjax.run import load_state  # pylint: disable=import-outside-toplevel
    state, meta, exp = load_state(run["dir"], step)
    if seed is not None and seed not in exp.seeds:
        raise GrokjaxError(f"--seed {seed} is not a seed of {run['dir']} ({exp.seeds})")
    i = exp.seeds.index(seed) if seed is not None else 0
    params = jax.tree.map(lambda x: np.asarray(x)[i], jax.device_get(state.params))
    path = out / f"{prefix}-spectra-seed{exp.seeds[i]}-step{meta['step']}.png"
    plots.spectra(params, cfg["p"], f"{run['title']}; seed {exp.seeds[i]}, step "
                  f"{meta['step']}", path, multiplicative=tasks.is_prime(cfg["p"]))
    return path


def _grid(summary: dict, name: str, path: pathlib.Path) -> None:
    from grokjax import grid as grid_lib, plots  # pylint: disable=import-outside-toplevel
    axes = list(summary["grid"]["axes"])
    x_axis, y_axis = axes[0], (axes[1] if len(axes) > 1 else None)
    xs, ys, med, frac = grid_lib.heatmap(summary, x_axis, y_axis)
    extra = f"; pooled over {', '.join(axes[2:])}" if axes[2:] else ""
    plots.grid_heatmap(xs, ys, med, frac, x_axis, y_axis or "", f"{name}: median grok step"
                       f"{extra}", path)


def write(runs: list[str | pathlib.Path], out: str | pathlib.Path | None = None,
          seed: int | None = None, step: int | None = None, spectra: bool = True
          ) -> list[pathlib.Path]:
    """Draws every figure of `runs`; returns the paths written."""
    from grokjax import plots  # pylint: disable=import-outside-toplevel  (matplotlib)
    loaded = [_read(pathlib.Path(r)) for r in runs]
    if out is None:
        first = loaded[0]["dir"]
        out = first / "plots" if len(loaded) == 1 else first.parent / "plots"
    out = pathlib.Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for run in loaded:
        prefix, summary = run["dir"].name, run["summary"]
        name = run["title"] = title(run["cfg"], summary["n_seeds"], summary.get("grid"))
        marks = event_marks(summary)
        written.append(out / f"{prefix}-curves.png")
        plots.grokking_curves(run["history"], f"{name}: grokking curves (median, min-max band, "
                              "seeds thin)", written[-1], marks)
        written.append(out / f"{prefix}-measures.png")
        plots.measure_curves(run["history"], f"{name}: progress measures (median, min-max band, "
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
    n_seeds = sum(r["summary"]["n_seeds"] for r in loaded)
    written.append(out / "grok-steps.png")
    heading = (loaded[0]["title"] if len(loaded) == 1
               else f"{len(loaded)} runs, {n_seeds} seeds")
    plots.grok_steps(groups, f"{heading}: grok step of every seed", written[-1])
    return written
