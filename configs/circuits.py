"""The quick addition run, saved every 100 steps, so that its circuits can be read over training.

    grokjax train configs/circuits.py --seeds 4 --workdir runs/circuits
    grokjax circuits runs/circuits --method acdc --over-training
    grokjax train configs/circuits.py:pizza --seeds 4 --workdir runs/circuits-pizza

With :pizza the attention is uniform (model.attn_rate = 0, Zhong et al.'s pizza regime).

configs/quick.py (add mod 31, r = 0.5, a 1-layer transformer of width 64) with checkpoints at
every 100th step, all kept, so `grokjax circuits RUN --over-training` has 16 steps to read.
"""

import pathlib

from grokjax.config.files import load_config


def get_config(arg: str = "clock"):
    c = load_config(str(pathlib.Path(__file__).with_name("quick.py")))
    rates = {"clock": 1.0, "pizza": 0.0}
    if arg not in rates:
        from grokjax.errors import GrokjaxError
        raise GrokjaxError(f"configs/circuits.py:{arg}: the argument is clock or pizza")
    c.model.attn_rate = rates[arg]
    c.train.chunk_steps = 100
    c.checkpoint.save_every = 100
    c.checkpoint.keep = 100
    return c
