"""Probes of a model's weights: Furuta's FFD and FCR, Nanda's progress measures, ablations.

Every function works on one seed's params and is pure, so `jax.vmap` runs it on the stacked
params of a whole run and `jax.jit` compiles it. Definitions (paper.md sections 1.7 and 2):

* Spectra. W_E's p number rows, and the neuron-logit map W_L = W_U[:, :p]^T W_out^T [p, d_mlp],
  are transformed along the token axis; mu_k, nu_k are the norms of frequency k's cos and sin
  components over the other axis (`fourier.freq_norms`).
* FFD(eta) = (1/2K) sum_k (1[mu_k / max mu > eta] + 1[nu_k / max nu > eta]): the fraction of
  components above eta times their family's maximum. Low FFD: a few key frequencies.
* FCR = (1/K) sum_k min(mu_k / nu_k, nu_k / mu_k). Low FCR: a cos- or sin-biased spectrum. A
  frequency whose mu_k and nu_k are both below 1e-6 of the largest norm is absent and counts
  as balanced (ratio 1): at float32 noise level their ratio is random.
  The paper prints its sums over t = 1..[p/2]; its appendix B code uses the full orthonormal
  basis over t = 0..p-1, which we follow; `spectrum(..., reading="half")` gives the printed
  reading (sums over t = 1..[p/2] only, an unnormalised, non-orthogonal projection).
* Gini (Hurley and Rickard): G = 1 - 2 sum_k (c_(k) / ||c||_1) (N - k + 1/2) / N over the
  ascending sorted vector c. Applied to the 2K norms (mu_1, nu_1, ...) of W_E or W_L (every
  basis row but the constant).
* Key frequencies (Nanda's `calculate_key_freqs`): for each MLP neuron, centre its activations
  over all p^2 inputs, transform them in 2D and find the frequency k whose 3x3 block
  {const, cos k, sin k}^2 explains most of the variance. The key frequencies are those that are
  some neuron's best with an explained fraction above `threshold` (0.85, the value Nanda's
  Colab clusters at; his code itself applies none).
* Restricted loss: the loss on all p^2 inputs of the logits (number classes) projected onto the
  constant plus the cos and sin of w_k (a + b) for the key frequencies k. Excluded loss: the loss
  on the train inputs after removing those projections. For subtraction the directions are
  w_k (a - b) (`direction="a-b"`). Both are computed in the run's loss dtype
  (`numerics.nll`).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from grokjax import models, modular, numerics
from grokjax.models import ModelConfig, Params
from grokjax.probes import fourier


# ----------------------------------------------------------------------------------------------
# Furuta's measures and the Gini coefficient.

def ffd(mu: jax.Array, nu: jax.Array, eta: float = 0.5) -> jax.Array:
    frac = lambda x: jnp.mean((x / jnp.max(x)) > eta)  # noqa: E731
    return 0.5 * (frac(mu) + frac(nu))


def fcr(mu: jax.Array, nu: jax.Array, floor: float = 1e-6) -> jax.Array:
    lo, hi = jnp.minimum(mu, nu), jnp.maximum(mu, nu)
    present = hi > floor * jnp.max(hi)  # below float32 noise the ratio means nothing
    return jnp.mean(jnp.where(present, lo / jnp.where(present, hi, 1.0), 1.0))


def gini(c: jax.Array) -> jax.Array:
    """The Gini coefficient of |c|. Its sums are taken in float64 where JAX has it and rounded
    to c's dtype at the end, so that the order XLA chooses for them (which differs between a
    member alone and in a batch) does not reach the result."""
    dtype = c.dtype
    c = jnp.sort(jnp.abs(c)).astype(jnp.float64 if jax.config.jax_enable_x64 else dtype)
    n = c.shape[0]
    k = jnp.arange(1, n + 1, dtype=c.dtype)
    return (1.0 - 2.0 * jnp.sum(c / jnp.sum(c) * (n - k + 0.5) / n)).astype(dtype)


def half_sum_norms(w: jax.Array) -> tuple[jax.Array, jax.Array]:
    """The paper's printed eq. 5: mu_k = (2/[p/2]) sum_{t=1}^{[p/2]} W[t] cos(w_k t), same for
    sin, for k = 1..[p/2]; norms over the other axes of w [p, ...]."""
    p = w.shape[0]
    half = p // 2
    t = jnp.arange(1, half + 1)
    k = jnp.arange(1, half + 1)
    ang = 2 * jnp.pi * k[:, None] * t[None, :] / p
    w = w.reshape(p, -1)[1:half + 1]
    mu = (2 / half) * jnp.cos(ang).astype(w.dtype) @ w
    nu = (2 / half) * jnp.sin(ang).astype(w.dtype) @ w
    return jnp.linalg.norm(mu, axis=1), jnp.linalg.norm(nu, axis=1)


# ----------------------------------------------------------------------------------------------
# The weights probed.

def embedding(params: Params, p: int) -> jax.Array:
    """W_E's number rows [p, d_model]."""
    return params["embed"]["W_E"][:p]


