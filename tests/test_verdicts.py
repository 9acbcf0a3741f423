"""Every verdict rule of grokjax.report.claims can come out every way: fed members that should
agree, members that should disagree and a run too short to say, it says so. A rule that could
never disagree would make a report that leans one way (the issue this file answers)."""

import dataclasses

import numpy as np
import pytest

from grokjax.report import claims as C
from grokjax.store import rundir
from grokjax.store.files import RunFiles


def member(seed=0, grok=-1, mem=-1, acc=0.02, train_loss=1e-7, r=0.3, **extra):
    return {"seed": seed, "grok_step": grok, "memorisation_step": mem, "best_test_acc": acc,
            "train_loss": train_loss, "hparams": {"train_fraction": r}, **extra}


def run(entries, steps):
    return {"seeds": entries, "steps": steps, "p": 97, "train_fraction": 0.3,
            "acc_threshold": 0.99}


def budget(rule, paper_steps):
    """The rule as a claim with the paper's budget `paper_steps` runs it: `evaluate` hands the
    claim's budget to its rule in the summary."""
    return lambda entries, summary, run_dir: rule(entries, {**summary,
                                                            "paper_steps": paper_steps}, run_dir)


def verdict(rule, entries, steps, run_dir=None):
    return C.verdict_kind(rule(entries, run(entries, steps), run_dir)[1])


GROKKED = [member(s, grok=400, mem=100, acc=1.0) for s in range(3)]
NONE = [member(s, mem=100) for s in range(3)]
ONE_OF_THREE = [member(0, grok=400, mem=100, acc=1.0)] + NONE[1:]


def probes(n_keys, restricted=1e-8, explained=0.9):
    return {"key_freqs": list(range(n_keys)), "restricted_loss": restricted,
            "neurons_explained": explained}


def tasks(add, multiply):
    return {"add": {"grok_step": add, "test_acc": 1.0 if add >= 0 else 0.1},
            "multiply": {"grok_step": multiply, "test_acc": 1.0 if multiply >= 0 else 0.1}}


def arms(**grok_steps):
    """Members of named arms on the same seeds (the arm first, then the baseline)."""
    return [dict(member(s, grok=g, mem=50, acc=1.0 if g >= 0 else 0.1),
                 hparams={"arm": name, "train_fraction": 0.3})
            for name, steps in grok_steps.items() for s, g in enumerate(steps)]


def wd(r, decay, grok=-1):
    """A member of a train fraction x weight decay grid."""
    return dict(member(grok=grok, acc=1.0 if grok >= 0 else 0.1),
                hparams={"train_fraction": r, "weight_decay": decay})


def sphere(alpha, train_loss, test_loss, mem=100, seed=0):
    """A member trained on the sphere of weight norm alpha * its initial one."""
    return dict(member(seed, mem=mem, train_loss=train_loss), test_loss=test_loss,
                hparams={"train_fraction": 0.3, "weight_scale": alpha})


LU = [sphere(0.25, 4.7, 4.7), sphere(0.5, 0.9, 2.0), sphere(1.0, 1e-2, 0.02),
      sphere(2.0, 1e-6, 3.0), sphere(3.0, 2e-6, 9.0)]


