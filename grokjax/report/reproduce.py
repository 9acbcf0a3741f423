"""`grokjax report [CLAIMS]`: the papers' claims beside our results, as REPRODUCTION.md and
figures.

Reads a claims file (default experiments/claims.py: `CLAIMS`, a list of
`grokjax.report.claims.Claim`) and the finished runs under a results root (default
experiments/results/, where the small results of each run are committed: config.json,
summary.json, ...), and writes one table row per claim: source, statement, the paper's value and
scale, ours with our scale, and the verdict. A claim whose run is missing is listed as
"not run", never dropped. The counts of each verdict head the file, split by scale (our run as
long as the paper's, with as many seeds, or reduced) and by the seeds a verdict rests on, and
every verdict says its number of seeds.

Figures, written beside the report (FILE's stem + '-figures/') and linked from it:
- a matrix per figure name the claims place cells in (`Claim.cells`): 'table-a5' (tasks x r,
  coloured by grok step, grey with the best test accuracy where nothing grokked) and
  'transfer' (targets x transfer mode);
- with `SPECTRUM_FIGURE = [(run, [(task, label), ...]), ...]` in the claims file, Furuta's
  Fig. 8: FFD and FCR of W_E over training for those members of the runs;
- with `PHASES_FIGURE = (run, member)`, Nanda's Fig. 7 on that member with the phases found
  from the measures (tables.measure_phases; needs the run's final-keys.json);
- with `LU_FIGURE = run` (a weight_scale grid trained with the norm held), Omnigrok's Fig. 1(b):
  the final train and test loss against the weight norm.
"""

from __future__ import annotations

import collections
import os
import pathlib
import re

from grokjax.config import exec_file
from grokjax.errors import GrokjaxError
from grokjax.report import draw, runs
from grokjax.report.claims import (AGREES, CONSISTENT, DISAGREES, INCONCLUSIVE, NOT_RUN,
                                    Claim, evaluate, lu_points, placed, read_summary, selected,
                                    verdict_kind)
from grokjax.store import rundir
from grokjax.store.files import RunFiles
from grokjax.report.tables import measure_phases

VERDICTS = (AGREES, DISAGREES, CONSISTENT, INCONCLUSIVE, NOT_RUN)
MATRIX_TITLES = {"table-a5": "Furuta Table A.5: grok step by task and train fraction r",
                 "transfer": "Furuta Fig. 2 / Table 1: transfer onto each target at r = 0.3"}


def load_claims(path: str | pathlib.Path) -> tuple[list[Claim], object]:
    """The claims file's CLAIMS, and the file's namespace (for its figure settings)."""
    path = pathlib.Path(path)
    if not path.is_file():
        raise GrokjaxError(f"claims file {path} not found; give one such as experiments/claims.py")
    module = exec_file(path)
    claims = getattr(module, "CLAIMS", None)
    if not claims or not all(isinstance(c, Claim) for c in claims):
        raise GrokjaxError(f"{path} must define CLAIMS, a list of grokjax.report.claims.Claim")
    return list(claims), module


def kind(row: dict) -> str:
    """A row's verdict without its reason: one of VERDICTS."""
    return verdict_kind(row["verdict"])


def counted(rows: list[dict]) -> list[dict]:
    """One row per claim of the papers (rows of the same claim at several scales:
    `Claim.same_as`): the one at the paper's scale, else the largest run (member-steps), else
    a row not run. A question the papers do not test (`Claim.papers` False) is not counted."""
    best: dict[str, tuple[tuple, dict]] = {}  # claim -> (its ranking, its row)
    for r in rows:
        if not r["papers"]:
            continue
        key = (kind(r) != NOT_RUN, r["at_paper_scale"] is True, r["member_steps"])
        if r["claim"] not in best or key > best[r["claim"]][0]:
            best[r["claim"]] = (key, r)
    return [r for _, r in best.values()]