def neuron_logit_map(params: Params, p: int) -> jax.Array:
    """W_L [p, d_mlp] = W_U[:, :p]^T W_out^T: how each neuron of the last MLP moves each number's
    logit."""
    last = params["blocks"][str(len(params["blocks"]) - 1)]["mlp"]["W_out"]
    return jnp.einsum("dt,nd->tn", params["unembed"]["W_U"][:, :p], last,
                      precision=jax.lax.Precision.HIGHEST)


def spectrum(w: jax.Array, p: int, basis: str = "additive", method: str = "basis",
             reading: str = "full"):
    """(mu, nu) of a [p, ...] weight over Z/p, or over Z/(p-1) in discrete-log order
    (`basis="multiplicative"`, which drops the residue 0). `method` 'fft' uses jnp.fft;
    `reading="half"` is the paper's printed eq. 5 (sums over t = 1..[p/2]) instead of the
    orthonormal basis."""
    if basis == "multiplicative":
        w = fourier.to_log_basis(w, p)
    if reading == "half":
        return half_sum_norms(w)
    return fourier.freq_norms(w, 0, method)


# ----------------------------------------------------------------------------------------------
# Nanda's measures on the (a, b) table: every input of a two-variable task.

def block_energy(acts_ppN: jax.Array) -> tuple[jax.Array, jax.Array]:
    """The centred activations' 2D Fourier energy in each frequency's 3x3 block
    {const, cos k, sin k}^2, [K, N], and each neuron's total energy, [N].

    Centring changes only the const-const component (F's row 0 is the constant, the others
    are orthogonal to it), so its energy is subtracted instead of centring first (which XLA's
    CPU backend fuses into the transform at twice its cost)."""
    comps = fourier.components_2d_swapped(acts_ppN)  # [p, p, N]; the blocks are symmetric
    rows = jnp.arange(1, fourier.n_freqs(acts_ppN.shape[0]) + 1)
    idx = jnp.stack([jnp.zeros_like(rows), 2 * rows - 1, 2 * rows], axis=1)  # [K, 3]
    blocks = jnp.square(comps[idx[:, :, None], idx[:, None, :]]).sum(axis=(1, 2))
    mean_term = jnp.square(comps[0, 0])
    return blocks - mean_term[None], jnp.square(comps).sum(axis=(0, 1)) - mean_term


def best_frequency(block_KxN: jax.Array, total_N: jax.Array) -> tuple[jax.Array, jax.Array]:
    """From `block_energy`: each neuron's best frequency [N] in 1..K and the fraction of its
    variance that frequency explains [N]."""
    frac = block_KxN / jnp.where(total_N > 0, total_N, 1.0)[None, :]
    return jnp.argmax(frac, axis=0) + 1, jnp.max(frac, axis=0)


def key_frequencies(best: jax.Array, frac: jax.Array, K: int, threshold: float = 0.85):
    """A [K] mask of the key frequencies (index k-1 for frequency k), and the fraction of
    neurons that one frequency explains above `threshold`."""
    explained = frac > threshold
    mask = jnp.zeros((K,), bool).at[best - 1].max(explained)
    return mask, jnp.mean(explained)


def waves(n: int) -> tuple[jax.Array, jax.Array]:
    """[K, n] each: cos and sin of w_k x over Z/n, k = 1..K (computed in float64)."""
    x = np.arange(n)
    k = np.arange(1, fourier.n_freqs(n) + 1)[:, None]
    angle = 2 * np.pi * (k * x % n) / n
    return jnp.asarray(np.cos(angle), jnp.float32), jnp.asarray(np.sin(angle), jnp.float32)