# rule, members that agree (run steps), that disagree (steps), too short to say (steps)
CASES = {
    "groks": (budget(C.groks(), 1000), (GROKKED, 500), (NONE, 1000), (NONE, 500)),
    # within a short run the members that have not grokked yet may still
    "groks, some": (budget(C.groks(), 1000), (GROKKED, 500), (ONE_OF_THREE, 1000),
                    (ONE_OF_THREE, 500)),
    "does_not_grok": (budget(C.does_not_grok(), 1000), (NONE, 1000), (ONE_OF_THREE, 500),
                      (NONE, 500)),
    "probe_range": (C.probe_range("key_freqs", 3, 6),
                    ([dict(e, probes=probes(4)) for e in GROKKED], 500),
                    ([dict(e, probes=probes(9)) for e in GROKKED], 500),
                    ([dict(e, probes=probes(4)) for e in NONE], 500)),
    "restricted_below_train": (C.restricted_below_train(),
                               ([dict(e, probes=probes(4, 1e-8)) for e in GROKKED], 500),
                               ([dict(e, probes=probes(4, 1.0)) for e in GROKKED], 500),
                               ([dict(e, probes=probes(4, 1e-8)) for e in NONE], 500)),
    "restricted_above_train": (C.restricted_above_train(100),
                               ([dict(e, probes=probes(4, 0.7)) for e in GROKKED], 500),
                               ([dict(e, probes=probes(4, 1e-8)) for e in GROKKED], 500),
                               ([dict(e, probes=probes(4, 0.7)) for e in NONE], 500)),
    "task_groks": (budget(C.task_groks("add"), 1000),
                   ([member(s, tasks=tasks(300, 500)) for s in range(3)], 500),
                   ([member(s, tasks=tasks(-1, 500)) for s in range(3)], 1000),
                   ([member(s, tasks=tasks(-1, 500)) for s in range(3)], 500)),
    "task_groks, not expected": (budget(C.task_groks("add", expected=False), 1000),
                                 ([member(s, tasks=tasks(-1, 500)) for s in range(3)], 1000),
                                 ([member(s, tasks=tasks(300, 500)) for s in range(3)], 500),
                                 ([member(s, tasks=tasks(-1, 500)) for s in range(3)], 500)),
    "groks_last": (C.groks_last("multiply"),
                   ([member(s, tasks=tasks(300, 500)) for s in range(3)], 600),
                   ([member(s, tasks=tasks(500, 300)) for s in range(3)], 600),
                   ([member(s, tasks=tasks(300, -1)) for s in range(3)], 400)),
    "no_grokking_delay": (C.no_grokking_delay(2.0),
                          ([member(s, grok=150, mem=100) for s in range(3)], 500),
                          ([member(s, grok=900, mem=100) for s in range(3)], 1000),
                          ([member(s) for s in range(3)], 50)),
    "steps_per_percent": (C.steps_per_percent(0.27, 0.30, 0.40, 0.50),
                          ([member(0, grok=1000 * 1.45 ** 3, r=0.27), member(1, grok=1000)],
                           9000),
                          ([member(0, grok=1000, r=0.27), member(1, grok=1000)], 9000),
                          ([member(0, r=0.27), member(1, grok=1000)], 9000)),
    "smallest_grokking_r": (C.smallest_grokking_r(0.5),
                            ([member(0, r=0.4), member(1, grok=300, r=0.5)], 1000),
                            ([member(0, grok=300, r=0.4), member(1, grok=300, r=0.5)], 1000),
                            ([member(0, r=0.4), member(1, r=0.5)], 1000)),
    "less_data_with": (C.less_data_with("weight_decay"),
                       ([wd(0.2, 1, 300), wd(0.4, 1, 300), wd(0.2, 0), wd(0.4, 0, 900)], 1000),
                       ([wd(0.2, 1), wd(0.4, 1, 300), wd(0.2, 0), wd(0.4, 0, 900)], 1000),
                       ([wd(0.2, 1), wd(0.4, 1), wd(0.2, 0), wd(0.4, 0)], 1000)),
    "less_data_with, none without": (C.less_data_with("weight_decay"),
                                     ([wd(0.2, 1, 300), wd(0.4, 1, 300), wd(0.2, 0),
                                       wd(0.4, 0)], 1000),
                                     ([wd(0.2, 1, 300), wd(0.4, 1, 300), wd(0.2, 0, 900),
                                       wd(0.4, 0, 900)], 1000),
                                     ([wd(0.2, 1), wd(0.3, 1, 300), wd(0.2, 0), wd(0.3, 0)],
                                      1000)),
    "lu_shape": (C.lu_shape(), (LU, 3000),
                 # the test loss falls all the way: no U
                 ([sphere(a, tr, te) for a, tr, te in ((0.25, 4.7, 4.7), (1.0, 1e-2, 1.0),
                                                       (3.0, 1e-6, 0.01))], 3000),
                 ([dict(e, memorisation_step=-1) for e in LU], 100)),
    "faster_than": (C.faster_than("base"), (arms(fast=[100, 150, 120, 90], base=[900] * 4), 1000),
                    (arms(fast=[900, 950, 800, -1], base=[500, 450, 400, 600]), 1000),
                    (arms(fast=[-1] * 4, base=[-1] * 4), 1000)),
}
SHORT = {C.INCONCLUSIVE, C.CONSISTENT}


@pytest.mark.parametrize("name", list(CASES))
def test_each_rule_agrees_disagrees_and_says_when_the_run_is_too_short(name):
    rule, agree, disagree, short = CASES[name]
    assert verdict(rule, *agree) == C.AGREES
    assert verdict(rule, *disagree) == C.DISAGREES
    assert verdict(rule, *short) in SHORT


def test_does_not_grok_at_a_short_budget_is_consistent_so_far_unless_a_control_grokked():
    rule = budget(C.does_not_grok(control={"task": "add"}), 300_000)
    target = [dict(member(s), hparams={"task": "ab+b", "train_fraction": 0.3}) for s in range(3)]
    control = [dict(member(s, grok=4000), hparams={"task": "add", "train_fraction": 0.3})
               for s in range(3)]
    value, v = rule(target, run(target + control, 8000), None)
    assert v == f"{C.AGREES} (within 8000 steps, where the control grokked)" and "task=add" in value
    failed = [dict(e, grok_step=-1) for e in control]
    assert rule(target, run(target + failed, 8000), None)[1] == \
        f"{C.CONSISTENT} (8000 of 300000 steps)"
    # a claim relative to its control alone (no budget of the paper's) waits for the control
    relative = C.does_not_grok(control={"task": "add"})
    assert relative(target, run(target + failed, 8000), None)[1] == \
        f"{C.CONSISTENT} (8000 steps; the control did not grok)"
    assert relative(target, run(target + control, 8000), None)[1].startswith(C.AGREES)
    # at the paper's budget too: a setting where the control does not grok tells nothing apart
    value, v = rule(target, run(target + failed, 300_000), None)
    assert v == f"{C.CONSISTENT} (300000 steps; the control did not grok)"
    assert "the control task=add grokked 0/3" in value
    assert rule(target, run(target + control, 300_000), None)[1].startswith(C.AGREES)


def test_stopping_at_memorisation_needs_a_train_set_still_held():
    """Prieto et al.'s softmax runs stop at memorisation; a run whose members lose their train
    set again (unstable training) has not stopped there, whatever its test accuracy."""
    rule = budget(C.does_not_grok(memorised=True), 1000)
    held = [dict(e, train_acc=1.0) for e in NONE]
    lost = [dict(e, train_acc=0.8) for e in NONE]
    assert verdict(rule, held, 1000) == C.AGREES
    assert verdict(rule, lost, 1000) == C.INCONCLUSIVE
    assert verdict(rule, [dict(e, train_acc=1.0) for e in ONE_OF_THREE], 1000) == C.DISAGREES
    assert verdict(rule, held, 500) == C.CONSISTENT
    # without the option the same lost run agrees: the claim is only that it does not grok
    assert verdict(budget(C.does_not_grok(), 1000), lost, 1000) == C.AGREES


def test_a_claim_of_grokking_near_a_step_disagrees_far_from_it():
    rule = C.groks(near=1000)
    assert verdict(rule, [member(s, grok=g) for s, g in enumerate((600, 900, 1900))], 3000) \
        == C.AGREES
    assert verdict(rule, [member(s, grok=g) for s, g in enumerate((300, 400, 450))], 3000) \
        == C.DISAGREES


