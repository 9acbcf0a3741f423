"""The memory a run will need, known before it allocates: XLA's own analysis of its programs.

    est = memory.estimate(exp)          # traces and compiles init, chunk and final programs
    print(est.describe())               # the peak and its parts
    warning = memory.check(exp, est=est)  # None, a warning line, or GrokjaxError (too much)
    states, records = est.compiled["chunk"](states, data, np.int32(n))   # the run's own program

What is measured. `estimate` traces, lowers and compiles every program a run dispatches: the
init program (`program.make_init`), the chunk program (`program.make_program`, probes
included) and the final program (`program.make_final`), on abstract arguments only:
`jax.ShapeDtypeStruct`s with the run's mesh shardings (`exp.abstract_state()`, and the shapes
of `exp.data()`, which is made on the host's CPU device, read and dropped: its tables are int32
[p*p, C], a few MB even at p = 1009). Nothing is placed on the run's devices. For each program,
per device:

    argument, output, alias, temp   XLA's `compiled.memory_analysis()`: its arguments, its
                                    outputs, the donated arguments whose buffers the outputs
                                    reuse, its temporaries
    constants                       the arrays the traced program closes over (its jaxpr's
                                    consts, e.g. the probes' Fourier waves): XLA embeds
                                    them in the executable and memory_analysis does not count
                                    them
    footprint = argument + output - alias + temp + constants     (live while it runs)

and for the run

    records = chunk.output - chunk.alias         one chunk's records (the output less the
                                                 donated state; with XLA's tuple index
                                                 table, 8 bytes per output array)
    peak    = max(init.footprint,
                  chunk.footprint + records,     the loop reads a chunk's records while the
                  final.footprint)               next chunk runs

per device. The state and the data stay on the device across programs; they are arguments of
the chunk and final programs, so the peak holds them (`state` and `data` report them). `total`
is `peak` times the mesh's devices in this process: on the CPU every device's buffers are the
one host memory. Left out: the process's own memory (Python, JAX, the executables' code: a
few hundred MB), what XLA uses while it compiles, host copies of the history, and the copies of
the first `tensorboard.detail_seeds` members' params taken for histograms (small).

What is compared. `check` compares the estimate with the memory available: on a GPU or TPU,
`peak` against the least free memory of the mesh's devices (`memory_stats()`: `bytes_limit`
less `bytes_in_use`); on the CPU (or a device that reports no limit), `total` against the
host's available memory (psutil's `virtual_memory().available` when psutil is installed, else
MemAvailable in /proc/meminfo). Above WARN_FRACTION (50%) of it, it returns a warning line;
above REFUSE_FRACTION (90%) it raises `GrokjaxError`. Both name the bytes needed, the bytes
available and the fixes that apply (fewer members, a smaller p, probes off, one member at a
time). `GROKJAX_MEMORY_CHECK=0` (or off, no, false) turns the refusal into a warning.

What it costs. Tracing and compiling are the run's own: `Estimate.compiled` holds the
executables (`jax.stages.Compiled`, called with concrete arguments of the same shapes and
equivalent shardings; the chunk program donates its state as the jitted one does), so a run
that calls them compiles nothing more. A run that jits its programs again instead compiles them
again: on a one-device mesh the state `make_init` returns is sharded P() where
`abstract_state` says P('member'), so the persistent compilation cache misses the chunk and
final programs there.

Tracing runs the programs' host code, and that is not in the estimate (it is small: the
probes' Fourier waves are [K, p]; they were a [p-1, p, p] float64 table, 12.5 GB while tracing
at p = 1009, before `measures.key_projection` became separable). A trace that runs out of
memory is a `GrokjaxError` naming the fixes where Python's allocation fails (under a ulimit);
without one, the kernel may kill the process first.
"""

from __future__ import annotations

import dataclasses
import os
import time
from typing import Callable

import jax
import numpy as np
from jax.extend import core as jax_core
from grokjax import program
from grokjax.errors import GrokjaxError
from grokjax.experiment import Experiment
from grokjax.store import checkpoint as ckpt_lib

WARN_FRACTION = 0.5  # of the memory available: a warning
REFUSE_FRACTION = 0.9  # of the memory available: GrokjaxError
OFF = ("0", "false", "no", "off")  # GROKJAX_MEMORY_CHECK values that make a refusal a warning

PROGRAMS = ("init", "chunk", "final")