def mean_loss(logits: jax.Array, labels: jax.Array, weight: jax.Array, dtype=jnp.float32
              ) -> jax.Array:
    """The weighted mean cross entropy (`numerics.nll`, in `dtype`), as float32."""
    nll = numerics.nll(logits, labels, dtype)
    return (jnp.sum(nll * weight) / jnp.sum(weight)).astype(jnp.float32)


def _along(logits_ppC: jax.Array, direction: str) -> tuple[jax.Array, jax.Array]:
    """<logits[:, :, c], cos w_k(a +- b)> and <logits[:, :, c], sin w_k(a +- b)> over the
    table, [K, C] each. Each direction is separable, cos w(a +- b) = cos wa cos wb -+ sin wa
    sin wb and sin w(a +- b) = sin wa cos wb +- cos wa sin wb: [K, p] waves and [K, p, C]
    intermediates, no [2K, p, p] table of directions (8 GB of program constants at p = 1009)."""
    cos, sin = (w.astype(logits_ppC.dtype) for w in waves(logits_ppC.shape[0]))
    sign = 1.0 if direction == "a+b" else -1.0
    hi = jax.lax.Precision.HIGHEST

    def inner(u, v):  # sum_ab u[k, a] v[k, b] logits[a, b, c]: [K, C]
        return jnp.einsum("kb,kbc->kc", v, jnp.einsum("ka,abc->kbc", u, logits_ppC,
                                                       precision=hi), precision=hi)
    return (inner(cos, cos) - sign * inner(sin, sin),
            inner(sin, cos) + sign * inner(cos, sin))


def key_projection(logits_ppC: jax.Array, key_mask: jax.Array, direction: str = "a+b"):
    """The part of the logits along cos/sin w_k(a +- b) for the key frequencies: [p, p, C]
    (each direction has norm p / sqrt(2) over the table for 0 < k < p/2)."""
    p = logits_ppC.shape[0]
    cos, sin = (w.astype(logits_ppC.dtype) for w in waves(p))
    sign = 1.0 if direction == "a+b" else -1.0
    hi = jax.lax.Precision.HIGHEST

    def outer(u, v, coef):  # sum_k u[k, a] v[k, b] coef[k, c]: [p, p, C]
        return jnp.einsum("ka,kbc->abc", u, v[:, :, None] * coef[:, None, :], precision=hi)

    weight = (key_mask.astype(logits_ppC.dtype) / (p * p / 2))[:, None]  # 1 / norm^2
    along_cos, along_sin = (x * weight for x in _along(logits_ppC, direction))
    return (outer(cos, cos, along_cos) - sign * outer(sin, sin, along_cos)
            + outer(sin, cos, along_sin) + sign * outer(cos, sin, along_sin))


def logits_explained(logits_ppC: jax.Array, key_mask: jax.Array, direction: str = "a+b"
                     ) -> jax.Array:
    """The share of the logits' variance that sum_k alpha_k cos(w_k(a +- b - c)) over the key
    frequencies explains, each alpha_k fitted by least squares (Nanda et al. 2023 §4: the
    logits' form; "~95% of their variance"). The variance is over the classes c of each input,
    around its mean over c, which the softmax ignores; the regressors are orthogonal (and
    orthogonal to those means) for distinct 0 < k < p/2, so each alpha_k is one projection:
    <L, R_k> = sum_c (<L_c, cos w_k(a +- b)> cos w_k c + <L_c, sin w_k(a +- b)> sin w_k c),
    with ||R_k||^2 = p^2 C / 2 for C = p classes."""
    p, C = logits_ppC.shape[0], logits_ppC.shape[-1]
    centred = logits_ppC - logits_ppC.mean(axis=-1, keepdims=True)
    cos, sin = (w.astype(centred.dtype) for w in waves(p))
    along_cos, along_sin = _along(centred, direction)
    proj = jnp.sum(along_cos * cos[:, :C] + along_sin * sin[:, :C], axis=-1)  # [K]
    explained = jnp.sum(jnp.where(key_mask, proj ** 2, 0.0)) / (p * p * C / 2)
    return (explained / jnp.sum(jnp.square(centred))).astype(jnp.float32)