def test_a_one_seed_grokking_claim_can_disagree_at_the_paper_s_budget():
    assert verdict(budget(C.groks(), 1000), [member()], 1000) == C.DISAGREES
    assert verdict(budget(C.groks(), 1000), [member()], 999) == C.INCONCLUSIVE


def test_the_spectrum_pattern_agrees_disagrees_and_waits_for_grokking(tmp_path):
    def history(ffd, fcr):
        rundir.write_npz(RunFiles(tmp_path).history, {
            "probe/ffd/W_E": np.asarray([ffd] * 3), "probe/fcr/W_E": np.asarray([fcr] * 3)})
    rule = C.spectrum_pattern("falls", "flat")
    history([1.0, 0.5], [0.9, 0.9])
    assert verdict(rule, GROKKED, 500, tmp_path) == C.AGREES
    history([1.0, 1.0], [0.9, 0.4])
    assert verdict(rule, GROKKED, 500, tmp_path) == C.DISAGREES
    assert verdict(rule, NONE, 500, tmp_path) == C.INCONCLUSIVE
    history([1.0, 0.5], [0.9, 0.9])  # the pattern, but without grokking: too short to say
    assert verdict(rule, NONE, 500, tmp_path) == C.INCONCLUSIVE
    assert verdict(C.spectrum_pattern("falls", "flat", needs_grokking=False), NONE, 500,
                   tmp_path) == C.AGREES  # a claim about a task that does not grok
    # ... which may yet move in a run shorter than the paper's
    quiet = budget(C.spectrum_pattern("falls", "flat", needs_grokking=False), 1000)
    assert verdict(quiet, NONE, 500, tmp_path) == C.CONSISTENT
    assert verdict(quiet, NONE, 1000, tmp_path) == C.AGREES
    history([1.0, 1.0], [0.9, 0.9])  # the pattern misses: that it may move later does not help
    assert verdict(quiet, NONE, 500, tmp_path) == C.DISAGREES
    # one member of three grokked and the pattern misses: the other two may still move
    waits = budget(C.spectrum_pattern("falls", "flat"), 1000)
    assert verdict(waits, ONE_OF_THREE, 500, tmp_path) == C.INCONCLUSIVE
    assert verdict(waits, ONE_OF_THREE, 1000, tmp_path) == C.DISAGREES
    # a pattern decided by less than the band (0.02) either way is not decided
    for fcr_end, said in ((0.83, C.AGREES), (0.81, C.INCONCLUSIVE),  # falls by 0.07, 0.09
                          (0.79, C.INCONCLUSIVE), (0.77, C.DISAGREES)):  # 0.11, 0.13
        history([1.0, 0.5], [0.9, fcr_end])
        assert verdict(rule, GROKKED, 500, tmp_path) == said, fcr_end
    history([1.0, 0.5], [0.9, 0.79])  # decided by 0.01: more seeds, not more steps, settle it
    said = rule(GROKKED, run(GROKKED, 500), tmp_path)[1]
    # ... unless members have not grokked yet in a short run: they are read at its end, and a
    # longer run reads them at their grok step
    assert C.WITHIN_SPREAD not in waits(ONE_OF_THREE, run(ONE_OF_THREE, 500), tmp_path)[1]
    assert C.settle(C.Claim("x", "", "", "", "r", rule, paper_steps=1000), said, False, 3) \
        == "more seeds (9): a margin within the spread over seeds is not decided by a longer run"
    # ... up to five times the paper's seeds: past that, the threshold is the question
    assert C.settle(C.Claim("x", "", "", "", "r", rule, paper_steps=1000), said, False, 15) \
        .startswith("not more seeds: on 15, five times the paper's")


def test_a_smallest_r_or_less_data_below_the_papers_budget_is_consistent_so_far():
    """A smaller r that has not grokked yet may grok in the paper's longer run."""
    grid = [member(0, r=0.4), member(1, grok=300, r=0.5)]
    assert verdict(budget(C.smallest_grokking_r(0.5), 3000), grid, 1000) == C.CONSISTENT
    assert verdict(budget(C.smallest_grokking_r(0.5), 3000), grid, 3000) == C.AGREES
    nothing_without = [wd(0.2, 1, 300), wd(0.4, 1, 300), wd(0.2, 0), wd(0.4, 0)]
    assert verdict(budget(C.less_data_with("weight_decay"), 3000), nothing_without,
                   1000) == C.CONSISTENT
    assert verdict(budget(C.less_data_with("weight_decay"), 3000), nothing_without,
                   3000) == C.AGREES
    only_with = [wd(0.2, 1, 300), wd(0.4, 1, 300)]
    assert verdict(C.less_data_with("weight_decay"), only_with, 1000) == C.INCONCLUSIVE
    # at the paper's budget, nothing grokking with the intervention, or no r at all, disagrees
    nothing = [wd(0.2, 1), wd(0.4, 1), wd(0.2, 0), wd(0.4, 0)]
    assert verdict(budget(C.less_data_with("weight_decay"), 3000), nothing, 3000) \
        == C.DISAGREES
    assert verdict(budget(C.less_data_with("weight_decay"), 3000), nothing, 1000) \
        == C.INCONCLUSIVE
    too_much = [wd(0.2, 1), wd(0.4, 1, 300), wd(0.2, 0), wd(0.4, 0, 900)]
    assert verdict(budget(C.less_data_with("weight_decay"), 3000), too_much, 1000) \
        == C.INCONCLUSIVE
    none_grok = [member(0, r=0.4), member(1, r=0.5)]
    assert verdict(budget(C.smallest_grokking_r(0.5), 3000), none_grok, 3000) == C.DISAGREES
    larger = [member(0, r=0.4), member(1, r=0.5), member(2, grok=300, r=0.6)]
    assert verdict(budget(C.smallest_grokking_r(0.5), 3000), larger, 3000) == C.DISAGREES
    assert verdict(budget(C.smallest_grokking_r(0.5), 3000), larger, 1000) == C.INCONCLUSIVE


