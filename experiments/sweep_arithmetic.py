"""The paper's elementary arithmetic tasks (Table A.5's first rows) at r = 0.3, 3 seeds each.

    grokjax sweep experiments/sweep_arithmetic.py                       # here, one run at a time
    grokjax sweep experiments/sweep_arithmetic.py --set p=31 --seeds 2  # a small CPU version
    grokjax sweep experiments/sweep_arithmetic.py --backend slurm --profile configs/slurm_profile.toml
    grokjax collect runs/arithmetic --plot

Runs: add, subtract, multiply, division and multiply_non_zero mod 97 (configs/arithmetic.py),
each until every seed has grokked or 50,000 steps. Reproduces: all five grok at r = 0.3 (the
paper); add and multiply near 10k steps, subtract later. Time, 2-core CPU: p = 97 runs at ~40
seed-steps/s, so 5 runs x 3 seeds take 6 minutes per 1,000 steps, ~1-3 hours to grok (measured
rate; the grok steps vary by seed); the p = 31, 2-seed version: ~3 minutes (measured, see
README). One GPU: not measured here (no GPU was lent to this project's sessions).
"""

from grokjax.sweep import Run

TASKS = ("add", "subtract", "multiply", "division", "multiply_non_zero")


def get_runs(arg=None):
    del arg
    return [Run(task, f"configs/arithmetic.py:{task}",
                {"train_fraction": 0.3, "train.stop_when_grokked": True}, seeds=3)
            for task in TASKS]
