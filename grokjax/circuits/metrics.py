"""What a patched model is scored by: KL from the clean model, logit difference, loss, accuracy.

Each metric maps (patched logits, clean logits, labels) to a batch mean. ACDC removes an edge
when the *damage* it does is below tau: `damage(name, value)` orients every metric so that
larger is worse (KL and loss as they are; logit difference and accuracy negated).
Faithfulness is (metric(circuit) - metric(corrupted)) / (metric(full) - metric(corrupted)):
1 for a circuit as good as the full model, 0 for one no better than the corrupted model.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from grokjax.models import predicts

METRICS = ("kl", "logit_diff", "loss", "accuracy")
_DAMAGE_SIGN = {"kl": 1.0, "loss": 1.0, "logit_diff": -1.0, "accuracy": -1.0}


def value(name: str, logits_BxV: jax.Array, clean_BxV: jax.Array, labels_B: jax.Array,
          n_answers: int) -> jax.Array:
    """The batch mean of metric `name`.

    kl          KL(clean || patched) of the output distributions over the vocabulary (ACDC's)
    logit_diff  the correct answer's logit minus the mean logit over the n_answers answers
                (linear in the logits, so exact for attribution into the logits)
    loss        the cross entropy of the correct answer
    accuracy    the fraction whose prediction (the first largest logit) is the answer
    """
    if name == "kl":
        logp, logq = jax.nn.log_softmax(clean_BxV), jax.nn.log_softmax(logits_BxV)
        return jnp.mean(jnp.sum(jnp.exp(logp) * (logp - logq), axis=-1))
    if name == "logit_diff":
        correct = jnp.take_along_axis(logits_BxV, labels_B[:, None], axis=-1)[:, 0]
        return jnp.mean(correct - logits_BxV[:, :n_answers].mean(axis=-1))
    if name == "loss":
        logq = jax.nn.log_softmax(logits_BxV)
        return -jnp.mean(jnp.take_along_axis(logq, labels_B[:, None], axis=-1))
    if name == "accuracy":
        return jnp.mean(predicts(logits_BxV, labels_B).astype(jnp.float32))
    raise ValueError(f"metric {name!r} is not one of {', '.join(METRICS)}")


def damage(name: str, x: jax.Array) -> jax.Array:
    """`x` oriented so that larger is worse (what ACDC compares with tau)."""
    return _DAMAGE_SIGN[name] * x


def faithfulness(circuit: jax.Array, full: jax.Array, corrupt: jax.Array) -> jax.Array:
    """(metric(circuit) - metric(corrupt)) / (metric(full) - metric(corrupt)); NaN where the
    corruption does not move the metric."""
    span = full - corrupt
    return jnp.where(span != 0, (circuit - corrupt) / jnp.where(span != 0, span, 1), jnp.nan)
