"""grokjax.memory: a run's memory from XLA's analysis of its compiled programs, before it
allocates; the warning and the refusal at their thresholds."""

import dataclasses
import gc

import jax
import numpy as np
import pytest

from grokjax import experiment, memory, numerics, program, sharding
from grokjax.config import load_config
from grokjax.errors import GrokjaxError
from tests.conftest import TINY


def tiny_experiment(*overrides: str) -> experiment.Experiment:
    cfg = load_config(TINY, list(overrides))
    numerics.configure(cfg.numerics.loss_dtype)
    return experiment.build(cfg)


def live_bytes() -> tuple[int, int]:
    """(count, bytes) of the arrays alive on the device, after collecting garbage: arrays an
    earlier test in this process dropped would otherwise vanish during the measurement."""
    gc.collect()
    arrays = jax.live_arrays()
    return len(arrays), sum(a.nbytes for a in arrays)


@pytest.fixture(scope="module")
def tiny_estimate():
    """(experiment, estimate, live arrays before and after the estimate) of tests/tiny.py,
    estimated where any transfer to a device would raise."""
    exp = tiny_experiment()
    before = live_bytes()
    with jax.transfer_guard("disallow_explicit"):  # no array placed (but the data made for its shapes)
        est = memory.estimate(exp)
    return exp, est, before, live_bytes()


@pytest.fixture(scope="module")
def larger_p_estimate():
    """The estimate of tests/tiny.py at p = 29."""
    return memory.estimate(tiny_experiment("p=29"))


def chunk_without_probes(p: int) -> memory.ProgramMemory:
    """The chunk program's memory of tests/tiny.py at `p` with probes off."""
    exp = tiny_experiment(f"p={p}", "probe.every=0")
    traced = memory.traces(exp)["chunk"]()
    return memory.ProgramMemory.of(traced.lower().compile(), 0)


def test_estimate_allocates_nothing(tiny_estimate):
    _, est, before, after = tiny_estimate
    assert after == before  # no array left on a device (count and bytes)
    assert set(est.compiled) == set(memory.PROGRAMS) == set(est.programs)


def test_estimate_is_xla_analysis_of_the_run_programs(tiny_estimate):
    """The chunk program the run compiles from concrete arguments has the memory analysis the
    estimate reports, and the estimate's compiled program, called as the run calls it, returns
    records and a state of the estimated bytes."""
    exp, est, _, _ = tiny_estimate
    tcfg = exp.cfg.train
    state, data = exp.init_state(), exp.place(exp.data())
    jitted = program.make_program(exp.scfg, tcfg.chunk_steps // tcfg.eval_every,
                                  tcfg.eval_every, exp.batching, exp.mesh)
    xla = jitted.lower(state, data, np.int32(1)).compile().memory_analysis()
    chunk = est.programs["chunk"]
    assert (chunk.argument, chunk.output, chunk.alias, chunk.temp) == (
        xla.argument_size_in_bytes, xla.output_size_in_bytes, xla.alias_size_in_bytes,
        xla.temp_size_in_bytes)
    assert chunk.temp > 0 and chunk.alias > 0  # the state is donated
    assert chunk.footprint == (xla.argument_size_in_bytes + xla.output_size_in_bytes
                               - xla.alias_size_in_bytes + xla.temp_size_in_bytes
                               + chunk.constants)
    nbytes = lambda tree: sum(x.nbytes for x in jax.tree.leaves(tree))  # noqa: E731
    assert est.state == nbytes(state) and est.data == nbytes(data)
    leaf = jax.tree.leaves(state)[0]
    state, records = est.compiled["chunk"](state, data, np.int32(1))
    assert leaf.is_deleted()  # donated, as by the jitted program
    assert est.state == nbytes(state)
    # the output's size also counts XLA's tuple index table: 8 bytes per output array
    n_out = len(jax.tree.leaves((state, records)))
    assert est.records == nbytes(records) + 8 * n_out, (est.records, nbytes(records), n_out)
    assert est.peak == max(est.programs["init"].footprint, chunk.footprint + est.records,
                           est.programs["final"].footprint)
    assert est.peak >= est.state + est.data + est.records
    assert est.total == est.peak * exp.mesh.size
    final = est.compiled["final"](state, data)
    assert sharding.to_host(final[1])["step"].shape == (exp.n_members,)


def test_estimate_grows_with_the_probe_table(tiny_estimate, larger_p_estimate):
    """The probes' share of the chunk program (its footprint less that of the same program
    without probes) holds at least one pass of logits over the (a, b) table (p * p inputs,
    d_vocab float32 logits each), and grows from p = 11 to 29 by at least the table's growth
    (with XLA's default flags over 4x, the table 7x; with the suite's, whose unfused
    temporaries are a larger fixed cost, 2.5x). The
    probes' Fourier directions are [K, p] waves (measures.key_projection):
    no [p-1, p, p] table of them is a constant of the program (it was, twice: 8 GB at p = 1009)."""
    shares, table = {}, {}
    for est in (tiny_estimate[1], larger_p_estimate):
        p = 29 if est is larger_p_estimate else 11
        chunk = est.programs["chunk"]
        shares[p] = chunk.footprint - chunk_without_probes(p).footprint
        d_vocab = p + 5 + 1
        table[p] = p * p * d_vocab * 4
        assert shares[p] >= table[p], (p, shares[p])
        if p == 29:  # < one table, which there (94 kB) dwarfs the [K, p] waves; at p = 11 a
            # table is 4.8 kB, the size of the waves and the logits' share's class waves
            assert chunk.constants < (p - 1) * p * p * 4, (p, chunk.constants)
    assert shares[29] - shares[11] >= table[29] - table[11], shares  # it grows with the table
    assert larger_p_estimate.peak - tiny_estimate[1].peak >= shares[29] - shares[11]