def headline(rows: list[dict]) -> list[str]:
    """The counts of each verdict over the claims (a claim run at several scales counts once,
    by `counted`), then a table of them by scale and by seeds."""
    beyond = sum(not r["papers"] for r in rows)
    rows = counted(rows)
    counts = collections.Counter(kind(r) for r in rows)
    ran = [r for r in rows if kind(r) != NOT_RUN]
    columns = [("paper's scale", lambda r: r["at_paper_scale"] is True),
               ("reduced scale", lambda r: r["at_paper_scale"] is False),
               ("scale unknown", lambda r: r["at_paper_scale"] is None),
               ("1 seed", lambda r: r["seeds"] == 1), ("2 seeds", lambda r: r["seeds"] == 2),
               ("3+ seeds", lambda r: r["seeds"] >= 3)]
    lines = [f"Verdicts of {len(rows)} claims (a claim in several rows, at several scales, "
             "counts once, by its largest run): "
             + ", ".join(f"{counts[v]} {v}" for v in VERDICTS if counts[v]) + "."
             + (f" Not counted: {beyond} row{'s' * (beyond != 1)} on a question the papers do "
                "not test (their 'paper' column says so)." if beyond else ""),
             "", "| verdict | " + " | ".join(c for c, _ in columns) + " |",
             "|---|" + "---:|" * len(columns)]
    for v in VERDICTS[:-1]:
        of = [r for r in ran if kind(r) == v]
        lines.append(f"| {v} | " + " | ".join(str(sum(map(test, of))) for _, test in columns)
                     + " |")
    return lines