@dataclasses.dataclass(frozen=True)
class ProgramMemory:
    """One compiled program's memory, in bytes per device (see the module docstring)."""

    argument: int
    output: int
    alias: int  # donated arguments whose buffers the outputs reuse
    temp: int
    constants: int  # arrays the program closes over, embedded in the executable
    analysed: bool = True  # False where the backend gives no analysis (then all 0 but constants)

    @property
    def footprint(self) -> int:
        """The bytes live while the program runs."""
        return self.argument + self.output - self.alias + self.temp + self.constants

    @classmethod
    def of(cls, compiled: jax.stages.Compiled, constants: int) -> "ProgramMemory":
        m = compiled.memory_analysis()
        if m is None:
            return cls(0, 0, 0, 0, constants, analysed=False)
        return cls(argument=int(m.argument_size_in_bytes), output=int(m.output_size_in_bytes),
                   alias=int(m.alias_size_in_bytes), temp=int(m.temp_size_in_bytes),
                   constants=constants)


@dataclasses.dataclass(frozen=True)
class Estimate:
    """A run's memory, in bytes per device unless named otherwise (see the module docstring)."""

    programs: dict[str, ProgramMemory]  # 'init', 'chunk', 'final'
    state: int  # the stacked state (one device's shard)
    data: int  # the placed data: shared tables and per-member splits (one device's)
    n_devices: int  # the mesh's devices in this process
    seconds: float  # tracing, lowering and compiling the programs
    compiled: dict[str, jax.stages.Compiled] = dataclasses.field(
        default_factory=dict, repr=False, compare=False)

    @property
    def records(self) -> int:
        """One chunk's records on the device: the chunk's output less the donated state."""
        chunk = self.programs["chunk"]
        return chunk.output - chunk.alias

    @property
    def parts(self) -> dict[str, int]:
        """What the run holds while each program runs: its footprint, and for the chunk
        program also the records of the chunk before."""
        return {name: m.footprint + (self.records if name == "chunk" else 0)
                for name, m in self.programs.items()}

    @property
    def peak(self) -> int:
        """The most the run holds at once on one device."""
        return max(self.parts.values())

    @property
    def total(self) -> int:
        """`peak` over this process's devices: what a CPU run takes from the host's memory."""
        return self.peak * self.n_devices

    @property
    def largest(self) -> str:
        """The program that makes the peak."""
        return max(self.parts, key=self.parts.get)

    def describe(self) -> str:
        """One line: the peak, where it is, and its parts."""
        devices = (f" per device, {gib(self.total)} on {self.n_devices} devices"
                   if self.n_devices > 1 else "")
        parts = ", ".join(f"{k} {gib(v)}" for k, v in self.parts.items())
        big = self.programs[self.largest]
        return (f"peak {gib(self.peak)}{devices} in the {self.largest} program: temporaries "
                f"{gib(big.temp)}, constants {gib(big.constants)}, state {gib(self.state)}, "
                f"data {gib(self.data)}, records {gib(self.records)} (programs: {parts})")


def gib(n: float) -> str:
    """Bytes for a message: GiB from 1 GiB, else MiB."""
    if n >= 2**30:
        return f"{n / 2**30:.1f} GiB"
    return f"{n / 2**20:.{0 if n >= 2**24 else 1}f} MiB"


def _nbytes(tree) -> int:
    """The bytes of a tree of ShapeDtypeStructs on one device (a sharded leaf: its shard)."""
    total = 0
    for x in jax.tree.leaves(tree):
        shape = x.sharding.shard_shape(x.shape) if x.sharding is not None else x.shape
        total += int(np.prod(shape, dtype=np.int64)) * np.dtype(x.dtype).itemsize
    return total


def _constant_bytes(closed: jax_core.ClosedJaxpr) -> int:
    """The bytes of every array a traced program closes over (its consts and those of the
    jaxprs inside it: scan, cond and shard_map bodies), each counted once."""
    seen: dict[int, int] = {}

    def walk(x) -> None:
        if isinstance(x, jax_core.ClosedJaxpr):
            for c in x.consts:
                dtype = np.dtype(c.dtype if hasattr(c, "dtype") else np.asarray(c).dtype)
                seen[id(c)] = int(np.prod(np.shape(c), dtype=np.int64)) * dtype.itemsize
            walk(x.jaxpr)
        elif isinstance(x, jax_core.Jaxpr):
            for eqn in x.eqns:
                for value in eqn.params.values():
                    walk(value)
        elif isinstance(x, (tuple, list)):
            for y in x:
                walk(y)

    walk(closed)
    return sum(seen.values())


