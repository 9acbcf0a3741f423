"""`grokjax compare RUN`: the arms of a comparison (`grid.arms`, configs/comparison.py) against
a baseline, with paired confidence intervals over seeds (grokjax.report.speedup), written to
RUN/comparison.md and RUN/comparison.json."""

from __future__ import annotations

import pathlib

from grokjax.report import runs
from grokjax.report.speedup import LEVEL, N_BOOT, arms, compare, table
from grokjax.store import rundir
from grokjax.store.files import RunFiles


def write(run_dir: str | pathlib.Path, baseline: str = "adamw") -> str:
    """Reads a finished run, writes RUN/comparison.md and .json, returns the table."""
    run = runs.read_finished(run_dir, "compare")
    rows = compare(arms(run.summary, run.history), baseline)
    text = table(rows, baseline, int(run.summary["steps"]))
    files = RunFiles(run_dir)
    rundir.write_json(files.comparison("json"), {"baseline": baseline, "level": LEVEL,
                                                 "n_boot": N_BOOT, "rows": rows})
    files.comparison("md").write_text(
        f"# {runs.run_title(run)}: arms against {baseline}\n\n"
        f"{int(run.summary['steps'])} steps; grok step = first test accuracy >= the run's "
        f"threshold; censored members at the run's length; {LEVEL:.0%} paired bootstrap "
        f"intervals over seeds ({N_BOOT:,} draws).\n\n{text}\n")
    return text
