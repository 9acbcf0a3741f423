"""The paper's elementary and three-variable arithmetic tasks, one per run.

    grokjax train configs/arithmetic.py:subtract --seeds 4
    grokjax train configs/arithmetic.py:multiply --seeds 4
    grokjax train configs/arithmetic.py:add_z --seeds 4 --set train_fraction=0.05

ARG is one of add, subtract, multiply, division, multiply_non_zero (input [x, op, y]) or add_z,
subtract_z, multiply_z, x2_y2_z, x2_y2_z2 (input [x, op, y, op, z], 97^3 inputs; the reference
code cannot run these). p = 97, r = 0.3 as in the paper. Expect add, subtract and multiply to
grok at r = 0.3 (paper Table A.5; the reference's checkpoints suggest subtract groks last, near
step 40k, and add and multiply near 10k).
"""

from grokjax.config import base_config


def get_config(arg="add"):
    c = base_config()
    c.task = arg
    c.train.steps = 50_000
    return c
