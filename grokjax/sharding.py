"""Placing the seed axis on devices.

The stacked state, the per-seed split indices and the records are sharded along their leading
seed axis over a 1-D `Mesh` named 'seed'; the token tables are replicated. jit then runs each
device's seeds where they live, with no communication: the seeds are independent. The mesh uses
the largest number of devices that divides the number of seeds, so every device holds the same
number of seeds. On CPU, `JAX_NUM_CPU_DEVICES=8` (set before JAX starts) gives eight fake devices.
"""

from __future__ import annotations

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P


def seed_mesh(n_seeds: int, devices=None) -> Mesh:
    devices = list(devices if devices is not None else jax.devices())
    n = max(d for d in range(1, len(devices) + 1) if n_seeds % d == 0)
    return Mesh(np.array(devices[:n]), ("seed",))


def shard_seeds(tree, mesh: Mesh):
    """Puts every leaf's leading (seed) axis across the mesh."""
    return jax.device_put(tree, NamedSharding(mesh, P("seed")))


def replicate(tree, mesh: Mesh):
    return jax.device_put(tree, NamedSharding(mesh, P()))