def test_check_warns_and_refuses_at_its_thresholds(tiny_estimate, monkeypatch):
    exp, est, _, _ = tiny_estimate
    needed = est.total  # the CPU: the whole process against the host's memory
    monkeypatch.delenv("GROKJAX_MEMORY_CHECK", raising=False)
    assert memory.check(exp, int(needed / 0.45), est=est) is None
    warning = memory.check(exp, int(needed / 0.6), est=est)
    assert warning and memory.gib(needed) in warning and memory.gib(int(needed / 0.6)) in warning
    assert "probe.every=0" in warning and "smaller p (11 now)" in warning
    assert "fewer members" not in warning  # one member at a time ('map'): they share little
    vmapped = dataclasses.replace(exp, batching="vmap")  # every member's temporaries at once
    assert "fewer members per run (2 now" in memory.check(vmapped, int(needed / 0.6), est=est)
    assert "train.batching=map" in memory.check(vmapped, int(needed / 0.6), est=est)
    with pytest.raises(GrokjaxError, match=r"needs ~.* 95% of the .* available.*refused.*"
                                           r"--set probe.every=0"):
        memory.check(exp, int(needed / 0.95), est=est)
    monkeypatch.setenv("GROKJAX_MEMORY_CHECK", "0")
    assert "may run out of memory" in memory.check(exp, int(needed / 0.95), est=est)
    assert memory.check(exp, est=est) is None  # this machine has more than 2 MB
    assert memory.host_available() > needed


def test_a_trace_out_of_host_memory_is_one_line(monkeypatch):
    exp = tiny_experiment()

    make_init = program.make_init

    class TooBig:  # the init program, whose trace runs out of host memory
        def __init__(self, *args, **kwargs):
            self.init = make_init(*args, **kwargs)

        def __call__(self, *args):  # (for the abstract state's shapes)
            return self.init(*args)

        def trace(self, *args):
            raise MemoryError("Unable to allocate 3.82 GiB")
    monkeypatch.setattr(program, "make_init", TooBig)
    with pytest.raises(GrokjaxError, match=r"tracing the init program ran out of host memory "
                                           r".* a smaller p \(11 now\), probes off"):
        memory.estimate(exp)


GROUPED = ("seeds=4", "train.batching=vmap", "tensorboard.enabled=false")


@pytest.fixture(scope="module")
def vmapped_estimate():
    """The estimate of tests/tiny.py with 4 members in one vmap."""
    return memory.estimate(tiny_experiment(*GROUPED))


def test_members_that_do_not_fit_in_one_vmap_run_in_groups_that_do(vmapped_estimate):
    """With vmap and 4 members, memory for little more than all of them at once: fit_members
    picks a group (its programs compiled again) whose estimate is below the refusal line,
    and whose temporaries are smaller; a run that fits keeps every member in one vmap."""
    exp, est = tiny_experiment(*GROUPED), vmapped_estimate
    assert memory.fit_members(exp, est, available=10 * est.total) is est
    assert exp.member_group == 0
    available = int(est.total * 1.05)  # all at once: 95% of it, above the refusal line
    grouped = memory.fit_members(exp, est, available=available)
    assert 1 <= exp.member_group <= 2
    assert grouped.total <= memory.REFUSE_FRACTION * available < est.total
    assert grouped.programs["chunk"].temp < est.programs["chunk"].temp
    warning = memory.check(exp, available, est=grouped)  # not refused
    assert warning is None or "if it runs short" in warning


def test_a_chosen_member_group_is_recorded_and_kept_on_resume(tmp_path, monkeypatch,
                                                              vmapped_estimate):
    """A run whose members do not fit in one vmap records the group it chose in run.json; its
    resume compiles with that group whatever the memory then (so it goes on bit for bit)."""
    from grokjax import cli
    from grokjax.store import rundir
    out = tmp_path / "r"
    overrides, need = GROUPED, vmapped_estimate.total
    groups = []  # the member group of every estimate the runs make
    estimate = memory.estimate
    monkeypatch.setattr(memory, "estimate", lambda exp: groups.append(exp.member_group)
                        or estimate(exp))
    monkeypatch.setattr(memory, "host_available", lambda: int(need * 1.05))
    args = ["train", TINY, "--out", str(out), "--no-progress"] + [
        a for o in overrides for a in ("--set", o)]
    assert cli.main(args + ["--steps", "20"]) == 0
    chosen = rundir.read_json(out / "run.json")["member_group"]
    assert groups == [0, chosen] and chosen in (1, 2)
    monkeypatch.setattr(memory, "host_available", lambda: 100 * need)
    groups.clear()
    assert cli.main(args + ["--steps", "30"]) == 0
    assert groups == [chosen]  # not all at once, though it would fit now
