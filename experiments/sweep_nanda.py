"""Nanda et al.'s p = 113 modular addition across train fractions, as one vmapped grid.

    grokjax sweep experiments/sweep_nanda.py
    grokjax sweep experiments/sweep_nanda.py --backend slurm --gpus-per-task 1 --time 4:00:00
    grokjax collect runs/nanda --plot

One run, configs/nanda_p113.py (Nanda's model and optimiser; his shared split, so seeds differ
in their init only) with the train fraction a grid axis: r = 0.2, 0.3, ..., 0.8 x 3 seeds = 21
members trained as one compiled program (grokjax/grid.py), 40,000 steps. Reproduces: r = 0.3
groks near step 10k (his headline run); larger r groks sooner, and the smallest fractions
memorise without grokking in this budget (the data-fraction dependence of Power et al. and
Omnigrok). Time, 2-core CPU: the padded grid costs about 7 runs at r = 0.8 (~90 ms per member
step at p = 113): ~20 hours, a cluster or GPU run. One GPU: not measured here (no GPU was lent).
"""

from grokjax.launch.sweep import Run


def get_runs(arg=None):
    del arg
    return [Run("p113", "configs/nanda_p113.py", seeds=3,
                grid={"train_fraction": (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)})]
