"""Furuta's Table A.4 check: a run's restricted and excluded loss with the key frequencies'
w_k(a + b) directions (Nanda's) and w_k(a - b) (subtraction's), from its final checkpoint.

    python experiments/restricted_directions.py RUN [RUN ...]

Measured (experiments/results/README.md) on pretrain/add and pretrain/subtract (p = 97,
r = 0.3, 10k and 30k steps): addition's restricted loss is 2.99e-8 (a + b) and 4.72 (a - b).
Subtraction's is 22.8 (a + b) and 5.2e-6 (a - b). The paper's 0.714 for subtraction is neither.
"""

import json
import sys

import jax
import jax.numpy as jnp
import numpy as np

from grokjax.probes import measures
from grokjax.saved import open_run


def losses(run_dir: str) -> dict:
    run = open_run(run_dir)
    exp = run.experiment
    params = jax.tree.map(lambda x: x[0], run.params(members=[0])[0])  # the first member
    data = exp.data()
    out = {}
    for direction in ("a+b", "a-b"):
        m = measures.nanda_measures(params, exp.scfg.mcfg, data.table_tokens, data.table_labels,
                                    data.table_train[0], exp.cfg.p, direction=direction,
                                    dtype=jnp.float64)
        out[direction] = {"restricted_loss": float(m["restricted_loss"]),
                          "excluded_loss": float(m["excluded_loss"]),
                          "key_freqs": [int(k) + 1 for k in np.flatnonzero(m["key_freqs"])]}
    return out


if __name__ == "__main__":
    for path in sys.argv[1:]:
        print(path, json.dumps(losses(path)))