def test_phases_wait_for_unfinished_members_only_while_they_could_make_two_thirds():
    done = {"memorisation_end": 1, "circuit_formation_end": 2, "cleanup_end": 3}
    found = [done] * 3 + [dict(done, cleanup_end=None)] * 3

    def said(held, steps):
        return C.verdict_kind(C._phases_verdict("v", held, found, run([], steps), 40_000)[1])
    assert said(0, 12_000) == C.DISAGREES  # 0 + 3 unfinished < 4 of 6
    assert said(1, 12_000) == C.INCONCLUSIVE  # 1 + 3 could still be 4 of 6
    assert said(1, 40_000) == C.DISAGREES  # at the paper's step the unfinished do not hold
    assert said(4, 12_000) == C.AGREES


def test_data_cost_medians_count_the_members_that_did_not_grok():
    """Power's steps per point: a median that members which did not grok decide is only a
    bound, so the ratio is not taken from the grokked members alone."""
    rule = C.steps_per_percent(0.27, 0.30, 0.40, 0.50)
    grid = [member(0, grok=1450, r=0.27), member(1, r=0.27), member(2, r=0.27),
            *[member(s, grok=500, r=0.30) for s in range(3)]]
    assert verdict(rule, grid, 9000) == C.INCONCLUSIVE  # grokked-only medians: +43%, agrees


def test_every_rule_of_the_module_is_exercised_here_or_on_files_in_test_report():
    rules = {n for n, f in vars(C).items() if callable(f) and not n.startswith("_")
             and getattr(f, "__module__", "") == C.__name__
             and "decide" in getattr(getattr(f, "__code__", None), "co_varnames", ())}
    assert len(rules) == 23, sorted(rules)  # the rules are found
    covered = {n.split(",")[0] for n in CASES} | {"spectrum_pattern", "transfer_effect",
                                                  "weight_norm_rises_then_ends_below_init",
                                                  "softmax_collapses"}
    on_files = {"excluded_rises_before_grokking", "phases_at_marks", "gini_rises_at_cleanup",
                "weight_norm_falls_in_phases", "key_frequency_ablation", "spectra_shape"}
    assert rules - covered - on_files == set(), rules - covered - on_files


def test_a_probe_still_moving_toward_the_range_before_the_papers_step_is_not_yet_a_disagreement(
        tmp_path):
    rule = budget(C.probe_range("neurons_explained", 0.8, 1.0), 4000)
    grokked = [dict(e, probes=probes(4, explained=0.6)) for e in GROKKED]

    def curve(*values):  # each member's neurons_explained at probe steps 0, 100, ..., 1200
        rundir.write_npz(RunFiles(tmp_path).history, {
            "probe/step": np.arange(0, 1300, 100),
            "probe/neurons_explained": np.tile(np.interp(np.arange(13), (0, 10, 12), values),
                                               (3, 1))})

    curve(0.0, 0.3, 0.6)  # +0.3 over the last sixth (1000 -> 1200): still rising
    value, said = rule(grokked, run(grokked, 1200), tmp_path)
    assert C.verdict_kind(said) == C.INCONCLUSIVE and "+0.3 over its last 200 steps" in value
    curve(0.0, 0.6, 0.6)  # settled below the range
    assert verdict(rule, grokked, 1200, tmp_path) == C.DISAGREES
    curve(0.0, 0.9, 0.6)  # moving away from it
    assert verdict(rule, grokked, 1200, tmp_path) == C.DISAGREES
    curve(0.0, 0.3, 0.6)  # at the paper's step a value still rising disagrees all the same
    assert verdict(rule, grokked, 4000, tmp_path) == C.DISAGREES
    assert verdict(rule, grokked, 1200, None) == C.DISAGREES  # no history: no trend to read
    curve(0.0, 0.595, 0.6)  # +0.005 over 200 steps: 0.67 by the paper's step, short of 0.8
    rule = budget(C.probe_range("neurons_explained", 0.8, 1.0, still=0.001), 4000)
    assert verdict(rule, grokked, 1200, tmp_path) == C.DISAGREES
    above = budget(C.probe_range("neurons_explained", 0.0, 0.3), 4000)
    curve(1.0, 0.9, 0.6)  # above the range and falling fast enough to reach it by 4000
    assert verdict(above, grokked, 1200, tmp_path) == C.INCONCLUSIVE
    curve(1.0, 0.6, 0.6)  # above it and settled
    assert verdict(above, grokked, 1200, tmp_path) == C.DISAGREES
    nan = [dict(e, probes=probes(4, explained=float("nan"))) for e in GROKKED]
    assert verdict(rule, nan, 1200, tmp_path) == C.INCONCLUSIVE


