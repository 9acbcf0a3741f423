"""The claim groups of experiments/claims.py that the 2-core CPU affords, at the scale of the
committed results (experiments/results/README.md): one seed each, p = 97, r = 0.3 unless said.

    grokjax sweep experiments/sweep_claims_cpu.py --root runs/claims
    grokjax sweep experiments/sweep_claims_cpu.py --root runs/claims --only 'pretrain/*'

Stage 0:
- pretrain/{add, multiply, subtract}: 10k, 10k and 30k steps; Table A.4, and the transfer
  sources;
- omnigrok-constrained: Nanda's p = 113 model, alpha = 0.8, no weight decay, norm held;
- omnigrok-lu: the same at alpha = 0.25-3 (a weight_scale grid, 3 seeds, 3,000 steps): the
  train and test loss on each norm sphere, Omnigrok's L and U;
- mix-asm-r0.3, mix-asm-r0.9, mix-squares-r0.3: section 8's mixtures;
- frozen-random-embed/{add, subtract, multiply}: App. F;
- smallest-r/x_x_y: 2a+b at r = 0.4, 0.5, 0.6;
- fig8-xy_y-r0.5: ab+b at r = 0.5, its smallest grokking r (Fig. 8's "both fall" row);
- nanda-fraction-low, nanda-fraction-high: p = 113 at r = 0.1 and 0.2 (1 seed, Nanda's 40,000
  steps: small train sets, cheap steps; 5,547 s beside other runs, neither grokked), and at
  r = 0.5 and 0.7 (3 seeds, up to 10,000 steps, stopping once all grok).

Stage 1, from pretrain/: pge-add/{2a+-b, 2a+-3b, a-b}, pge-mul/{a+b, a-b}, pgt-add/{ab, a-b},
pgt-mul/{ab+-b, a+b, a-b}, pge-sub/{a+b} and pgt-sub/{a-b, a+b} (Fig. 2's elementary
arithmetic among them), and four cells of Table 1: pgt-add/{2a+b, (a+b)^3}, pge-add/(a+b)^3,
pge-sub/2a-b.

experiments/sweep_claims_cpu.py:3seeds: transfer-3seeds/, add's, multiply's (10k steps) and
subtract's (30k) pretraining on 3 seeds and, each on 3 seeds, PG-E(add) to a-b, 2a+-b, 2a+-3b,
(a+b)^3, PG-T(add) to ab, 2a+b, a-b, (a+b)^3, PG-T(mul) to ab+-b, a+b, a-b, PG-E(mul) to a+b,
PG-T(sub) to a-b, a+b and PG-E(sub) to a+b, 2a-b from them, 10k steps each but PG-E(mul) a-b
(40k), PG-E(sub) 2a-b and PG-E(add) (a+b)^3 (16k).

experiments/sweep_claims_cpu.py:3seeds-40k: transfer-3seeds-40k/, subtract's pretraining for
the reference's 40k steps on 3 seeds (the :3seeds run extended: the same command resumes it),
and PG-T(sub) to a-b and a+b from it.

experiments/sweep_claims_cpu.py:fig8-15: fig8-15seeds/{add, multiply}, Fig. 8's a+b and ab
rows on 15 seeds, a number fixed before the runs (2026-12-08) after 9 seeds left a+b
inconclusive and ab agreeing by the smallest share the rule accepts: the rows read these 15,
whatever they say, and ask for no more.

Measured on this CPU (one run per core): 400-1,700 s per 8,000-10,000-step run of one seed,
2,500 s for the three-member r grid. The r = 0.9 mixture runs at about 1 step/s. :3seeds'
subtraction: 3,999 s for the 30,000 steps of its 3 seeds, 124-1,329 s per transfer from it
(experiments/results/README.md, transfer-3seeds). PG-E(add) (a+b)^3's 16,000 steps: 3,584 s
beside three other runs, none of 3 seeds grokked (87.7-93.6%); PG-T(sub) a+b from the 40k
source: 2,388 s, best 70.9-74.5%. PG-T(add) a-b, (a+b)^3 and PG-T(mul) a-b: 3,229 s, 3,202 s
and 2,630 s beside three to five other runs, none of 9 members grokked (best 13-59%, and one
PG-T(mul) a-b seed at 95.2%); PG-E(mul) a-b from 28,000 to 40,000 steps: 4,171 s, still at
chance.
"""

