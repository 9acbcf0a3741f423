"""Circuits over training, and the clock or the pizza (Zhong et al.).

    grokjax train configs/circuits.py --seeds 4 --workdir runs/circuits
    grokjax circuits runs/circuits --method acdc --over-training
    grokjax train configs/circuits.py:pizza --seeds 4 --workdir runs/circuits-pizza
    grokjax circuits runs/circuits-pizza --method clock-pizza
    grokjax train configs/circuits.py:zhong-pizza --seeds 2 --workdir runs/zhong-pizza

ARG clock (default) is configs/quick.py (add mod 31, r = 0.5, a 1-layer transformer of width
64) saved at every 100th step, all kept, so `--over-training` has 16 steps to read; pizza the
same with uniform attention (model.attn_rate = 0). zhong-clock and zhong-pizza are Zhong et
al.'s setting: p = 59, r = 0.8, weight decay 2, d_model 128 (4 heads of 32, d_mlp 512), 4000
steps, saved every 1000.

Expect (clock) every seed to grok by step ~800, ACDC to keep the same ~21 of 39 edges in every
seed after grokking and more (~30) while the model memorises, and the clock by Zhong's
measures; zhong-pizza the pizza. Measured on a 2-core CPU. clock, 4 seeds: grokked at 760, 670, 610, 650; ACDC (KL, tau 0.01,
corrupt shuffle) keeps the same 21 of 39 edges in every seed (faithfulness >= 0.9999); gradient
symmetricity 0.41-0.66 and distance irrelevance 0.66-0.83: clock. pizza: 3 of 4 grok (560,
580, 1220), symmetricity 0.96 but distance irrelevance 0.62-0.79: "mixed" at this size.
zhong-clock, 2 seeds: symmetricity 0.44 and 0.87, distance irrelevance 0.72 and 0.54: clock;
zhong-pizza: 0.99 and 0.96, 0.29 and 0.49: pizza (both grokked at 250-270).
"""

import pathlib

from grokjax.config.files import load_config
from grokjax.errors import GrokjaxError

ARGS = ("clock", "pizza", "zhong-clock", "zhong-pizza")


def get_config(arg: str = "clock"):
    if arg not in ARGS:
        raise GrokjaxError(f"configs/circuits.py:{arg}: the argument is one of {', '.join(ARGS)}")
    c = load_config(str(pathlib.Path(__file__).with_name("quick.py")))
    c.model.attn_rate = 0.0 if arg.endswith("pizza") else 1.0
    c.train.chunk_steps = 100
    c.checkpoint.save_every = 100
    c.checkpoint.keep = 100
    if arg.startswith("zhong"):
        c.p = 59
        c.train_fraction = 0.8
        c.optim.lr = 1e-3
        c.optim.weight_decay = 2.0
        c.model.d_model, c.model.d_head, c.model.d_mlp = 128, 32, 512
        c.train.steps = 4000
        c.checkpoint.save_every = 1000
    return c
