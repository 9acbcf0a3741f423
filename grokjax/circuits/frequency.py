"""MLP neurons grouped by their key frequency: the granularity that joins circuits to Fourier.

Nanda et al. cluster the last block's neurons by the frequency that explains most of their
activation over the (a, b) table (`probes.measures.best_frequency`). `frequency_groups` gives
every member's neurons a group: the frequency k when k explains more than `threshold` of the
neuron's variance and k is a key frequency of some member, else 'other'. The groups are the
union over members (so that every member has the same graph); a frequency a member does not
use is an empty group there, whose edges do nothing. Earlier layers' neurons are all 'other'.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from grokjax import models
from grokjax.models import ModelConfig, Params
from grokjax.probes import fourier
from grokjax.probes.measures import best_frequency, block_energy, key_frequencies


def neuron_frequencies(params: Params, cfg: ModelConfig, table_tokens, p: int,
                       threshold: float = 0.85):
    """For stacked params [M, ...]: ([M, F] best frequency, [M, F] whether it explains more
    than `threshold`, [M, K] key-frequency mask)."""
    def one(pm):
        _, neurons = models.logits_and_neurons(pm, table_tokens, cfg)
        best, frac = best_frequency(*block_energy(neurons.reshape(p, p, -1)))
        keys, _ = key_frequencies(best, frac, fourier.n_freqs(p), threshold)
        return best, frac > threshold, keys
    return jax.jit(jax.vmap(one))(params)


def frequency_groups(params: Params, cfg: ModelConfig, table_tokens, p: int,
                     threshold: float = 0.85) -> tuple[tuple[str, ...], np.ndarray]:
    """(group names such as ('14', '35', 'other'), membership [M, L, G, d_mlp] in {0, 1})."""
    best, explained, keys = map(np.asarray, neuron_frequencies(params, cfg, table_tokens, p,
                                                               threshold))
    freqs = sorted({int(k) + 1 for m in range(keys.shape[0]) for k in np.flatnonzero(keys[m])})
    M, F, L = best.shape[0], best.shape[1], cfg.num_layers
    member = np.zeros((M, L, len(freqs) + 1, F), np.float32)
    member[:, :L - 1, -1] = 1.0
    for g, k in enumerate(freqs):
        member[:, L - 1, g] = (best == k) & explained
    member[:, L - 1, -1] = 1.0 - member[:, L - 1, :-1].sum(axis=1)
    return tuple(str(k) for k in freqs) + ("other",), jnp.asarray(member)