import dataclasses

from grokjax.errors import GrokjaxError
from grokjax.launch.sweep import Run

CK = {"checkpoint.save_every": 1000, "checkpoint.keep": 100}
FIXED = {"train.stop_when_grokked": False}


def get_runs(arg=None):
    if arg == "3seeds":
        return three_seed_runs()
    if arg == "3seeds-40k":
        return subtract_40k_runs()
    if arg == "fig8-15":
        return [Run(f"fig8-15seeds/{task}", "configs/polynomials.py",
                    {"task": task, "train_fraction": 0.3, "train.steps": 8000,
                     "train.stop_when_grokked": True}, seeds=15)
                for task in ("add", "multiply")]
    if arg:
        raise GrokjaxError(f"experiments/sweep_claims_cpu.py:{arg}: the argument is '3seeds', "
                           "'3seeds-40k', 'fig8-15' or nothing")
    runs = [Run("pretrain/add", "configs/arithmetic.py:add", {**CK, "train.steps": 10_000},
                seeds=1),
            Run("pretrain/multiply", "configs/arithmetic.py:multiply",
                {**CK, "train.steps": 10_000}, seeds=1),
            Run("pretrain/subtract", "configs/arithmetic.py:subtract",
                {**CK, "checkpoint.save_every": 2000, "train.steps": 30_000}, seeds=1),
            Run("omnigrok-constrained", "configs/nanda_p113.py",
                {**CK, "train.steps": 5000, "model.weight_scale": 0.8,
                 "optim.weight_decay": 0.0, "optim.constrain_norm": True}, seeds=1),
            Run("omnigrok-lu", "configs/nanda_p113.py",
                {**CK, **FIXED, "train.steps": 3000, "optim.weight_decay": 0.0,
                 "optim.constrain_norm": True}, seeds=3,
                grid={"weight_scale": (0.25, 0.4, 0.6, 0.8, 1.0, 1.5, 2.0, 3.0)}),
            Run("mix-asm-r0.3", "configs/mixtures.py:add,subtract,multiply",
                {**CK, "train.steps": 8000, "train_fraction": 0.3}, seeds=1),
            Run("mix-asm-r0.9", "configs/mixtures.py:add,subtract,multiply",
                {**CK, "train.steps": 8000, "train_fraction": 0.9,
                 "train.stop_when_grokked": True}, seeds=1),
            Run("mix-squares-r0.3", "configs/mixtures.py:x2_y2,x2_xy_y2,x2_2xy_y2",
                {**CK, "train.steps": 8000, "train_fraction": 0.3}, seeds=1),
            Run("smallest-r/x_x_y", "configs/polynomials.py:x_x_y",
                {**CK, **FIXED, "train.steps": 8000}, seeds=1,
                grid={"train_fraction": (0.4, 0.5, 0.6)}),
            Run("fig8-xy_y-r0.5", "configs/polynomials.py:xy_y",
                {**CK, **FIXED, "train.steps": 8000, "train_fraction": 0.5}, seeds=1),
            Run("nanda-fraction-low", "configs/nanda_p113.py",
                {**CK, **FIXED, "train.steps": 40_000}, seeds=1,
                grid={"train_fraction": (0.1, 0.2)}),
            Run("nanda-fraction-high", "configs/nanda_p113.py",
                {**CK, "train.steps": 10_000, "train.stop_when_grokked": True}, seeds=3,
                grid={"train_fraction": (0.5, 0.7)})]
    runs += [Run(f"frozen-random-embed/{t}", f"configs/arithmetic.py:{t}",
                 {**CK, "train.steps": 8000, "transfer.freeze": "embed"}, seeds=1)
             for t in ("add", "subtract", "multiply")]
    return runs + transfer_runs("", {**CK, **FIXED, "train.steps": 8000}, seeds=1, stage=1)


# the transfer rows of experiments/claims.py: (mode, source, targets)
TRANSFERS = (("pge", "add", ("x_x_y", "x_x_m_y", "2x_3y", "2x_m_3y", "subtract", "_x_y__3")),
             ("pge", "multiply", ("add", "subtract")),
             ("pgt", "add", ("multiply", "subtract", "x_x_y", "_x_y__3")),
             ("pgt", "multiply", ("xy_y", "xy_m_y", "add", "subtract")),
             ("pge", "subtract", ("add", "x_x_m_y")),
             ("pgt", "subtract", ("subtract", "add")))


