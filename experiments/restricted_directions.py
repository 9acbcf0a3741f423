"""Furuta's Table A.4 check: a run's restricted and excluded loss with the key frequencies'
w_k(a + b) directions (Nanda's) and w_k(a - b) (subtraction's), from its final checkpoint; and
the restricted loss without the per-class constant (the mean over (a, b) of each class's
logit, which grokjax keeps as Nanda's code does), with the key frequencies and with all of them.

    python experiments/restricted_directions.py RUN [RUN ...]

Measured (experiments/results/README.md) on pretrain/add and pretrain/subtract (p = 97,
r = 0.3, 10k and 30k steps): addition's restricted loss is 2.99e-8 (a + b) and 4.72 (a - b).
Subtraction's is 22.8 (a + b) and 5.2e-6 (a - b). The paper's 0.714 for subtraction is neither.
Without the per-class constant (Furuta's "only with the Fourier components of key frequencies",
App. E), subtraction's (a - b) restricted loss is 0.838 with its key frequencies and 1.19 with
all 48 (the paper's Table A.4: 0.714 and 0.558), and addition's (a + b) 3.71e-8 and 3.75e-8
(the paper: 4.985e-8): the constant is ~0 for addition and carries subtraction's fit.
"""

import json
import sys

import jax
import jax.numpy as jnp
import numpy as np

from grokjax.probes import fourier, measures
from grokjax.saved import open_run


def losses(run_dir: str) -> dict:
    run = open_run(run_dir)
    exp = run.experiment
    params = jax.tree.map(lambda x: x[0], run.params(members=[0])[0])  # the first member
    data = exp.data()
    p = exp.cfg.p
    logits = measures.table_logits(params, data.table_tokens, exp.scfg.mcfg, p)
    labels = data.table_labels
    every = jnp.ones((fourier.n_freqs(p),), bool)
    out = {}
    for direction in ("a+b", "a-b"):
        m = measures.nanda_measures(params, exp.scfg.mcfg, data.table_tokens, labels,
                                    data.table_train[0], p, direction=direction,
                                    dtype=jnp.float64)
        out[direction] = {
            "restricted_loss": float(m["restricted_loss"]),
            "excluded_loss": float(m["excluded_loss"]),
            "key_freqs": [int(k) + 1 for k in np.flatnonzero(m["key_freqs"])],
            **{f"restricted_loss_without_constant/{name}": float(measures.restricted_loss(
                logits, labels, mask, direction, jnp.float64, constant=False))
               for name, mask in (("key", m["key_freqs"]), ("all", every))}}
    return out


if __name__ == "__main__":
    for path in sys.argv[1:]:
        print(path, json.dumps(losses(path)))