def abstract_data(exp: Experiment) -> program.Data:
    """ShapeDtypeStructs of `exp.place(exp.data())`, placed as `place` places them. The data
    is made on the host's CPU device (`exp.data()` makes jax arrays), read for its shapes and
    dropped; nothing reaches the run's devices (the one transfer `estimate` makes, allowed
    here under any transfer guard)."""
    with jax.default_device(jax.devices("cpu")[0]), jax.transfer_guard("allow"):
        host = exp.data()
    return exp.place(host, put=ckpt_lib.abstract_like)


def traces(exp: Experiment, state=None, data: program.Data | None = None
           ) -> dict[str, Callable[[], jax.stages.Traced]]:
    """Each program a run dispatches, traced on abstract arguments when called: the jitted
    programs `grokjax.run` makes, with the arguments it passes them (`state`, `data`: the
    abstract ones, made here when None). Keep in step with grokjax.run."""
    scfg, tcfg = exp.scfg, exp.cfg.train
    state = exp.abstract_state() if state is None else state
    data = abstract_data(exp) if data is None else data
    active = jax.ShapeDtypeStruct((), np.int32)  # the run passes np.int32(n)
    return {
        "init": lambda: program.make_init(scfg, exp.n_tasks, **exp.lifting).trace(
            exp.abstract_init_inputs()),
        "chunk": lambda: program.make_program(
            scfg, tcfg.chunk_steps // tcfg.eval_every, tcfg.eval_every, **exp.lifting).trace(
                state, data, active),
        "final": lambda: program.make_final(scfg, **exp.lifting).trace(state, data),
    }


def estimate(exp: Experiment) -> Estimate:
    """The memory a run of `exp` needs, from XLA's analysis of its compiled programs, with no
    device allocation (the module docstring defines it). It traces and compiles every program
    of the run (seconds: the run's own compiles); `Estimate.compiled` holds them."""
    t0 = time.perf_counter()
    state, data = exp.abstract_state(), abstract_data(exp)
    compiled, memory = {}, {}
    for name, trace in traces(exp, state, data).items():
        try:
            traced = trace()
        except MemoryError as e:
            raise GrokjaxError(
                f"tracing the {name} program ran out of host memory ({e}) at p={exp.cfg.p}, "
                f"before anything was allocated on a device: {_fixes(exp)}") from None
        constants = _constant_bytes(traced.jaxpr)
        compiled[name] = traced.lower().compile()
        del traced  # its constants, before the next program is traced
        memory[name] = ProgramMemory.of(compiled[name], constants)
    n_devices = sum(d.process_index == jax.process_index() for d in exp.mesh.devices.flat)
    return Estimate(programs=memory, state=_nbytes(state), data=_nbytes(data),
                    n_devices=n_devices, seconds=time.perf_counter() - t0, compiled=compiled)


def host_available() -> int:
    """The host memory available now: psutil's figure if psutil is installed, else
    MemAvailable of /proc/meminfo; 0 where neither is known (then nothing is checked)."""
    try:
        import psutil  # pylint: disable=import-outside-toplevel  (not a dependency)
        return int(psutil.virtual_memory().available)
    except ImportError:
        pass
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def device_free(exp: Experiment) -> int | None:
    """The least free memory of the mesh's devices in this process (GPU, TPU): the
    allocator's `bytes_limit` less its `bytes_in_use`; None on the CPU or where a device
    reports no limit."""
    free = []
    for d in exp.mesh.devices.flat:
        if d.process_index != jax.process_index():
            continue
        if d.platform == "cpu":
            return None
        try:
            stats = d.memory_stats() or {}
        except Exception:  # noqa: BLE001  (a backend without memory_stats)
            return None
        if "bytes_limit" not in stats:
            return None
        free.append(int(stats["bytes_limit"]) - int(stats.get("bytes_in_use", 0)))
    return min(free) if free else None


