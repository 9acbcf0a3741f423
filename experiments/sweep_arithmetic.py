"""The paper's elementary arithmetic tasks (Table A.5's first rows) at r = 0.3, 3 seeds each.

    grokjax sweep experiments/sweep_arithmetic.py                       # here, one run at a time
    grokjax sweep experiments/sweep_arithmetic.py --backend slurm --profile configs/slurm_profile.toml
    grokjax collect runs/arithmetic --plot
    # a small CPU version (p = 31 needs more data and the quick config's lr x wd to grok):
    grokjax sweep experiments/sweep_arithmetic.py --set p=31 --set train_fraction=0.5 \
        --set optim.lr=3e-3 --set optim.weight_decay=3 --set train.steps=10000 --seeds 2

Runs: add, subtract, multiply, division and multiply_non_zero mod 97 (configs/arithmetic.py),
each until every seed has grokked or 50,000 steps. Reproduces: all five grok at r = 0.3 (the
paper); add and multiply near 10k steps, subtract later. Time, 2-core CPU: p = 97 runs at ~40
seed-steps/s, so 5 runs x 3 seeds take 6 minutes per 1,000 steps, ~1-3 hours to grok (from the
measured rate; the grok steps vary by seed). The small version took 6 min 13 s (measured; add
1/2, multiply 2/2, multiply_non_zero 2/2 grokked, subtract and division not within 10,000
steps: README, Measured). One GPU: not measured here (no GPU was lent to this project's
sessions).
"""

from grokjax.launch.sweep import Run

TASKS = ("add", "subtract", "multiply", "division", "multiply_non_zero")


def get_runs(arg=None):
    del arg
    return [Run(task, f"configs/arithmetic.py:{task}",
                {"train_fraction": 0.3, "train.stop_when_grokked": True}, seeds=3)
            for task in TASKS]
