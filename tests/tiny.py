"""The one shared tiny config of the test suite (also a config file for CLI tests).

    grokjax train tests/tiny.py --workdir /tmp/tiny

add mod 11 at r = 0.5, a 1-layer transformer of width 32, 2 seeds, 20 steps: seconds on a CPU.
It is far too short to grok; it exercises every part of a run.
"""

from grokjax.config import base_config


def get_config():
    c = base_config()
    c.task = "add"
    c.p = 11
    c.train_fraction = 0.5
    c.seeds = 2
    c.model.d_model = 32
    c.model.num_heads = 2
    c.model.d_head = 16
    c.model.d_mlp = 64
    c.train.steps = 20
    c.train.eval_every = 5
    c.train.chunk_steps = 10
    c.probe.every = 10
    return c
