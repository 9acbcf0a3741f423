"""A small config that groks on a 2-core CPU in about a minute.

    grokjax train configs/quick.py --seeds 4

Expect: train accuracy 100% within a few hundred steps, then test accuracy jumps to 100% for
most seeds before step 3,000 (add mod 23, r = 0.5, a 1-layer transformer of width 64).
"""

from grokjax.config import base_config


def get_config():
    c = base_config()
    c.task = "add"
    c.p = 23
    c.train_fraction = 0.5
    c.model.d_model = 64
    c.model.num_heads = 4
    c.model.d_head = 16
    c.model.d_mlp = 256
    c.train.steps = 3000
    c.train.eval_every = 10
    c.train.chunk_steps = 500
    return c
