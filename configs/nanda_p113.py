"""Nanda et al. (2023): modular addition mod 113 with their transformer variant.

    grokjax train configs/nanda_p113.py --seeds 5

Nanda's model: learned positional embedding, MLP biases, vocabulary p+1, input [a, b, =],
W_E std 1/sqrt(d_model) and W_U std 1/sqrt(d_vocab); AdamW lr 1e-3, wd 1, betas (0.9, 0.98)
with a 10-step linear warm-up; r = 0.3 (3,830 train / 8,939 test pairs). The split is his:
Python's random.seed(0) shuffle of all pairs (split.mode='reference', split.seed=0), shared by
every seed, so seeds differ only in their init. Nanda: grokking around step 10k ("after around
10,000 epochs, the network generalizes"), memorisation by ~1.4k and cleanup by ~14k. Expect,
as measured on the 2-core CPU (experiments/results/nanda_p113-s0-5, `--seed-list 0,1,2,3,4,5`):
seeds 0-5 grok at steps 9,720, 8,160, 8,930, 4,000, 7,050 and 4,660 (13-23 seed-steps/s on a
shared CPU).
"""

from grokjax.config import base_config


def get_config():
    c = base_config()
    c.task = "add"
    c.p = 113
    c.model.variant = "nanda"
    c.optim.warmup_steps = 10
    c.split.mode = "reference"
    c.split.seed = 0
    c.train.steps = 40_000
    return c
