"""Placing the seed axis on devices.

The stacked state, the per-seed split indices and the records are sharded along their leading
seed axis over a 1-D `Mesh` named 'seed'; the token tables are replicated. jit then runs each
device's seeds where they live, with no communication: the seeds are independent. The mesh uses
the largest number of devices that divides the number of seeds, so every device holds the same
number of seeds. On CPU, `JAX_NUM_CPU_DEVICES=8` (set before JAX starts) gives eight fake devices.

Several hosts: `grokjax train --distributed` calls `jax.distributed.initialize()` first (which
finds its coordinator, process count and id on SLURM, TPU pods and Open MPI by itself, or takes
them from `--coordinator`, `--num-processes`, `--process-id`); every process runs the same
command, `jax.devices()` is then every device of every host, and the mesh spans them all, each
host computing the seeds on its own devices. Records reach every host with `to_host` (an
all-gather); only the primary process (`is_primary`) writes the run directory's files and
events, while orbax writes each checkpoint together from all of them.
"""

from __future__ import annotations

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

from grokjax.errors import GrokjaxError


def seed_mesh(n_seeds: int, devices=None) -> Mesh:
    devices = list(devices if devices is not None else jax.devices())
    if jax.process_count() > 1:  # every host must hold seeds: use every device
        if n_seeds % len(devices):
            raise GrokjaxError(
                f"{n_seeds} seeds do not split evenly over the {len(devices)} devices of "
                f"{jax.process_count()} processes; use a multiple of {len(devices)} seeds")
        return Mesh(np.array(devices), ("seed",))
    n = max(d for d in range(1, len(devices) + 1) if n_seeds % d == 0)
    return Mesh(np.array(devices[:n]), ("seed",))


def initialize_distributed(coordinator: str | None = None, num_processes: int | None = None,
                           process_id: int | None = None) -> None:
    """jax.distributed.initialize, before anything else touches JAX's backends."""
    jax.distributed.initialize(coordinator_address=coordinator, num_processes=num_processes,
                               process_id=process_id)


def is_primary() -> bool:
    return jax.process_index() == 0


def to_host(tree):
    """Numpy copies of (possibly multi-host) arrays, whole on every process."""
    if jax.process_count() == 1:
        return jax.device_get(tree)
    from jax.experimental import multihost_utils  # pylint: disable=import-outside-toplevel
    return multihost_utils.process_allgather(tree, tiled=True)


def shard_seeds(tree, mesh: Mesh):
    """Puts every leaf's leading (seed) axis across the mesh."""
    return jax.device_put(tree, NamedSharding(mesh, P("seed")))


def replicate(tree, mesh: Mesh):
    return jax.device_put(tree, NamedSharding(mesh, P()))
