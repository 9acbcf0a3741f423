"""Furuta's MLP model (the reference's `model='mlp'`) on addition, with Omnigrok's init scale.

    grokjax train configs/mlp.py --seeds 4
    grokjax train configs/mlp.py --seeds 4 --set model.weight_scale=3.0

embed (d_emb 500) -> Dense to d_model 128 -> sum over positions -> ReLU -> 1 x (Dense, ReLU)
-> Dense to d_emb -> unembed; every init N(0, weight_scale / sqrt(fan_in)). p = 97, r = 0.3.
Expect train accuracy 100% early; a larger weight_scale (alpha > 1) delays generalisation
(Omnigrok's LU mechanism).
"""

from grokjax.config import base_config


def get_config():
    c = base_config()
    c.model.arch = "mlp"
    c.model.d_emb = 500
    c.model.d_model = 128
    c.model.num_layers = 1
    c.train.steps = 20_000
    return c