def restricted_loss(logits_ppC, labels_pp, key_mask, direction: str = "a+b",
                    dtype=jnp.float32, constant: bool = True) -> jax.Array:
    """The loss on every input of the logits kept only along the key directions and the
    per-class constant (each class's mean logit over the table: Nanda's `bias_correction`).
    `constant=False` drops the constant: "calculated only with the Fourier components of key
    frequencies" (Furuta et al. 2024, App. E, Table A.4)."""
    restricted = key_projection(logits_ppC, key_mask, direction)
    if constant:
        restricted = restricted + logits_ppC.mean(axis=(0, 1), keepdims=True)
    return mean_loss(restricted, labels_pp, jnp.ones(labels_pp.shape), dtype)


def excluded_loss(logits_ppC, labels_pp, key_mask, train_mask_pp, direction: str = "a+b",
                  dtype=jnp.float32) -> jax.Array:
    """The loss on the train inputs of the logits without their key directions."""
    excluded = logits_ppC - key_projection(logits_ppC, key_mask, direction)
    return mean_loss(excluded, labels_pp, train_mask_pp.astype(jnp.float32), dtype)


def sum_of_squares(params: Params) -> jax.Array:
    return sum(jnp.sum(jnp.square(x)) for x in jax.tree.leaves(params))


def ablate_embedding(params: Params, p: int, freq_mask: jax.Array,
                     basis: str = "additive") -> Params:
    """Params whose W_E number rows lose their components at the masked frequencies (over
    Z/(p-1) in discrete-log order for `basis="multiplicative"`; the number 0 is then kept)."""
    if basis == "multiplicative":
        order = jnp.asarray(modular.log_order(p))
        rows = params["embed"]["W_E"][order]
        sub = ablate_embedding({"embed": {"W_E": rows}}, p - 1, freq_mask)["embed"]["W_E"]
        new_we = params["embed"]["W_E"].at[order].set(sub)
        return {**params, "embed": {**params["embed"], "W_E": new_we}}
    w = embedding(params, p)
    b = fourier.basis(p)
    K = fourier.n_freqs(p)
    keep = jnp.ones((p,), w.dtype)
    keep = keep.at[2 * jnp.arange(1, K + 1) - 1].set(jnp.where(freq_mask, 0.0, 1.0))
    keep = keep.at[2 * jnp.arange(1, K + 1)].set(jnp.where(freq_mask, 0.0, 1.0))
    hi = jax.lax.Precision.HIGHEST
    ablated = jnp.einsum("kt,k,kd->td", b, keep, jnp.einsum("kt,td->kd", b, w, precision=hi),
                         precision=hi)
    new_we = params["embed"]["W_E"].at[:p].set(ablated)
    return {**params, "embed": {**params["embed"], "W_E": new_we}}


def table_logits(params: Params, tokens: jax.Array, mcfg: ModelConfig, p: int) -> jax.Array:
    """Number-class logits on the whole (a, b) table: [p, p, p]."""
    return models.apply(params, tokens, mcfg)[:, :p].reshape(p, p, p)


def nanda_measures(params: Params, mcfg: ModelConfig, tokens: jax.Array, labels_pp: jax.Array,
                   train_mask_pp: jax.Array, p: int, *, threshold: float = 0.85,
                   direction: str = "a+b", basis: str = "additive", dtype=jnp.float32,
                   key_mask: jax.Array | None = None, keys_only: bool = False
                   ) -> dict[str, jax.Array]:
    """Key frequencies, the neurons they explain, the share of the logits their cos w_k(a+b-c)
    terms explain (NaN in the discrete-log basis), restricted and excluded loss (in `dtype`),
    on one seed, from the (a, b) table's tokens [p*p, C] (a-major), labels and train mask.
    The losses use the key frequencies found in these params, or `key_mask` [K] where given
    (Nanda computes them over training with the final model's key frequencies). `keys_only`
    adds Furuta's restricted loss, without the per-class constant ('restricted_loss_keys_only').

    With `basis="multiplicative"` the table is the nonzero (a, b) re-indexed by discrete log, so
    a * b becomes i + j over Z/(p-1): the frequencies are those of the multiplicative group."""
    logits, neurons = models.logits_and_neurons(params, tokens, mcfg)  # one pass for both
    acts = neurons.reshape(p, p, -1)
    logits = logits[:, :p].reshape(p, p, p)
    if basis == "multiplicative":
        order = jnp.asarray(modular.log_order(p))
        pick = lambda x: x[order][:, order]  # noqa: E731
        acts, logits, labels_pp, train_mask_pp = map(pick, (acts, logits, labels_pp, train_mask_pp))
    n = acts.shape[0]
    block, total = block_energy(acts)  # one 2D transform serves both
    best, frac = best_frequency(block, total)
    found, explained = key_frequencies(best, frac, fourier.n_freqs(n), threshold)
    act_norms = jnp.sqrt(block.sum(axis=-1))
    keys = found if key_mask is None else key_mask
    furuta = ({"restricted_loss_keys_only": restricted_loss(
        logits, labels_pp, keys, direction, dtype, constant=False)} if keys_only else {})
    return {**furuta, "key_freqs": found, "neurons_explained": explained,
            "acts/freq_norms": act_norms,
            "logits_explained": (logits_explained(logits, keys, direction)
                                 if basis == "additive" else jnp.float32(jnp.nan)),
            "restricted_loss": restricted_loss(logits, labels_pp, keys, direction, dtype),
            "excluded_loss": excluded_loss(logits, labels_pp, keys, train_mask_pp, direction,
                                           dtype)}