def test_members_that_settled_do_not_hide_the_ones_still_climbing(tmp_path):
    """Seeds that grokked early settle while late ones climb: each member is projected on its
    own recent change (nanda_p113-16k: three seeds settled at 0.84-0.95, three at 0.63-0.71
    still rising, a median change of +0.017 under `still`)."""
    rule = budget(C.probe_range("neurons_explained", 0.8, 1.0), 4000)
    ends = (0.65, 0.7, 0.62, 0.84, 0.88, 0.95)  # median 0.77: under the range
    six = [dict(e, seed=i, probes=probes(4, explained=v))
           for i, (e, v) in enumerate(zip(GROKKED * 2, ends))]

    def curves(ends, rises):  # probe steps 0, 100, ..., 1200; each rises by `rise` at the end
        lines = [np.interp(np.arange(13), (0, 10, 12), (0.0, end - rise, end))
                 for end, rise in zip(ends, rises)]
        rundir.write_npz(RunFiles(tmp_path).history, {"probe/step": np.arange(0, 1300, 100),
                                                      "probe/neurons_explained": np.stack(lines)})
    curves(ends, (0.09, 0.04, 0.03, 0.0, 0.0, 0.0))  # median change 0.015: under `still`
    value, said = rule(six, run(six, 1200), tmp_path)
    assert C.verdict_kind(said) == C.INCONCLUSIVE and "3/6 members moving" in value
    curves(ends, (0.0,) * 6)  # all settled, median 0.77: below the range
    assert verdict(rule, six, 1200, tmp_path) == C.DISAGREES
    curves(ends, (0.03, 0.0, 0.0, 0.0, 0.0, 0.0))  # one climbing past 0.76 lifts the median
    assert verdict(rule, six, 1200, tmp_path) == C.INCONCLUSIVE
    low = [dict(e, probes=probes(4, explained=v)) for e, v in zip(six, (0.3, 0.35, 0.4))]
    low += six[3:]
    curves((0.3, 0.35, 0.4, 0.84, 0.88, 0.95), (0.021, 0.0, 0.0, 0.0, 0.0, 0.0))
    assert verdict(rule, low, 1200, tmp_path) == C.DISAGREES  # to 0.59: the median to 0.72


def test_each_row_says_what_would_settle_it_and_why_a_claim_has_no_run(tmp_path):
    claim = C.Claim("x", "test", "x does not grok", "no", "missing", C.does_not_grok(),
                    paper_steps=1000, paper_seeds=3, not_run_why="needs model Y")
    row = C.evaluate(claim, tmp_path)
    assert row["verdict"] == f"{C.NOT_RUN}: needs model Y" and row["seeds"] == 0
    assert C.settle(claim, f"{C.CONSISTENT} (500 of 1000 steps)", False, 3) == \
        "1,000 steps x 3 seeds (3,000 member-steps)"
    assert C.settle(claim, C.AGREES, True, 1) == "3 seeds (this rests on 1)"
    assert C.settle(claim, C.AGREES, True, 3) == ""
    assert C.at_paper_scale(claim, 1000, 3) and not C.at_paper_scale(claim, 1000, 2)
    assert C.at_paper_scale(C.Claim("y", "", "", "", "r", C.groks()), 10, 1) is None
    elsewhere = dataclasses.replace(claim, settle_by="the paper's own model")
    assert C.at_paper_scale(elsewhere, 1000, 3) is False  # another setting: never the paper's


def test_a_claim_reads_its_paper_scale_run_where_it_exists(tmp_path):
    claim = C.Claim("x", "test", "x groks", "groks", ("paper/x", "x"), C.groks())
    assert C.run_dir(claim, tmp_path) == tmp_path / "paper/x"  # neither exists: the first
    for name in ("x", "paper/x"):
        (tmp_path / name).mkdir(parents=True)
    rundir.write_json(RunFiles(tmp_path / "x").summary, {"seeds": []})
    assert C.run_dir(claim, tmp_path) == tmp_path / "x"
    rundir.write_json(RunFiles(tmp_path / "paper/x").summary, {"seeds": []})
    assert C.run_dir(claim, tmp_path) == tmp_path / "paper/x"


def test_the_key_frequency_ablation_reads_the_probe_report(tmp_path):
    """Nanda §4.2 from `grokjax probe`'s report: without the key frequencies accuracy falls to
    chance, with only them it stays; the latest report is read; no report says which command
    makes one."""
    rule = C.key_frequency_ablation()

    def report(step, without, only):
        rundir.write_json(RunFiles(tmp_path).probes / f"report-step{step}.json", {
            "step": step, "seeds": [{"seed": s, "ablation": {
                "intact_acc": 1.0, "without_all_key_freqs_acc": without,
                "without_all_other_freqs_acc": only}} for s in range(3)]})
    assert "grokjax probe" in C.key_frequency_ablation()(GROKKED, run(GROKKED, 500), tmp_path)[1]
    (tmp_path / "probes").mkdir()
    report(500, without=0.01, only=0.999)
    assert verdict(rule, GROKKED, 500, tmp_path) == C.AGREES
    report(900, without=0.6, only=0.999)  # the latest report: removing the keys costs little
    assert verdict(rule, GROKKED, 900, tmp_path) == C.DISAGREES
    report(1000, without=0.01, only=0.5)  # the other frequencies matter too
    assert verdict(rule, GROKKED, 1000, tmp_path) == C.DISAGREES
    assert verdict(rule, NONE, 1000, tmp_path) == C.INCONCLUSIVE


