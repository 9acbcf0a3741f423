"""The default experiment: addition mod 97 at r = 0.3 with Furuta's transformer and optimiser.

    grokjax train configs/add.py --seeds 4

Furuta et al. (TMLR 2024), paper.md section 1: 1 layer, d_model 128, 4 heads of 32, d_mlp 512,
ReLU, no LayerNorm/biases/positional embedding; AdamW lr 1e-3, weight decay 1, betas (0.9, 0.98);
full batch; each seed its own split of the 97^2 pairs; 10,000 steps. Expect train accuracy
100% by step ~110 and test accuracy reaching 99% (grokking) a few thousand steps later for every
seed. Measured on a 2-core CPU (4 seeds): memorised at steps 110-112, grokked at 4280, 4730,
4690 and 6590 (median 4710); ~45 seed-steps/s, so the 4-seed run takes ~15 minutes.
"""

from grokjax.config import base_config


def get_config():
    c = base_config()
    c.train.steps = 10_000
    return c
