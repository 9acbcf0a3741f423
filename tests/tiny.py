"""The one shared tiny config of the test suite (also a config file for CLI tests).

    grokjax train tests/tiny.py --out /tmp/tiny

configs/quick.py shrunk: add mod 11 at r = 0.5, a 1-layer transformer of width 32 (2 heads of
16, d_mlp 64), 2 seeds, 20 steps, with base_config's AdamW lr and weight decay: seconds on a
CPU. It is far too short to grok; it exercises every part of a run.
"""

from grokjax.config import CONFIG_DIR, base_config, exec_file


def get_config():
    c = exec_file(CONFIG_DIR / "quick.py").get_config()
    c.p = 11
    c.seeds = 2
    c.model.d_model = 32
    c.model.num_heads = 2
    c.model.d_mlp = 64
    default = base_config().optim  # quick's larger lr x wd groks sooner; tiny never groks
    c.optim.lr = default.lr
    c.optim.weight_decay = default.weight_decay
    c.train.steps = 20
    c.train.eval_every = 5
    c.train.chunk_steps = 10
    c.probe.every = 10
    return c