def _fixes(exp: Experiment, est: Estimate | None = None) -> str:
    """The changes that make this run smaller, for messages: fewer members only where the
    members' share is large (batched with vmap, each member's temporaries are live at once;
    with 'map' only the state and records grow with them), and not for tracing (`est` None),
    which traces one member's computation."""
    fixes = []
    vmapped = exp.batching == "vmap" and exp.n_members > 1
    if est is not None and exp.n_members > 1 and (
            vmapped or 4 * (est.state + est.records) >= est.peak):
        fixes.append(f"fewer members per run ({exp.n_members} now: fewer --seeds or a smaller "
                     "--grid, over several runs)")
    if est is not None and vmapped:
        fixes.append("one member at a time (--set train.batching=map)")
    fixes.append(f"a smaller p ({exp.cfg.p} now)")
    if exp.scfg.probe is not None:
        fixes.append("probes off (--set probe.every=0)")
    return ", ".join(fixes)


def _needed(exp: Experiment, est: Estimate, available: int | None) -> tuple[int, int, str]:
    """(bytes needed, bytes available, where): `peak` per device against the least free
    device memory (GPU, TPU), else `total` against the host's memory (or `available`)."""
    free = device_free(exp)
    needed, where = (est.peak, "per device") if free is not None else (est.total, "in all")
    have = available if available is not None else (
        free if free is not None else host_available())
    return needed, have, where


def fit_members(exp: Experiment, est: Estimate, available: int | None = None) -> Estimate:
    """With vmap and no member group yet (`train.member_group` = 0, a fresh run or one that
    ran with all members at once): when every member of a device in one vmap
    would need more than WARN_FRACTION of the memory, the largest group of members that fits
    (`exp.member_group`, set here; the programs compiled again, its estimate returned). The
    resident state, data and records do not shrink with the group; the temporaries of one group
    are live at a time (lax.map over groups), so the group is sized from them, then halved
    until the run fits below REFUSE_FRACTION, or a group is one member. (Not across several
    processes, which would each measure their own memory: set `train.member_group` there.)"""
    per_device = exp.n_members // exp.mesh.size
    if (exp.batching != "vmap" or exp.member_group or per_device < 2
            or jax.process_count() > 1  # (each process would measure its own memory)
            or not all(m.analysed for m in est.programs.values())):
        return est
    needed, have, _ = _needed(exp, est, available)
    if have <= 0 or needed <= WARN_FRACTION * have:
        return est
    # what stays whatever the group: state, data, records (per device; `needed` may be a total)
    resident = (est.state + est.data + est.records) * needed / est.peak
    if resident > REFUSE_FRACTION * have:
        return est  # no group helps: `check` refuses it
    group = int(per_device * (WARN_FRACTION * have - resident) / max(1, needed - resident))
    group = max(1, min(per_device // 2, group))
    while True:
        exp.member_group = group
        est = estimate(exp)
        needed, have, _ = _needed(exp, est, available)
        if needed <= REFUSE_FRACTION * have or group == 1:
            return est
        group //= 2


def check(exp: Experiment, available: int | None = None, *,
          est: Estimate | None = None) -> str | None:
    """None if the run fits; a warning line if its estimated peak is more than WARN_FRACTION
    of the memory available; GrokjaxError above REFUSE_FRACTION (a warning line instead with
    GROKJAX_MEMORY_CHECK=0). `available`: the bytes to compare with, per device where the
    devices report a limit (GPU, TPU), else for the whole process (CPU); measured when None.
    `est`: an estimate made already (else one is made here)."""
    est = est if est is not None else estimate(exp)
    if not all(m.analysed for m in est.programs.values()):
        return (f"XLA gives no memory analysis on {jax.default_backend()}: this run's memory "
                "is not checked")
    needed, have, where = _needed(exp, est, available)
    if have <= 0 or needed <= WARN_FRACTION * have:
        return None
    big = est.programs[est.largest]
    text = (f"this run needs ~{gib(needed)} {where} at its peak, {needed / have:.0%} of the "
            f"{gib(have)} available (XLA's estimate of its {est.largest} program: temporaries "
            f"{gib(big.temp)}, constants {gib(big.constants)})")
    if needed <= REFUSE_FRACTION * have:
        return f"{text}; if it runs short, use {_fixes(exp, est)}"
    if os.environ.get("GROKJAX_MEMORY_CHECK", "").lower() in OFF:
        return f"{text}; it may run out of memory (GROKJAX_MEMORY_CHECK=0: run anyway)"
    raise GrokjaxError(f"{text}; refused before allocating it: use {_fixes(exp, est)} "
                       "(GROKJAX_MEMORY_CHECK=0 runs it anyway)")
