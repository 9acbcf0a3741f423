"""The benchmarks compare like with like: the PyTorch reference computes grokjax's function.

Skipped where torch is not installed (it is not a grokjax dependency)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from grokjax import config as config_lib
from grokjax import models, optim
from grokjax.experiment import build

torch = pytest.importorskip("torch")
from benchmarks import torch_reference  # noqa: E402


@pytest.fixture(scope="module")
def setup():
    cfg = config_lib.load_config("configs/add.py", ["p=23", "seed_list=(0,)"])
    exp = build(cfg)
    params = models.init(jax.random.key(3), exp.scfg.mcfg)
    ref = torch_reference.build(exp.dataset.vocab.d_vocab)
    torch_reference.from_grokjax(ref, params)
    data = exp.data()
    return exp, params, ref, np.asarray(data.tokens[0]), np.asarray(data.labels[0])


def test_the_reference_computes_the_same_logits_from_the_same_weights(setup):
    exp, params, ref, tokens, _ = setup
    ours = np.asarray(models.apply(params, jnp.asarray(tokens), exp.scfg.mcfg))
    with torch.no_grad():
        theirs = ref(torch.from_numpy(tokens).long())[:, -1].numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-5)


def test_one_adamw_step_moves_both_alike(setup):
    exp, params, _, tokens, labels = setup
    ref = torch_reference.build(exp.dataset.vocab.d_vocab)
    torch_reference.from_grokjax(ref, params)
    t, y = torch.from_numpy(tokens).long(), torch.from_numpy(labels).long()
    torch_reference.train_steps(ref, t, y, t[:5], y[:5], steps=1)

    tx = optim.make_optimizer(exp.cfg.optim)

    def loss(prm):
        logp = jax.nn.log_softmax(models.apply(prm, jnp.asarray(tokens), exp.scfg.mcfg)
                                  .astype(jnp.float64))
        return -jnp.take_along_axis(logp, jnp.asarray(labels)[:, None], -1).mean()

    updates, _ = tx.update(jax.grad(loss)(params), tx.init(params), params)
    stepped = jax.tree.map(lambda a, b: a + b, params, updates)
    with torch.no_grad():
        ours = np.asarray(models.apply(stepped, jnp.asarray(tokens), exp.scfg.mcfg))
        theirs = ref(t)[:, -1].numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-3, atol=1e-4)
