"""Furuta's MLP model (the reference's `model='mlp'`) on addition, with Omnigrok's init scale.

    grokjax train configs/mlp.py --seeds 4
    grokjax train configs/mlp.py --seeds 4 --set model.weight_scale=3.0

embed (d_emb 500) -> Dense to d_model 128 -> sum over positions -> ReLU -> 1 x (Dense, ReLU)
-> Dense to d_emb -> unembed; every init N(0, weight_scale / sqrt(fan_in)). p = 97, r = 0.3.
Expect train accuracy 100% early and grokking later. Measured only on a smaller variant so far
(`--set p=31 --set train_fraction=0.5 --set optim.lr=3e-3 --set optim.weight_decay=3.0 --set
probe.every=0 --set train.chunk_steps=500 --steps 3000`, 2 seeds, 2-core CPU): alpha = 1
memorised at steps 25-27 and grokked at 520-550; alpha = 3 memorised at 181-205 and grokked at
520-630. Omnigrok predicts that a larger alpha delays generalisation relative to fitting; at this
size, alpha = 3 mostly delayed fitting.
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