def test_spectra_shapes_read_the_final_spectrum_and_its_key_components(tmp_path):
    """Furuta's Figs. 3, 5, 7: sparse or all frequencies by FFD, and a bias of the key
    components to cos (or sin: reported, not judged), by the cos share over the components
    above half the largest; the noise of the other frequencies does not count. A member within
    0.02 of a threshold neither agrees nor disagrees."""
    K, rng = 48, np.random.default_rng(0)

    def history(ffd, cos, sin):  # 3 members, 2 probes; W_E and W_L alike
        mu = np.tile(rng.uniform(0, 0.01, K), (3, 2, 1))
        nu = np.tile(rng.uniform(0, 0.01, K), (3, 2, 1))
        mu[..., [4, 9]], nu[..., [4, 9]] = cos, sin
        rundir.write_npz(RunFiles(tmp_path).history, {
            **{f"probe/ffd/{w}": np.full((3, 2), ffd) for w in ("W_E", "W_L")},
            **{f"probe/{w}/mu": mu for w in ("W_E", "W_L")},
            **{f"probe/{w}/nu": nu for w in ("W_E", "W_L")}})
    sparse_cos = C.spectra_shape({"W_E": "sparse"}, biased=("W_L",))
    history(0.05, 1.0, 0.3)
    assert verdict(sparse_cos, GROKKED, 500, tmp_path) == C.AGREES
    assert C.key_bias(np.asarray([1.0, 0.01]), np.asarray([0.3, 0.01])) == pytest.approx(1 / 1.3)
    history(0.05, 0.3, 1.0)  # biased to sin: biased all the same (the paper's labels may swap)
    assert verdict(sparse_cos, GROKKED, 500, tmp_path) == C.AGREES
    history(0.05, 1.0, 0.9)  # unbiased key components
    assert verdict(sparse_cos, GROKKED, 500, tmp_path) == C.DISAGREES
    history(0.9, 1.0, 0.3)  # all frequencies, not sparse
    assert verdict(sparse_cos, GROKKED, 500, tmp_path) == C.DISAGREES
    assert verdict(C.spectra_shape({"W_E": "all"}), GROKKED, 500, tmp_path) == C.AGREES
    history(0.05, 1.0, 0.48)  # a cos share of 0.676: over 2/3, but by less than the band
    assert verdict(sparse_cos, GROKKED, 500, tmp_path) == C.INCONCLUSIVE
    history(0.05, 1.0, 0.52)  # 0.658: under 2/3 by less than the band
    assert verdict(sparse_cos, GROKKED, 500, tmp_path) == C.INCONCLUSIVE
    history(0.26, 1.0, 0.3)  # FFD just over the sparse bound: within the band too
    assert verdict(sparse_cos, GROKKED, 500, tmp_path) == C.INCONCLUSIVE
    assert verdict(sparse_cos, NONE, 500, tmp_path) == C.INCONCLUSIVE


@pytest.mark.parametrize("ours, theirs, helps", [
    ((400, 500), (3000, 8000), C.AGREES),  # groks earlier than from scratch
    ((4000, 8000), (3000, 8000), C.DISAGREES),  # later
    ((-1, 8000), (3000, 8000), C.DISAGREES),  # not at all, where scratch grokked in budget
    ((400, 8000), (-1, 8000), C.AGREES),  # groks where scratch did not
    ((-1, 8000), (-1, 30000), C.INCONCLUSIVE),  # neither
    ((-1, 8000), (19480, 30000), C.INCONCLUSIVE),  # stopped before scratch's grok step
    ((3000, 8000), (3000, 8000), (C.DISAGREES, C.DISAGREES)),  # the same: neither
    ((-1, 3000), (3000, 8000), C.INCONCLUSIVE),  # stopped at scratch's grok step
])
def test_a_transfer_helps_or_hurts_against_its_run_from_scratch(ours, theirs, helps):
    def members(grok):
        return [member(s, grok=grok, mem=100, acc=1.0 if grok >= 0 else 0.1) for s in range(3)]
    summary = {**run(members(ours[0]), ours[1]),
               "control": {"entries": members(theirs[0]), "steps": theirs[1], "run": "x"}}
    kinds = {h: C.verdict_kind(C.transfer_effect(h)(summary["seeds"], summary, None)[1])
             for h in ("helps", "hurts")}
    if isinstance(helps, tuple):
        helps, flipped = helps
    else:
        flipped = {C.AGREES: C.DISAGREES, C.DISAGREES: C.AGREES}.get(helps, helps)
    assert kinds == {"helps": helps, "hurts": flipped}
    no_control = C.transfer_effect("helps")(summary["seeds"], run(summary["seeds"], 10), None)
    assert "control has not been run" in no_control[1]


def write_run(path, r, grok_steps, steps=5000):
    """A run directory's config and summary, members of seeds 0.. without a grid."""
    from grokjax import config as config_lib
    files = RunFiles(path)
    files.summary.parent.mkdir(parents=True)
    files.config.write_text(config_lib.to_json(config_lib.load_config(
        "tests/tiny.py", [f"train_fraction={r}"])))
    entries = [dict(member(s, grok=g, mem=100, acc=1.0 if g >= 0 else 0.1), hparams={})
               for s, g in enumerate(grok_steps)]
    rundir.write_json(files.summary, {**run(entries, steps), "task": "add", "train_fraction": r,
                                      "grokked": sum(g >= 0 for g in grok_steps)})


def test_a_claim_of_some_members_reads_the_first_run_that_holds_them(tmp_path):
    """A paper-scale grid still missing a task does not hide the reduced run that has it."""
    write_run(tmp_path / "paper/x", 0.3, [400])
    write_run(tmp_path / "x", 0.3, [400])
    paper = RunFiles(tmp_path / "paper/x").summary
    rundir.write_json(paper, {**rundir.read_json(paper), "task": "multiply"})
    claim = C.Claim("x", "test", "x groks", "groks", ("paper/x", "x"), C.groks(),
                    members={"task": "add"})
    assert C.run_dir(claim, tmp_path) == tmp_path / "x"
    assert C.run_dir(dataclasses.replace(claim, members={"task": "multiply"}),
                     tmp_path) == tmp_path / "paper/x"


def test_a_rule_judges_by_the_budget_its_claim_states(tmp_path):
    """A claim states the paper's budget once (`paper_steps`), and `evaluate` hands it to the
    rule: the same rule, members and run length judge otherwise under another budget."""
    write_run(tmp_path / "short", 0.3, [-1, -1, -1], steps=500)
    write_run(tmp_path / "long", 0.3, [-1, -1, -1], steps=1000)
    for run_name, said in (("short", C.INCONCLUSIVE), ("long", C.DISAGREES)):
        claim = C.Claim("x", "test", "x groks", "groks", run_name, C.groks(), paper_steps=1000)
        assert C.verdict_kind(C.evaluate(claim, tmp_path)["verdict"]) == said
    longer = C.Claim("x", "test", "x groks", "groks", "long", C.groks(), paper_steps=2000)
    assert C.verdict_kind(C.evaluate(longer, tmp_path)["verdict"]) == C.INCONCLUSIVE


