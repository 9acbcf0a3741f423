"""Placing the member axis on devices.

A run's leading axis holds its members (its seeds, or every grid setting times every seed). The
stacked state, the per-member split indices and the records are sharded along it over a 1-D
`Mesh` whose axis is named `AXIS` ('member'); the token tables are replicated. jit then runs
each device's members where they live, with no communication: the members are independent. The
mesh uses the largest number of devices that divides the number of members, so every device
holds the same number. On CPU, `JAX_NUM_CPU_DEVICES=8` (set before JAX starts) gives eight fake devices.

Several hosts: `grokjax train --distributed` calls `jax.distributed.initialize()` first (which
finds its coordinator, process count and id on SLURM, TPU pods and Open MPI by itself, or takes
them from `--coordinator`, `--num-processes`, `--process-id`); every process runs the same
command, `jax.devices()` is then every device of every host, and the mesh spans them all, each
host computing the members on its own devices. Records reach every host with `to_host` (an
all-gather); only the primary process (`is_primary`) writes the run directory's files and
events, while orbax writes each checkpoint together from all of them.
"""

from __future__ import annotations

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

from grokjax.errors import GrokjaxError

AXIS = "member"  # the mesh axis of the members


def member_mesh(n_members: int, devices=None) -> Mesh:
    devices = list(devices if devices is not None else jax.devices())
    if jax.process_count() > 1:  # every host must hold members: use every device
        if n_members % len(devices):
            raise GrokjaxError(
                f"{n_members} seeds (grid members) do not split evenly over the {len(devices)} "
                f"devices of {jax.process_count()} processes; use a multiple of {len(devices)}")
        return Mesh(np.array(devices), (AXIS,))
    n = max(d for d in range(1, len(devices) + 1) if n_members % d == 0)
    return Mesh(np.array(devices[:n]), (AXIS,))


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


def members(mesh: Mesh) -> NamedSharding:
    """The leading (member) axis across the mesh."""
    return NamedSharding(mesh, P(AXIS))


def replicated(mesh: Mesh) -> NamedSharding:
    return NamedSharding(mesh, P())


def shard_members(tree, mesh: Mesh):
    """Puts every leaf's leading (member) axis across the mesh."""
    return jax.device_put(tree, members(mesh))


def replicate(tree, mesh: Mesh):
    return jax.device_put(tree, replicated(mesh))
