"""The polynomial table (the paper's Table A.5): every two-variable task at r = 0.3 ... 0.9.

    grokjax sweep experiments/sweep_polynomials.py --backend slurm --profile configs/slurm_profile.toml
    grokjax sweep experiments/sweep_polynomials.py --only 'x2_y2/*,x_x_y/*'       # two tasks
    grokjax sweep experiments/sweep_polynomials.py:0.3                             # one r
    grokjax collect runs/polynomials --plot        # grok steps, tasks by r

Runs: TASK/rR for each of the 36 two-variable polynomials of `grokjax tasks` (input
[x, '=', y], p = 97; the reference's 19 plus a^n+b^n, (a+b)^n, (a-b)^n up to n = 7) and each r
in 0.3, 0.4, ..., 0.9 (or only the r given as ARG), 3 seeds, until every seed grokked or
300,000 steps (configs/polynomials.py). Reproduces: at r = 0.3 the factorisable polynomials
grok and those with cross terms do not; the smallest r that groks (2a+b 0.5, 2a-b 0.4, ab+-b
0.5, a^2+ab+b^2 0.8, a^3+ab 0.9, ...; paper.md). Time, 2-core CPU: 252 runs; a run that groks
by 10k steps takes ~15-30 minutes, one that never groks up to ~6 hours at r = 0.3 and ~13 at
r = 0.9 (from the measured rates: ~40 seed-steps/s at r = 0.3, ~19 at r = 0.7): weeks on one
CPU, so this is a cluster sweep. One GPU: not measured here (no GPU was lent).
"""

from grokjax.launch.sweep import Run
from grokjax.tasks import GROK_ONLY, TASKS

R_VALUES = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
POLYNOMIALS = tuple(name for name, t in TASKS.items()
                    if t.arity == 2 and t.op == "=" and name not in GROK_ONLY)


def get_runs(arg=None):
    rs = (float(arg),) if arg else R_VALUES
    return [Run(f"{task}/r{r:g}", f"configs/polynomials.py:{task}", {"train_fraction": r},
                seeds=3) for task in POLYNOMIALS for r in rs]
