"""The transfer matrix (the paper's Fig. 2 and Table 1): PG-E and PG-T from add, subtract and
multiply onto each downstream task.

    grokjax sweep experiments/sweep_transfer.py --backend slurm --profile configs/slurm_profile.toml
    grokjax sweep experiments/sweep_transfer.py:scratch            # also every target from scratch
    grokjax sweep experiments/sweep_transfer.py --only 'pretrain/add,pge-add/x_x_y' --seeds 2
    grokjax collect runs/transfer

Stage 0: pretrain/SOURCE, configs/arithmetic.py:SOURCE at r = 0.3 until every seed grokked
(at most 50,000 steps). Stage 1, after stage 0: MODE-SOURCE/TARGET for MODE pge (the source's
embedding, frozen) and pgt (its transformer blocks, frozen), each SOURCE and each of the 23
TARGETs (grokjax.tasks.TRANSFER_TARGETS), configs/transfer.py:MODE,SOURCE,TARGET from
ROOT/pretrain/SOURCE (target seed s from source seed s), up to 100,000 steps; with ARG
'scratch', also scratch/TARGET (no transfer). 3 seeds. Reproduces: PG-E(add) makes 2a+-b and
2a+-3b grok at r = 0.3; PG-T(multiply) does the same for ab+-b; PG-T(subtract) transfers to
nothing (paper.md). Time, 2-core CPU: 3 + 138 runs of 3 seeds at ~40 seed-steps/s, ~2 hours
per downstream run that never groks: days to weeks, a cluster sweep; one downstream task with
2 seeds is about an hour. One GPU: not measured here (no GPU was lent).
"""

from grokjax.launch.sweep import Run
from grokjax.tasks import TRANSFER_SOURCES, TRANSFER_TARGETS


def get_runs(arg=None):
    if arg not in (None, "scratch"):
        raise ValueError(f"the argument is 'scratch' or nothing, not {arg!r}")
    runs = [Run(f"pretrain/{s}", f"configs/arithmetic.py:{s}",
                {"train.stop_when_grokked": True, "train.steps": 50_000}, seeds=3)
            for s in TRANSFER_SOURCES]
    for mode in ("pge", "pgt"):
        runs += [Run(f"{mode}-{s}/{t}", f"configs/transfer.py:{mode},{s},{t}",
                     {"transfer.from_run": f"{{root}}/pretrain/{s}", "train.steps": 100_000},
                     seeds=3, stage=1)
                 for s in TRANSFER_SOURCES for t in TRANSFER_TARGETS]
    if arg == "scratch":
        runs += [Run(f"scratch/{t}", f"configs/transfer.py:pge,add,{t}",
                     {"transfer.from_run": "", "transfer.load": "", "transfer.freeze": "",
                      "train.steps": 100_000}, seeds=3)
                 for t in TRANSFER_TARGETS]
    return runs