# a source's name in a transfer run's: pge-mul/add
SHORT = {"add": "add", "multiply": "mul", "subtract": "sub"}


def transfer_runs(prefix: str, overrides: dict, seeds: int, stage: int) -> list[Run]:
    """PREFIXMODE-SOURCE/TARGET for every transfer row, from PREFIXpretrain/SOURCE (also used
    by experiments/sweep_paper_scale.py)."""
    return [Run(f"{prefix}{mode}-{SHORT[source]}/{t}", f"configs/transfer.py:{mode},{source},{t}",
                {**overrides, "transfer.from_run": f"{{root}}/{prefix}pretrain/{source}"},
                seeds=seeds, stage=stage)
            for mode, source, targets in TRANSFERS for t in targets]


# transfer-3seeds (experiments/sweep_claims_cpu.py:3seeds): add's, multiply's and subtract's
# pretraining on 3 seeds and the transfers from them that the 1-seed rows left least settled
# (PG-T(mul)'s three that agree on 1 seed, PG-E(mul) a+b, which hurts on 1 seed, the four
# from subtraction, PG-T(sub) a-b among them, which disagrees on 1 seed, and the three "does
# not grok" rows of PG-T(add) a-b, (a+b)^3 and PG-T(mul) a-b), each stopping once every seed
# groks
THREE_SEEDS = (("pge", "add",
                ("subtract", "x_x_m_y", "2x_3y", "x_x_y", "2x_m_3y", "_x_y__3")),
               ("pgt", "add", ("multiply", "x_x_y", "subtract", "_x_y__3")),
               ("pgt", "multiply", ("xy_y", "xy_m_y", "add", "subtract")),
               ("pge", "multiply", ("add", "subtract")),
               ("pgt", "subtract", ("subtract", "add")),
               ("pge", "subtract", ("add", "x_x_m_y")))


# transfers whose from-scratch control groks late, run past the 10,000 steps of the others:
# PG-E(mul) a-b "hurts" only if it has not grokked by subtraction's own grok steps (19,480
# and 26,060 on 3 seeds, the third not by 40,000: so to 40k, the control's own length);
# PG-E(sub) 2a-b was at 98.6-98.9% in 2 of 3 seeds, still rising, at 10k; PG-E(add) (a+b)^3
# was at 91.1% on 1 seed, still rising, at 8k
LONGER = {"pge-mul/subtract": 40_000, "pge-sub/x_x_m_y": 16_000, "pge-add/_x_y__3": 16_000}


def three_seed_runs() -> list[Run]:
    return _three_seeds("transfer-3seeds/", {"add": 10_000, "multiply": 10_000,
                                             "subtract": 30_000}, THREE_SEEDS, LONGER)


def subtract_40k_runs() -> list[Run]:
    """transfer-3seeds-40k/: subtraction's pretraining for the reference's 40,000 steps
    (paper.md: its pt_sub_p97_03 checkpoint is step 40000), 3 seeds, and PG-T(sub) to a-b (the
    row that disagrees from the 30k source) and to a+b from it; the same runs as :3seeds' but
    for the source's length."""
    return _three_seeds("transfer-3seeds-40k/", {"subtract": 40_000},
                        (("pgt", "subtract", ("subtract", "add")),))


def _three_seeds(prefix: str, sources: dict[str, int], rows, longer=None) -> list[Run]:
    """PREFIXpretrain/SOURCE for each source (its steps), 3 seeds, and the transfers of `rows`
    ((mode, source, targets) as THREE_SEEDS) from them: 10,000 steps, or `longer`'s for a run
    named there (MODE-SOURCE/TARGET)."""
    longer = longer or {}
    wanted = {f"{mode}-{SHORT[source]}/{t}" for mode, source, targets in rows for t in targets}
    pretrain = [Run(f"{prefix}pretrain/{source}", f"configs/arithmetic.py:{source}",
                    {"checkpoint.save_every": 5000, "train.steps": steps}, seeds=3)
                for source, steps in sources.items()]
    runs = {r.name.removeprefix(prefix): r
            for r in transfer_runs(prefix, {"train.steps": 10_000}, seeds=3, stage=1)}
    return pretrain + [
        dataclasses.replace(r, set={**r.set, "train.steps": longer.get(name, 10_000)})
        for name, r in runs.items() if name in wanted]