def table_measures(params: Params, tokens, labels_pp, train_pp, mcfg: ModelConfig,
                   spec: "ProbeSpec", key_mask: jax.Array | None = None,
                   keys_only: bool = False) -> dict[str, jax.Array]:
    """`nanda_measures` with a run's probe settings."""
    return nanda_measures(params, mcfg, tokens, labels_pp, train_pp, spec.p,
                          threshold=spec.threshold, direction=spec.direction,
                          basis=spec.table_basis, dtype=spec.loss_dtype, key_mask=key_mask,
                          keys_only=keys_only)


def spectral_measures(params: Params, p: int, *, eta: float = 0.5, basis: str = "additive"
                      ) -> dict[str, jax.Array]:
    """FFD, FCR and Gini of W_E and W_L, and their spectra, on one seed."""
    out = {}
    for name, w in (("W_E", embedding(params, p)), ("W_L", neuron_logit_map(params, p))):
        mu, nu = spectrum(w, p, basis)
        out[f"{name}/mu"], out[f"{name}/nu"] = mu, nu
        out[f"ffd/{name}"], out[f"fcr/{name}"] = ffd(mu, nu, eta), fcr(mu, nu)
        out[f"gini/{name}"] = gini(jnp.concatenate([mu, nu]))
    out["sum_sq_weights"] = sum_of_squares(params)
    return out


def ablation_accuracy(params: Params, mcfg: ModelConfig, tokens: jax.Array, labels_pp, p: int,
                      freq_mask: jax.Array, basis: str = "additive") -> jax.Array:
    """Accuracy on the whole (a, b) table after removing the masked frequencies from W_E."""
    logits = table_logits(ablate_embedding(params, p, freq_mask, basis), tokens, mcfg, p)
    return jnp.mean(models.predicts(logits, labels_pp))


# ----------------------------------------------------------------------------------------------
# Probes inside the training program.

@dataclasses.dataclass(frozen=True)
class ProbeSpec:
    """What the training program probes every `every` steps (static, hashable)."""

    p: int
    every: int
    eta: float = 0.5
    threshold: float = 0.85
    multiplicative: bool = False  # also the spectra over Z/(p-1) in discrete-log order
    table: bool = False  # Nanda's measures on the (a, b) table (one two-variable task on all of it)
    direction: str = "a+b"
    table_basis: str = "additive"  # 'multiplicative' for multiplication: over Z/(p-1) by log
    loss_dtype: Any = jnp.float32  # the restricted and excluded losses' (the run's loss dtype)


def probe_record(params: Params, table_tokens, table_labels, table_train, mcfg: ModelConfig,
                 spec: ProbeSpec) -> dict[str, jax.Array]:
    """Every probe of one seed's params, keyed 'probe/...'."""
    out = {f"probe/{k}": v for k, v in spectral_measures(params, spec.p, eta=spec.eta).items()}
    if spec.multiplicative:
        log = spectral_measures(params, spec.p, eta=spec.eta, basis="multiplicative")
        out.update({f"probe/log/{k}": v for k, v in log.items() if k != "sum_sq_weights"})
    if spec.table:
        out.update({f"probe/{k}": v for k, v in table_measures(
            params, table_tokens, table_labels, table_train, mcfg, spec).items()})
    return out
