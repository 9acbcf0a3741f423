"""Every claim of experiments/claims.py that needs the papers' scale, as few programs as the
claims allow, cheapest and most decisive first (`python experiments/paper_scale.py` prints
what it will cost, then runs it; results land under experiments/results/paper/, which
`grokjax report` reads before the reduced runs).

    python experiments/paper_scale.py --plan                 # the plan and its cost, no training
    python experiments/paper_scale.py                        # train here, resuming what is there
    python experiments/paper_scale.py --backend slurm --profile configs/slurm_profile.toml

Stage 0, decisive and cheap on a GPU:
- paper/nanda_p113: Nanda's run, p = 113, r = 0.3, 6 seeds, 40,000 steps (his phases end at
  1.4k, 9.4k and 14k: the phases, Gini and measures rows need the full 40k);
- paper/nanda-fraction: the data-fraction rows, r = 0.1, 0.2, 0.5, 0.7 x 3 seeds, 40,000 steps;
- paper/frozen-random-embed/{add, subtract, multiply}: App. F, 3 seeds, 100,000 steps (the
  reference code's transfer budget);
- paper/mix-asm-r{0.3, 0.9}, paper/mix-squares-r0.3: section 8, 3 seeds, 50,000 steps.
Stage 1: paper/pretrain/{add, multiply, subtract}, the transfer sources (3 seeds, until every
seed grokked, at most 50,000 steps); Power et al.'s rows in his 2-layer model
(configs/power.py, 1e5 steps, 3 seeds): paper/power-s5 (S5 at 50%),
paper/power-division-fraction/r{0.27, 0.3} (division, the data-cost row) and
paper/power-division-wd/r{0.1, ..., 0.8} (each with and without weight decay); the methods' comparison
(configs/comparison.py) at Furuta's add mod 97 (paper/comparison-furuta, 9 arms x 16 seeds,
2e4 steps) and in Grokfast's own setting (paper/comparison-grokfast, 6 arms x 16 seeds, 5e4).
Stage 2: the transfer rows from them (PG-E(add) onto 2a+-b and 2a+-3b, PG-T(mul) onto ab+-b,
PG-T(sub) onto a-b and a+b), 3 seeds, 100,000 steps.
Stage 3: table_a5/r0.3 (Table A.5: 39 tasks x 3 seeds = 117 members, 300,000 steps, one
program) and paper/smallest-r (the eleven tasks at r = 0.4, 0.5, ..., 0.9, 3 seeds each,
300,000 steps), the most expensive.
"""

import pathlib

from grokjax.config.files import exec_file
from grokjax.launch.sweep import Run

CPU = exec_file(pathlib.Path(__file__).with_name("sweep_claims_cpu.py"))  # its transfer rows
A5 = exec_file(pathlib.Path(__file__).with_name("sweep_table_a5.py"))  # its tasks
SMALLEST_R_TASKS = ("x_x_y", "x_x_m_y", "2x_3y", "2x_m_3y", "xy_y", "xy_m_y", "x2_m_y",
                    "_x_m_y__3", "_x_m_y__4", "x2_xy_y2", "x3_xy")
CK = {"checkpoint.save_every": 2000, "checkpoint.keep": 3}
FULL = {"train.stop_when_grokked": False}  # the phases need the run past grokking


def get_runs(arg=None):
    del arg
    runs = [Run("paper/nanda_p113", "configs/nanda_p113.py",
                {**CK, **FULL, "train.steps": 40_000, "checkpoint.keep": 100}, seeds=6),
            Run("paper/nanda-fraction", "configs/nanda_p113.py",
                {**CK, **FULL, "train.steps": 40_000}, seeds=3,
                grid={"train_fraction": (0.1, 0.2, 0.5, 0.7)})]
    runs += [Run(f"paper/frozen-random-embed/{t}", f"configs/arithmetic.py:{t}",
                 {**CK, "train.steps": 100_000, "transfer.freeze": "embed",
                  "train.stop_when_grokked": True}, seeds=3)
             for t in ("add", "subtract", "multiply")]
    runs += [Run(name, f"configs/mixtures.py:{tasks}",
                 {**CK, "train.steps": 50_000, "train_fraction": r,
                  "train.stop_when_grokked": True}, seeds=3)
             for name, tasks, r in (("paper/mix-asm-r0.3", "add,subtract,multiply", 0.3),
                                    ("paper/mix-asm-r0.9", "add,subtract,multiply", 0.9),
                                    ("paper/mix-squares-r0.3", "x2_y2,x2_xy_y2,x2_2xy_y2", 0.3))]
    runs += [Run(f"paper/pretrain/{s}", f"configs/arithmetic.py:{s}",
                 {**CK, "train.steps": 50_000, "train.stop_when_grokked": True}, seeds=3,
                 stage=1) for s in ("add", "multiply", "subtract")]
    until = {"train.stop_when_grokked": True}
    # Power's minibatches rule out a train-fraction grid: a run per fraction, which the claims
    # read as one group (grokjax.report.claims.read_summary)
    runs += [Run("paper/power-s5", "configs/power.py:s5", until, seeds=3, stage=1)]
    runs += [Run(f"paper/power-division-fraction/r{r:g}", "configs/power.py:division",
                 {**until, "train_fraction": r}, seeds=3, stage=1) for r in (0.27, 0.3)]
    runs += [Run(f"paper/power-division-wd/r{r:g}", "configs/power.py:division",
                 {**until, "train_fraction": r}, seeds=3, grid={"weight_decay": (0.0, 1.0)},
                 stage=1) for r in (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8)]
    runs += [Run("paper/comparison-furuta", "configs/comparison.py:furuta", {}, stage=1),
             Run("paper/comparison-grokfast", "configs/comparison.py:grokfast", {}, stage=1)]
    runs += CPU.transfer_runs("paper/", {**CK, **FULL, "train.steps": 100_000}, seeds=3, stage=2)
    runs.append(Run("table_a5/r0.3", "configs/polynomials.py",
                    {**CK, "train_fraction": 0.3}, seeds=3, grid={"task": A5.TWO_VARIABLE},
                    stage=3))
    runs += [Run(f"paper/smallest-r/{t}", f"configs/polynomials.py:{t}",
                 {**CK, **FULL, "train.steps": 300_000}, seeds=3, stage=3,
                 grid={"train_fraction": (0.4, 0.5, 0.6, 0.7, 0.8, 0.9)})
             for t in SMALLEST_R_TASKS]
    return runs