def test_a_memorised_train_set_is_judged_by_the_runs_own_threshold(tmp_path):
    """`evaluate` hands the rule the run's train.acc_threshold from its config.json: members
    ending at 96% train accuracy hold their train set at a 95% threshold, not at 99%."""
    claim = C.Claim("x", "test", "x stops at memorisation", "no", "run",
                    C.does_not_grok(memorised=True), paper_steps=5000)
    write_run(tmp_path / "run", 0.3, [-1, -1, -1])
    summary = RunFiles(tmp_path / "run").summary
    rundir.write_json(summary, {**rundir.read_json(summary), "seeds": [
        dict(e, train_acc=0.96) for e in rundir.read_json(summary)["seeds"]]})
    assert C.verdict_kind(C.evaluate(claim, tmp_path)["verdict"]) == C.INCONCLUSIVE  # at 0.99
    config = RunFiles(tmp_path / "run").config
    cfg = rundir.read_json(config)
    rundir.write_json(config, {**cfg, "train": {**cfg["train"], "acc_threshold": 0.95}})
    row = C.evaluate(claim, tmp_path)
    assert C.verdict_kind(row["verdict"]) == C.AGREES and "grokked at 95%" in row["scale"]


def test_a_group_of_runs_one_per_fraction_reads_as_one_run(tmp_path):
    """Power's minibatches rule out a train-fraction grid: a run per fraction under one
    directory, which a claim reads as one run whose members keep their run's fraction."""
    write_run(tmp_path / "paper/frac/r0.27", 0.27, [4420, 4500, 4300])
    write_run(tmp_path / "paper/frac/r0.3", 0.3, [1450, 1500, 1400])
    claim = C.Claim("x", "test", "1% less data costs 40-50% more steps", "+40-50%",
                    ("paper/frac", "frac"), C.steps_per_percent(0.27, 0.30, 0.40, 0.50))
    assert C.run_dir(claim, tmp_path) == tmp_path / "paper/frac"
    row = C.evaluate(claim, tmp_path)
    assert row["verdict"] == C.AGREES and row["seeds"] == 3, row  # (4420 / 1450)^(1/3) = 1.45
    assert "4420 at r = 0.27, 1450 at r = 0.3" in row["ours"] and "r=0.27/0.3" in row["scale"]


def test_a_claims_control_run_reaches_its_rule(tmp_path):
    write_run(tmp_path / "transfer", 0.3, [900, 1000, 800], steps=8000)
    claim = C.Claim("x", "test", "PG-E helps", "helps", "transfer", C.transfer_effect("helps"),
                    control=(("paper/scratch", "scratch"), {}))
    assert "control has not been run" in C.evaluate(claim, tmp_path)["verdict"]
    write_run(tmp_path / "scratch", 0.3, [4000, 4300, -1], steps=30000)
    row = C.evaluate(claim, tmp_path)
    assert row["verdict"] == C.AGREES and "from scratch 4300 (scratch, 3 seeds)" in row["ours"], row


def test_the_unconstrained_norm_rises_while_memorising_and_ends_below_its_start(tmp_path):
    def history(norms):
        rundir.write_npz(RunFiles(tmp_path).history, {
            "probe/step": np.arange(0, 500, 100),
            "probe/sum_sq_weights": np.asarray([np.square(norms)] * 3)})
    rule = C.weight_norm_rises_then_ends_below_init()
    history([10.0, 12.0, 11.0, 8.0, 6.0])  # up to 1.2x by step 100 (memorised), ends at 0.6x
    assert verdict(rule, GROKKED, 500, tmp_path) == C.AGREES
    history([10.0, 9.0, 8.0, 7.0, 6.0])  # never rises
    assert verdict(rule, GROKKED, 500, tmp_path) == C.DISAGREES
    history([10.0, 12.0, 12.0, 12.0, 11.0])  # has not come down yet, and nothing grokked
    assert verdict(rule, NONE, 500, tmp_path) == C.INCONCLUSIVE


def test_furuta_s_restricted_loss_is_read_from_the_probe_report(tmp_path):
    """keys_only: the restricted loss without the per-class constant (Furuta's Table A.4), from
    `grokjax probe`'s report, not the summary's probes (Nanda's, with the constant)."""
    nanda = [dict(e, probes=probes(4, 1e-8)) for e in GROKKED]
    rule = C.restricted_above_train(100, keys_only=True)
    assert verdict(rule, nanda, 500, tmp_path) == C.INCONCLUSIVE  # no report yet
    assert verdict(C.restricted_above_train(100), nanda, 500, tmp_path) == C.DISAGREES

    RunFiles(tmp_path).probes.mkdir()

    def report(loss):
        rundir.write_json(RunFiles(tmp_path).probes / "report-step500.json", {
            "step": 500, "seeds": [{"seed": e["seed"], "restricted_loss_keys_only": loss}
                                   for e in GROKKED]})
    report(0.7)
    assert verdict(rule, nanda, 500, tmp_path) == C.AGREES
    assert verdict(C.restricted_below_train(keys_only=True), nanda, 500, tmp_path) == \
        C.DISAGREES
    report(1e-9)
    assert verdict(rule, nanda, 500, tmp_path) == C.DISAGREES
    value, v = C.restricted_below_train(keys_only=True)(nanda, run(nanda, 500), tmp_path)
    assert v == C.AGREES and "with the per-class constant (Nanda's) 1e-08" in value
    assert verdict(rule, nanda, 600, tmp_path) == C.INCONCLUSIVE  # a report of another step