def markdown(rows: list[dict], title: str, results: str, figures: list[str]) -> str:
    lines = [f"# {title}", "",
             f"Generated by `grokjax report` from the runs under {results}/ (rebuild it with "
             "the same command); do not edit by hand.", "", *headline(rows), "",
             "A claim that something does not happen agrees only at the paper's budget (or "
             "where a comparable task the paper says groks grokked in the same run); within a "
             "shorter one it is consistent so far, as it is at any length where the claim names "
             "such a control and the control did not grok. Each verdict gives the seeds it "
             "rests on.", "",
             "| claim | source | statement | paper | paper's scale | ours | our scale | verdict | "
             "what would settle it |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if kind(r) == NOT_RUN:
            seeds = ""
        elif r["seeds"] == r["run_seeds"]:
            seeds = f" [{runs.seeds_text(r['seeds'])}]"
        else:  # a rule on some of the members (e.g. the grokked ones)
            seeds = f" [{r['seeds']} of {runs.seeds_text(r['run_seeds'])}]"
        lines.append("| " + " | ".join(str(r[k]).replace("|", "/") for k in (
            "id", "source", "statement", "paper", "paper_scale", "ours", "scale")) + " | "
            + (r["verdict"] + seeds).replace("|", "/") + f" | {r.get('settle', '')} |")
    if figures:
        lines += ["", "## Figures", ""] + [f"![{pathlib.Path(f).stem}]({f})" for f in figures]
    return "\n".join(lines) + "\n"


def _numbers_by_value(label: str) -> list:
    """A sort key that orders the numbers in a column label by value: 'r=0.3, 8k steps'
    before 'r=0.3, 16k steps'."""
    return [float(t) if i % 2 else t for i, t in enumerate(re.split(r"(\d+(?:\.\d+)?)", label))]


def _matrices(claims: list[Claim], results: pathlib.Path, out: pathlib.Path) -> list[pathlib.Path]:
    """One outcome matrix per figure name; rows and columns in the claims' order (columns
    sorted, their numbers by value), a cell a claim placed but whose run is missing drawn as
    'not run'."""
    layout: dict[str, tuple[dict, dict]] = {}
    cells: dict[str, dict] = collections.defaultdict(dict)
    for claim in claims:
        for figure, row, col in claim.cells:
            rows, cols = layout.setdefault(figure, ({}, {}))
            rows.setdefault(row, None)
            if "{r}" not in col:
                cols.setdefault(col, None)
        for (figure, row, col), cell in placed(claim, results):
            layout[figure][1].setdefault(col, None)
            cells[figure][(row, col)] = cell
    paths = []
    for figure, (rows, cols) in layout.items():
        path = out / f"{figure}.png"
        draw.outcome_matrix(list(rows), sorted(cols, key=_numbers_by_value), cells[figure],
                            MATRIX_TITLES.get(figure, figure), path)
        paths.append(path)
    return paths


def _spectrum_figure(spec, results: pathlib.Path, out: pathlib.Path) -> list[pathlib.Path]:
    """Fig. 8 from the members of one or more runs ([(run, members), ...]; the title gives
    the first run's p and r)."""
    curves, first = [], None
    for run, members in spec:
        summary = read_summary(results / run)
        if summary is None:
            continue
        first = first or summary
        history = rundir.read_npz(RunFiles(results / run).history)
        for task, label in members:
            for e in selected(summary, {"task": task})[:1]:
                i = summary["seeds"].index(e)
                curves.append({"label": label, "steps": history["probe/step"],
                               "ffd": history["probe/ffd/W_E"][i],
                               "fcr": history["probe/fcr/W_E"][i], "grok_step": e["grok_step"]})
    if first is None:
        return []
    path = out / "fig8-ffd-fcr.png"
    runs = ", ".join(r for r, _ in spec)
    draw.spectrum_patterns(curves, f"Furuta Fig. 8: FFD and FCR of W_E ({runs}; p = "
                           f"{first['p']}, r = {first['train_fraction']})", path)
    return [path]


def _phases_figure(spec, results: pathlib.Path, out: pathlib.Path) -> list[pathlib.Path]:
    run, i = spec
    over = rundir.read_json(RunFiles(results / run).final_keys, default=None)
    summary = read_summary(results / run)
    if over is None or summary is None:
        return []
    history = rundir.read_npz(RunFiles(results / run).history)
    phases = measure_phases(history, over, i)
    path = out / "nanda-phases.png"
    draw.measure_phases(history, over, i, phases, f"Nanda Fig. 7 on {run}, member {i} (seed "
                        f"{summary['seeds'][i]['seed']}): phases from the measures", path)
    return [path]


def _lu_figure(run: str, results: pathlib.Path, out: pathlib.Path) -> list[pathlib.Path]:
    summary = read_summary(results / run)
    if summary is None:
        return []
    alphas, train, test, _ = lu_points(summary["seeds"], summary)
    path = out / "omnigrok-lu.png"
    draw.lu_landscape(alphas, train, test, f"Omnigrok's LU on {run} (p = {summary['p']}, r = "
                      f"{summary['train_fraction']}, {summary['steps']} steps, no weight decay)",
                      path)
    return [path]


def write(claims_file: str | pathlib.Path, results: str | pathlib.Path,
          out: str | pathlib.Path, title: str = "Reproduction") -> list[dict]:
    """Evaluates every claim, draws the figures and writes the markdown report; returns its
    rows."""
    results, out = pathlib.Path(results), pathlib.Path(out)
    claims, module = load_claims(claims_file)
    rows = [evaluate(c, results) for c in claims]
    fig_dir = out.with_name(out.stem + "-figures")
    fig_dir.mkdir(parents=True, exist_ok=True)
    figures = _matrices(claims, results, fig_dir)
    if getattr(module, "SPECTRUM_FIGURE", None):
        figures += _spectrum_figure(module.SPECTRUM_FIGURE, results, fig_dir)
    if getattr(module, "PHASES_FIGURE", None):
        figures += _phases_figure(module.PHASES_FIGURE, results, fig_dir)
    if getattr(module, "LU_FIGURE", None):
        figures += _lu_figure(module.LU_FIGURE, results, fig_dir)
    links = [pathlib.Path(os.path.relpath(f, out.parent)).as_posix() for f in figures]
    out.write_text(markdown(rows, title, str(results), links))
    return rows
