"""The mixtures (the paper's section 8, co-grokking): several tasks trained together.

    grokjax sweep experiments/sweep_mixtures.py
    grokjax sweep experiments/sweep_mixtures.py --backend slurm --profile configs/slurm_profile.toml
    grokjax collect runs/mixtures --plot

Runs: MIXTURE/rR for the arithmetic mixtures add+sub, add+mul, sub+mul and add+sub+mul, and
the polynomial mixture {a^2+b^2, a^2+ab+b^2, (a+b)^2}, each at r = 0.3, 0.5, 0.7 and 0.9
(configs/mixtures.py: one shared split, per-task metrics; a row grokks when every task has),
3 seeds, until every seed grokked or 50,000 steps. Reproduces: add+sub+mul co-groks only above
r = 0.3, multiplication last; the polynomial mixture makes a^2+ab+b^2 grok (paper.md). The
per-task grok steps are in each run's summary.json. Time, 2-core CPU: 20 runs; a mixture of T
tasks costs about T times a single task's step (~40/T seed-steps/s at r = 0.3): a day or two.
One GPU: not measured here (no GPU was lent).
"""

from grokjax.launch.sweep import Run

MIXTURES = {"add+sub": "add,subtract", "add+mul": "add,multiply",
            "sub+mul": "subtract,multiply", "add+sub+mul": "add,subtract,multiply",
            "squares": "x2_y2,x2_xy_y2,x2_2xy_y2"}
R_VALUES = (0.3, 0.5, 0.7, 0.9)


def get_runs(arg=None):
    del arg
    return [Run(f"{name}/r{r:g}", f"configs/mixtures.py:{tasks}",
                {"train_fraction": r, "train.stop_when_grokked": True}, seeds=3)
            for name, tasks in MIXTURES.items() for r in R_VALUES]