def test_softmax_collapse_reads_the_final_share_of_collapsed_train_rows(tmp_path):
    def history(*final):
        rundir.write_npz(RunFiles(tmp_path).history, {"train/softmax_collapse": np.asarray(
            [[[0.0], [f]] for f in final])})
    rule = C.softmax_collapses(0.5)
    history(0.93, 1.0, 0.2)
    assert verdict(rule, GROKKED, 500, tmp_path) == C.AGREES
    history(0.0, 0.0, 0.6)
    assert verdict(rule, GROKKED, 500, tmp_path) == C.DISAGREES
    assert verdict(rule, [member(s) for s in range(3)], 50, tmp_path) == C.INCONCLUSIVE


def test_the_lu_shape_needs_both_an_l_and_a_u():
    """A train loss that rises again at large norms is no L, though the test loss is a U; a
    test loss whose minimum is at an end is no U; seeds at one norm count by their median."""
    rising = [sphere(a, tr, te) for a, tr, te in
              ((0.25, 4.7, 4.7), (1.0, 1e-2, 0.02), (2.0, 0.5, 3.0), (3.0, 1e-3, 9.0))]
    assert verdict(C.lu_shape(), rising, 3000) == C.DISAGREES
    flat_u = [sphere(a, tr, te) for a, tr, te in
              ((0.25, 4.7, 4.7), (1.0, 1e-2, 0.02), (3.0, 1e-6, 0.03))]  # 1.5x: not 2x
    assert verdict(C.lu_shape(), flat_u, 3000) == C.DISAGREES
    seeds = LU + [dict(e, seed=1) for e in LU] + [dict(LU[2], seed=2, test_loss=50.0)]
    value, v = C.lu_shape()(seeds, run(seeds, 3000), None)
    assert v == C.AGREES and "1: 0.01/0.02" in value, value  # the median of 0.02, 0.02, 50


def test_a_speed_up_whose_interval_straddles_the_factor_is_inconclusive():
    mixed = arms(fast=[300, 900, 200, 1000, 400, 800], base=[600, 500, 700, 400, 900, 300])
    value, v = C.faster_than("base")(mixed, run(mixed, 2000), None)
    assert v.startswith(C.INCONCLUSIVE) and "straddles 1x" in v and "vs base" in value
    # at a 2x bar a clear 1.5x speed-up disagrees
    clear = arms(fast=[400] * 4, base=[600] * 4)
    assert verdict(C.faster_than("base", 2.0), clear, 2000) == C.DISAGREES


def test_a_verdict_taken_at_another_setting_says_which_run_would_settle_it():
    claim = C.Claim("x", "src", "faster", "43.8x", "run", C.faster_than("base"),
                    paper_steps=40_000, paper_seeds=1, settle_by="the paper's own setting")
    assert C.settle(claim, C.DISAGREES, False, 16) == "the paper's own setting"
    assert C.settle(claim, f"{C.INCONCLUSIVE}: the interval straddles 1x", False, 16) == \
        "the paper's own setting"
    assert C.settle(claim, C.AGREES, False, 16) == "the paper's own setting"  # not its setting


def test_a_verdict_on_the_grokked_members_rests_on_their_seeds(tmp_path):
    """A rule that judges only the grokked members (a probe of the grokked algorithm) counts
    their seeds, not the run's: 2 of 3 here; a rule on every member counts all 3."""
    write_run(tmp_path / "run", 0.3, [400, 500, -1])
    summary = RunFiles(tmp_path / "run").summary
    rundir.write_json(summary, {**rundir.read_json(summary), "seeds": [
        dict(e, probes=probes(4, explained=0.9)) for e in rundir.read_json(summary)["seeds"]]})
    claim = C.Claim("x", "test", "most neurons are explained", "0.8-1", "run",
                    C.probe_range("neurons_explained", 0.8, 1.0))
    row = C.evaluate(claim, tmp_path)
    assert row["verdict"] == C.AGREES and (row["seeds"], row["run_seeds"]) == (2, 3), row
    assert C.settle(claim, row["verdict"], row["at_paper_scale"], row["seeds"]) \
        == "3 seeds (this rests on 2)"
    row = C.evaluate(dataclasses.replace(claim, predicate=C.groks()), tmp_path)
    assert (row["seeds"], row["run_seeds"]) == (3, 3)


def test_no_grokking_delay_against_a_control_measures_the_delay_by_grokkings_own():
    """With a control where the model groks (delay 7,000 steps), members that grok 200 steps
    after memorising at step 140 generalise almost at once (they fail the 2x-memorisation
    test without one); a delay of 1,000 steps is not; a control that never grokked says
    nothing."""
    def with_control(rule, control):
        return lambda entries, summary, run_dir: rule(entries, {**summary, "control": {
            "entries": control, "steps": 10_000, "run": "r0.3"}}, run_dir)
    grokking = [member(s, grok=8000, mem=1000) for s in range(3)]
    quick = [member(s, grok=340, mem=140) for s in range(3)]
    slow = [member(s, grok=1140, mem=140) for s in range(3)]
    rule = C.no_grokking_delay()
    assert verdict(rule, quick, 1000) == C.DISAGREES  # 340 > 2 x 140
    assert verdict(with_control(rule, grokking), quick, 1000) == C.AGREES  # 200 <= 700
    assert verdict(with_control(rule, grokking), slow, 2000) == C.DISAGREES  # 1,000 > 700
    value = with_control(rule, grokking)(quick, run(quick, 1000), None)[0]
    assert "the delay against 7,000 steps, the median of r0.3 (3 seeds)" in value
    assert verdict(with_control(rule, NONE), quick, 1000) == C.INCONCLUSIVE
