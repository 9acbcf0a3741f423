"""How good a method's circuit is: against a known circuit (ROC AUC, average precision) and
by what its circuits of every size recover (MIB's faithfulness curve, CPR and CMD).

Every function takes and returns the member axis: scores [M, n_units] in, [M] out.

    importance        what ranks units: |score| (EAP-IG and MIB rank by absolute score), or
                      for ACDC the largest tau at which a unit is kept (`acdc_importance`)
    roc_auc           the probability that a true unit outranks a false one (ties count half:
                      the Mann-Whitney statistic), as ACDC's paper scores against known circuits
    average_precision the mean over true units of the precision at their rank (ties share a
                      threshold, as scikit-learn's average_precision_score)
    faithfulness_curve  the faithfulness of the top-k units' circuit for k = 0..n_units
    cpr_cmd           the area under that curve (CPR, higher is better) and between it and 1
                      (CMD, lower is better) over the fraction of units kept, by the trapezoid
                      rule on a linear axis: MIB's `evaluate_area_under_curve` (Mueller et al.
                      2025; MIB-circuit-track, MIB_circuit_track/evaluation.py), there at the
                      fractions 0.1%..100% of GPT-2's 32k edges, here at every k, which the
                      small graphs of these models allow
    random_curve      the mean curve of random orderings: the baseline of a method's curve

An AUC or AP is NaN for a member whose truth is all true or all false.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from grokjax.circuits import metrics
from grokjax.circuits.graph import Units
from grokjax.circuits.methods import Setup, member_metric, per_member


def importance(scores: np.ndarray) -> np.ndarray:
    """|score|: how much removing the unit moves the metric, either way."""
    return np.abs(np.asarray(scores, np.float64))


def acdc_importance(kept_TxMxN: np.ndarray, taus: np.ndarray) -> np.ndarray:
    """[M, N] the largest tau at which ACDC keeps each unit (-inf: kept at none), from one
    ACDC run over the taus `taus` [T]: a ranking whose ROC is ACDC's tau sweep."""
    kept = np.asarray(kept_TxMxN, bool)
    t = np.asarray(taus, np.float64)[:, None, None]
    return np.where(kept, t, -np.inf).max(axis=0)


def roc_auc(scores_MxN, truth_MxN) -> np.ndarray:
    """[M] ROC AUC of ranking units by `scores` (larger: more likely in the circuit) against
    the bool `truth` ([N] or [M, N])."""
    s = np.asarray(scores_MxN, np.float64)
    t = np.broadcast_to(np.asarray(truth_MxN, bool), s.shape)
    out = np.full(s.shape[0], np.nan)
    for m in range(s.shape[0]):
        pos, neg = s[m, t[m]], s[m, ~t[m]]
        if len(pos) and len(neg):
            greater = (pos[:, None] > neg[None]).sum() + 0.5 * (pos[:, None] == neg[None]).sum()
            out[m] = greater / (len(pos) * len(neg))
    return out


def average_precision(scores_MxN, truth_MxN) -> np.ndarray:
    """[M] average precision: sum over distinct score thresholds, from the highest down, of
    (recall gained) x (precision at that threshold)."""
    s = np.asarray(scores_MxN, np.float64)
    t = np.broadcast_to(np.asarray(truth_MxN, bool), s.shape)
    out = np.full(s.shape[0], np.nan)
    for m in range(s.shape[0]):
        n_pos = t[m].sum()
        if n_pos == 0 or n_pos == len(t[m]):
            continue
        ap, recall = 0.0, 0.0
        for threshold in np.unique(s[m])[::-1]:
            chosen = s[m] >= threshold
            tp = (chosen & t[m]).sum()
            ap += (tp / n_pos - recall) * tp / chosen.sum()
            recall = tp / n_pos
        out[m] = ap
    return out


def top_k_masks(importance_MxN) -> np.ndarray:
    """[M, N + 1, N] float: row k keeps the k most important units (ties: the earlier unit)."""
    imp = np.asarray(importance_MxN, np.float64)
    M, N = imp.shape
    rank = np.empty((M, N), np.int64)
    order = np.argsort(-imp, axis=1, kind="stable")
    np.put_along_axis(rank, order, np.arange(N)[None].repeat(M, 0), axis=1)
    return (rank[:, None, :] < np.arange(N + 1)[None, :, None]).astype(np.float32)


@functools.partial(jax.jit, static_argnames=("units", "metric"))
def _metric_of_masks(s: Setup, masks_MxKxN, units: Units, metric: str) -> jax.Array:
    """[M, K] the metric of each member's K circuits."""
    def one(sm, masks):
        return jax.lax.map(member_metric(sm, units, metric), masks, batch_size=8)
    return per_member(one, mapped=(True,))(s, masks_MxKxN)


def faithfulness_curve(s: Setup, units: Units, importance_MxN, metric: str) -> np.ndarray:
    """[M, N + 1] faithfulness of the circuit of the k most important units, k = 0..N:
    (metric(circuit) - metric(corrupted)) / (metric(full) - metric(corrupted)), so that
    k = 0 gives 0 and k = N gives 1."""
    values = np.asarray(_metric_of_masks(s, jnp.asarray(top_k_masks(importance_MxN)), units,
                                         metric), np.float64)
    full, corrupt = values[:, -1:], values[:, :1]
    return np.asarray(metrics.faithfulness(values, full, corrupt))


def random_curve(s: Setup, units: Units, metric: str, draws: int = 8, seed: int = 0
                 ) -> np.ndarray:
    """[M, N + 1] the mean faithfulness curve of `draws` random orderings of the units."""
    rng = np.random.default_rng(seed)
    M, N = s.n_members, len(units)
    curves = [faithfulness_curve(s, units, rng.random((M, N)), metric) for _ in range(draws)]
    return np.mean(curves, axis=0)


def cpr_cmd(curve_MxK) -> tuple[np.ndarray, np.ndarray]:
    """([M] CPR, [M] CMD) of faithfulness curves at k = 0..N units (x = k / N in [0, 1])."""
    f = np.asarray(curve_MxK, np.float64)
    dx = 1.0 / (f.shape[-1] - 1)

    def area(y):
        return ((y[..., 1:] + y[..., :-1]) / 2 * dx).sum(axis=-1)
    return area(f), area(np.abs(1.0 - f))
