"""The papers' claims as data (paper.md sections 1.8, 2, 3, 4): `grokjax report` checks each
against the runs committed under experiments/results/ and writes REPRODUCTION.md.

    grokjax report                      # experiments/claims.py, experiments/results -> REPRODUCTION.md

Each claim names its source, the paper's value and scale, the run that tests it (a directory
under experiments/results/, and the members of a grid run it reads), and the predicate that
decides agreement (grokjax/report/claims.py). A claim whose run is not there yet is reported as
"not run". Runs and their scale: experiments/results/README.md.
"""

import pathlib

from grokjax.config import exec_file
from grokjax.report.claims import (Claim, does_not_grok, excluded_rises_before_grokking,
                                   faster_than, gini_rises_at_cleanup, groks, groks_last,
                                   key_frequency_ablation, less_data_with, lu_shape,
                                   no_grokking_delay, phases_at_marks, probe_range,
                                   restricted_above_train, restricted_below_train,
                                   smallest_grokking_r, softmax_collapses, spectra_shape,
                                   spectrum_pattern, steps_per_percent, task_groks,
                                   transfer_effect, weight_norm_falls_in_phases,
                                   weight_norm_rises_then_ends_below_init)

FURUTA = "p=97, r=0.3, 3 seeds, up to 3e5 steps"
POWER = "x / y mod 97, r=0.5, 2-layer model, batch 512, 1e5 steps"
POWER_CPU = ("a 2-core CPU trains Power's model at ~12 member-steps/s a core "
             "(configs/power.py, measured)")
# configs/comparison.py at Furuta's add mod 97 where it was run (experiments/paper_scale.py),
# else at its quick setting, and the quick setting's weight-decay-free arms run longer
COMPARISON = ("paper/comparison-furuta", "comparison-quick")
WD0 = ("paper/comparison-furuta", "comparison-wd0-80k", "comparison-wd0", "comparison-quick")
WD0_F32 = ("comparison-wd0-f32-80k", "comparison-wd0-f32")  # 80k: StableMax and softmax only
GROKFAST_SETTLE = ("Grokfast's own setting: grokjax train configs/comparison.py:grokfast (6 arms "
                   "x 16 seeds x 5e4 steps = 4.8e6 member-steps: ~100 CPU-hours at the measured "
                   "~13 member-steps/s a core; a GPU's job, issue #24; a stage of "
                   "experiments/paper_scale.py)")
FURUTA_CMP_SETTLE = ("the same arms at Furuta's add mod 97, r=0.3 (configs/comparison.py:furuta, "
                     "144 members x 2e4 steps: ~18 CPU-hours at ~45 member-steps/s; a stage of "
                     "experiments/paper_scale.py)")
# what would settle the wd-0 rows: the quick transformer ran them to the paper's budgets, so
# what is left is the paper's own models (the "Fig. 1's Adam" rows give this transformer
# Fig. 1's optimiser)
WD0_SETTLE = ("the paper's own models: Fig. 1's one-hot MLP (StableMax, softmax: the rows "
              "\"..., Fig. 1's model\", configs/prieto.py) and Fig. 6's transformer at lr 1e-3 "
              "(⊥AdamW)")
WD0_PRIETO_RUN = ("comparison-wd0's command with 3 seeds, 80,000 steps, the adamw-wd0 and "
                  "stablemax-wd0 arms, --set optim.lr=0.01 --set optim.b2=0.999 --set "
                  "optim.eps=1e-25 (experiments/results/README.md)")
PRIETO_MLP_SETTLE = ("Fig. 1's own model, an MLP on one-hot operands with no bias: the rows "
                     "\"..., Fig. 1's model\" (configs/prieto.py)")
PRIETO_FIG1 = ("add mod 113, r=0.4; their MLP on one-hot operands (200-200, no bias), AdamW lr "
               "1e-2, eps 1e-25, no wd, full batch (run_main_experiments.sh)")
PRIETO_FIG1_RUN = ("needs grokjax train configs/prieto.py:{arm} (3 seeds of 8e4 steps; ~15 "
                   "steps/s a seed on one CPU core: ~1.5 h a seed)")
PRIETO = "modular arithmetic, MLPs and transformers, float32 losses"
# their budgets, from the paper's code (run_main_experiments.sh, its figures' commands): Fig. 1's
# StableMax and softmax runs are an MLP at r = 0.4, lr 1e-2, 80,000 full-batch steps; Fig. 6's
# ⊥AdamW run is a 1-layer transformer at r = 0.4, lr 1e-3, 5,000. Fig. 1's losses are float64:
# its StableMax cross entropy casts the logits to float64 (utils.py), and its softmax run is
# `--softmax_precision 64`; its Adam has eps 1e-25 (the code's default) and, for StableMax,
# beta2 0.999. Fig. 1(b): StableMax's test accuracy rises from ~30k steps to ~97% by ~75k;
# Fig. 1(c): softmax stays at 0% test accuracy through 80k ("overfitting")
PRIETO_STABLEMAX = ("add mod 113; Fig. 1: an MLP (200-200, no bias), r=0.4, AdamW lr 1e-2, eps "
                    "1e-25, 8e4 full-batch steps, losses in float64 (its code)")
PRIETO_ORTHOGONAL = PRIETO + "; Fig. 6: a transformer, r=0.4, 5e3 full-batch steps (its code)"
GROKFAST = "x*y mod 97, r=0.5, 2-layer model, batch 512, 1 seed (Grokfast's README)"
FURUTA_STEPS, FURUTA_SEEDS = 300_000, 3
PRETRAIN_SUB_WHY = ("needs subtraction's 30k-step source (pretrain/subtract) trained with its "
                    "checkpoints: grokjax sweep experiments/sweep_claims_cpu.py --only "
                    "'pretrain/subtract,pge-sub/add', ~40 CPU-minutes")
# pretrain/add on 3 seeds and transfers from it (experiments/results/README.md), read before
# the 1-seed runs of the same name; subtraction's pretraining for the reference's 40k steps
# (its pt_sub_p97_03 checkpoint) on 3 seeds and the transfers from it, read before the 30k ones
TRANSFER3 = "transfer-3seeds"
TRANSFER3_40K = "transfer-3seeds-40k"
# subtraction at r = 0.3: 40k steps on 3 seeds, else 30k on 3 seeds (their commands in
# experiments/results/README.md), else the 1-seed transfer source's 30k
SUBTRACT = (f"{TRANSFER3_40K}/pretrain/subtract", "subtract-3seeds", "pretrain/subtract")
ADD = (f"{TRANSFER3}/pretrain/add", "pretrain/add")


def transfer(run: str) -> tuple[str, ...]:
    """A transfer row's runs, the first that exists read: the paper's scale, 3 seeds (from
    subtraction's 40k-step source before its 30k one), 1 seed."""
    return (f"paper/{run}", f"{TRANSFER3_40K}/{run}", f"{TRANSFER3}/{run}", run)


def a5_cpu_run(stage: str) -> str:
    """Where a CPU-scale stage of experiments/sweep_table_a5.py is committed (its --root is
    experiments/results/table_a5-STAGE)."""
    return f"table_a5-{stage}/r0.3"


A5_CPU = a5_cpu_run("cpu")  # 13 tasks, 1 seed
A5_CPU_MORE = a5_cpu_run("cpu-more")  # 5 more, 1 seed
A5_CPU3 = a5_cpu_run("cpu3")  # the 5 of them that grokked, 3 seeds
A5 = "table_a5/r0.3"  # experiments/sweep_table_a5.py (the paper's scale)
# each transfer's from-scratch control: the same task (its members of the run read), the most
# seeds there are (multiplication's: the 3-seed task grid, 8k steps, then pretrain/'s 1 seed)
FROM_SCRATCH = {"add": ("paper/pretrain/add", *ADD),
                "subtract": ("paper/pretrain/subtract", *SUBTRACT),
                "multiply": ("paper/pretrain/multiply", A5_CPU3, "pretrain/multiply")}

# Table A.5 at r = 0.3: (task, formula, groks?, the paper's best test accuracy if not)
TABLE_A5 = [
    ("add", "a+b", True, None), ("subtract", "a-b", True, None),
    ("multiply", "ab", True, None), ("xy_x_y", "ab+a+b", True, None),
    ("x2_y", "a^2+b", True, None), ("x3_2y", "a^3+2b", True, None),
    ("x3_m_2y", "a^3-2b", True, None), ("x2_y2", "a^2+b^2", True, None),
    ("x2_m_y2", "a^2-b^2", True, None), ("x2_2xy_y2", "(a+b)^2", True, None),
    ("x2_m_2xy_y2", "(a-b)^2", True, None), ("x2_2xy_y2_x_y", "(a+b)^2+a+b", True, None),
    *[(f"x{n}_y{n}", f"a^{n}+b^{n}", True, None) for n in range(3, 8)],
    *[(f"_x_y__{n}", f"(a+b)^{n}", True, None) for n in range(3, 8)],
    ("x_x_y", "2a+b", False, "3.1%"), ("x_x_m_y", "2a-b", False, "2.5%"),
    ("2x_3y", "2a+3b", False, "3.3%"), ("2x_m_3y", "2a-3b", False, "3.7%"),
    ("xy_y", "ab+b", False, "6.1%"), ("xy_m_y", "ab-b", False, "5.6%"),
    ("x2_m_y", "a^2-b", False, "9.5%"), ("x2_xy_y2", "a^2+ab+b^2", False, "34%"),
    ("x2_xy_y2_x", "a^2+ab+b^2+a", False, "4.8%"), ("x3_xy", "a^3+ab", False, "4.9%"),
    ("x3_xy2_y", "a^3+ab^2+b", False, "4.0%"), ("_x_m_y__3", "(a-b)^3", False, "5.9%"),
    ("_x_m_y__4", "(a-b)^4", False, "85%"),
]
# the smallest r that groks from scratch, for tasks that do not at r = 0.3 (paper.md 1.8)
SMALLEST_R = [("x_x_y", "2a+b", 0.5), ("x_x_m_y", "2a-b", 0.4), ("2x_3y", "2a+3b", 0.4),
              ("2x_m_3y", "2a-3b", 0.4), ("xy_y", "ab+b", 0.5), ("xy_m_y", "ab-b", 0.5),
              ("x2_m_y", "a^2-b", 0.4), ("_x_m_y__3", "(a-b)^3", 0.5), ("_x_m_y__4", "(a-b)^4", 0.7),
              ("x2_xy_y2", "a^2+ab+b^2", 0.8), ("x3_xy", "a^3+ab", 0.9)]
# Fig. 8: how FFD and FCR of W_E move over training (task, formula, FFD, FCR, the paper's words)
FIG8 = [("add", "a+b", "falls", "flat", "FFD falls while FCR stays high"),
        ("subtract", "a-b", "falls", "flat", "FFD falls while FCR stays high"),
        ("multiply", "ab", "flat", "falls", "FFD stays 1.0 while FCR falls"),
        ("xy_y", "ab+b", "flat", "flat", "at r = 0.3, where ab+b does not grok, nothing moves "
         "(App. H); 'both fall' is the r >= 0.5 row below"),
        ("x2_y2", "a^2+b^2", "flat", "falls", "like multiplication; FCR falls for even n"),
        ("x2_2xy_y2", "(a+b)^2", "falls", "falls", "like addition; FCR falls for even n"),
        ("x2_xy_y2", "a^2+ab+b^2", "flat", "any", "FFD flat, no grokking"),
        # §6.3: a^n+b^n progresses as multiplication, "FFD decreases more when n is odd";
        # (a+b)^n as addition ("high sparsity and balanced components"), "FCR significantly
        # drops when n is even"
        ("x3_y3", "a^3+b^3", "falls", "any", "like multiplication, but FFD falls for odd n "
         "('FFD decreases more when n is odd', where a^2+b^2's stays 1.0)"),
        ("_x_y__3", "(a+b)^3", "falls", "flat", "like addition; FCR drops only for even n")]
FIG8_RUNS = {"subtract": SUBTRACT}  # 30k steps: subtraction groks at 19k
# more seeds of a task where 3 left Fig. 8's pattern within the spread over seeds (the task
# alone, read before the task grids; experiments/results/README.md): 15 seeds, a count fixed
# before those runs, else the 9 asked for after seeing 3
FIG8_MORE = {task: (f"fig8-15seeds/{task}", f"fig8-9seeds/{task}")
             for task in ("multiply", "add")}
TRANSFER = "p=97, r=0.3, 3 seeds, up to 1e5 steps (the reference code's, not the paper's)"
TRANSFER_STEPS = 100_000
TRANSFER_TARGETS = ("a+b", "a-b", "ab", "2a+b", "2a-b", "2a+3b", "2a-3b", "ab+b", "ab-b",
                    "(a+b)^3")
MIXTURE = ("p=97, 3 seeds, up to 5e4 steps (grokjax's configs/mixtures.py: the paper gives no "
           "budget for §8 but Table A.2's 3e5, the reference code's configs 1e5)")
MIXTURE_STEPS = 50_000
NANDA = "p=113, r=0.3, 40k steps"
NANDA_STEPS = 40_000
# the 40k run where it exists, else the same 6 seeds to 16k steps, else to 12k
NANDA_RUN = ("paper/nanda_p113", "nanda_p113-16k", "nanda_p113-s0-5")
# the runs whose final checkpoint `grokjax probe` read (ablations, and the logits' share, a
# probe added after nanda_p113-s0-5 was trained): 16k steps, else a rerun of the first 10k
NANDA_PROBED = ("paper/nanda_p113", "nanda_p113-16k", "nanda_p113-10k")
# the CPU-scale task grids (experiments/sweep_table_a5.py's CPU_STAGES: stage -> tasks, seeds,
# ...), among them the from-scratch controls of PG-E(add) 2a-b, 2a-3b and PG-T(mul) ab-b
_A5_SWEEP = exec_file(pathlib.Path(__file__).with_name("sweep_table_a5.py"))
CPU_STAGES = _A5_SWEEP.CPU_STAGES
CPU_TASKS, CPU_MORE = _A5_SWEEP.CPU_TASKS, _A5_SWEEP.CPU_MORE
# the report's curve figures: Fig. 8 from the task grids' members, Nanda's phases on one
# member, Omnigrok's LU from a weight_scale grid
SPECTRUM_FIGURE = [(run, [(task, formula) for task, formula, *_ in FIG8 if task in tasks])
                   for run, tasks in ((A5_CPU, CPU_TASKS), (A5_CPU_MORE, CPU_MORE))]
PHASES_FIGURE = ("nanda_p113-16k", 3)
LU_FIGURE = "omnigrok-lu"


def _a5_cpu(task: str) -> tuple[str, ...]:
    """The CPU-scale task grids that hold `task`, the most seeds first (a 3-seed stage such as
    cpu3 before the 1-seed grid it follows up), then the most steps (cpu-long2 before
    cpu-rest3)."""
    stages = [stage for stage, (tasks, *_) in CPU_STAGES.items() if task in tasks]
    return tuple(a5_cpu_run(stage) for stage in
                 sorted(stages, key=lambda st: (-CPU_STAGES[st][1], -CPU_STAGES[st][2])))


def _fig8_runs(task: str) -> str | tuple[str, ...]:
    """A Fig. 8 row's runs, the first that holds the task read: its own (FIG8_RUNS), else
    its run with more seeds (FIG8_MORE), then the CPU-scale task grids."""
    if task in FIG8_RUNS:
        return FIG8_RUNS[task]
    return FIG8_MORE.get(task, ()) + _a5_cpu(task)


def _a5(task, formula, grok, best, run, scale_note="", cells=()):
    return Claim(
        id=f"A.5 {formula}" + scale_note, same_as=f"A.5 {formula}", source="Furuta Table A.5",
        statement=f"{formula} {'groks' if grok else 'does not grok'} at r = 0.3",
        paper="groks" if grok else f"does not grok (best test acc {best})", run=run,
        members={"task": task}, paper_scale=FURUTA, cells=cells,
        predicate=groks() if grok else does_not_grok(),
        paper_steps=FURUTA_STEPS, paper_seeds=FURUTA_SEEDS)


CLAIMS = [
    *[_a5(*row, _a5_cpu(row[0]), " (CPU)",
          cells=(("table-a5", row[1], "r={r}, {ksteps}k steps"),)
          + ((("transfer", row[1], "from scratch"),) if row[1] in TRANSFER_TARGETS else ()))
      for row in TABLE_A5 if _a5_cpu(row[0])],
    *[_a5(*row, A5, cells=(("table-a5", row[1], "r={r}, paper's scale"),)) for row in TABLE_A5],
    *[Claim(f"A.5 smallest r {formula}", "Furuta Table A.5", f"the smallest r at which "
            f"{formula} groks from scratch", f"r = {r:g}",
            (f"paper/smallest-r/{task}", f"smallest-r/{task}"),
            smallest_grokking_r(r), paper_scale="p=97, r=0.1-0.9, 3 seeds",
            paper_steps=FURUTA_STEPS, paper_seeds=FURUTA_SEEDS,
            cells=(("table-a5", formula, "r={r}, {ksteps}k steps"),))
      for task, formula, r in SMALLEST_R],
    # Furuta's restricted loss is Table A.4's row with only "Key Freq." ticked: the logits'
    # components at the key frequencies, without the per-class constant that Nanda's keeps
    # (the constant is in the table's "residuals"; App. E, p. 19)
    Claim("A.4 add restricted", "Furuta Table A.4, App. E", "addition: the restricted loss "
          "(only the key frequencies' components) is below the train loss",
          "restricted 4.985e-8, train 1.008e-7", ADD,
          restricted_below_train(keys_only=True),
          paper_scale="p=97, r=0.3 (App. E gives no step count)"),
    Claim("A.4 sub restricted", "Furuta Table A.4, App. E", "subtraction: the restricted loss "
          "(only the key frequencies' components) stays high (its key frequencies depend on "
          "others), >= 100x the train loss", "restricted 0.714, train 1.336e-7",
          SUBTRACT, restricted_above_train(100, keys_only=True),
          paper_scale="p=97, r=0.3 (App. E gives no step count)"),
    *[Claim(f"Fig. 8 {formula}", "Furuta Fig. 8, §6.3", f"{formula}: FFD(W_E) {ffd}"
            + (f", FCR(W_E) {fcr}" if fcr != "any" else ""),
            words, _fig8_runs(task),
            spectrum_pattern(ffd, fcr, needs_grokking=task not in ("x2_xy_y2", "xy_y")),
            members={} if task in FIG8_RUNS else {"task": task}, paper_scale="p=97, r=0.3",
            paper_steps=FURUTA_STEPS, paper_seeds=FURUTA_SEEDS)
      for task, formula, ffd, fcr, words in FIG8],
    # Furuta's spectra at the final probe (grokjax.report.claims.spectra_shape: FFD <= 0.25 is
    # sparse, >= 0.75 all frequencies; key components biased when cos or sin holds 2/3), from
    # the 3-seed task grid where it exists (the same config as pretrain/, 8,000 steps)
    Claim("Fig. 3 addition spectra", "Furuta Fig. 3", "addition: sparse W_E and W_L (a "
          "few key frequencies)", "sparse", (A5_CPU3, "pretrain/add"),
          spectra_shape({"W_E": "sparse", "W_L": "sparse"}), members={"task": "add"},
          paper_scale="p=97, r=0.3"),
    Claim("Fig. 3 subtraction spectra", "Furuta Fig. 3", "subtraction: a sparse W_E like "
          "addition's, and a cos-biased W_L", "sparse W_E; W_L cos-biased", SUBTRACT,
          spectra_shape({"W_E": "sparse"}, biased=("W_L",)), paper_scale="p=97, r=0.3"),
    Claim("Fig. 5 multiplication spectra", "Furuta Fig. 5", "multiplication uses all "
          "frequencies, cos-biased, in both W_E and W_L", "all frequencies, cos-biased",
          (A5_CPU3, "pretrain/multiply"), spectra_shape({"W_E": "all", "W_L": "all"},
                                                        biased=("W_E", "W_L")),
          members={"task": "multiply"}, paper_scale="p=97, r=0.3"),
    Claim("Fig. 7 a^2+b^2 spectra", "Furuta Fig. 7", "a^2+b^2: a multiplication-like W_E "
          "(all frequencies, cos-biased) and an addition-like W_L (sparse)",
          "W_E like multiplication, W_L like addition", (A5, A5_CPU3, A5_CPU),
          spectra_shape({"W_E": "all", "W_L": "sparse"}, biased=("W_E",)),
          members={"task": "x2_y2"}, paper_scale=FURUTA),
    Claim("Fig. 8 ab+b r=0.5", "Furuta Fig. 8, App. H", "ab+b, where it groks (r = 0.5): FFD and "
          "FCR of W_E both fall", "both fall", "fig8-xy_y-r0.5",
          spectrum_pattern("falls", "falls"),
          paper_scale="p=97, r=0.5, up to 3e5 steps", paper_steps=FURUTA_STEPS,
          paper_seeds=FURUTA_SEEDS, not_run_why="needs ab+b trained at r = 0.5, where it groks "
          "(Table A.5's smallest r): the r = 0.3 run does not grok"),
    Claim("A.5 a-b (CPU, 30k steps)", "Furuta Table A.5", "a-b groks at r = 0.3", "groks",
          SUBTRACT, groks(), paper_scale=FURUTA, same_as="A.5 a-b",
          paper_steps=FURUTA_STEPS, paper_seeds=FURUTA_SEEDS),
    *[Claim(f"PG-E(add) {formula}", "Furuta Fig. 9, §7.1", f"with add's embedding frozen, "
            f"{formula} groks at r = 0.3 (it does not from scratch)", "groks",
            transfer(f"pge-add/{task}"), groks(),
            paper_scale=TRANSFER,
            paper_steps=TRANSFER_STEPS, paper_seeds=3,
            cells=(("transfer", formula, "PG-E(add)"),))
      for task, formula in (("x_x_y", "2a+b"), ("x_x_m_y", "2a-b"), ("2x_3y", "2a+3b"),
                            ("2x_m_3y", "2a-3b"))],
    *[Claim(f"PG-T(mul) {formula}", "Furuta Fig. 2, Table 1", f"with multiply's transformer "
            f"frozen, {formula} groks at r = 0.3 (it does not from scratch)", "groks",
            transfer(f"pgt-mul/{task}"), groks(),
            paper_scale=TRANSFER,
            paper_steps=TRANSFER_STEPS, paper_seeds=3,
            cells=(("transfer", formula, "PG-T(mul)"),))
      for task, formula in (("xy_y", "ab+b"), ("xy_m_y", "ab-b"))],
    *[Claim(f"PG-T(sub) {formula}", "Furuta Fig. 2", f"subtract's frozen transformer transfers "
            f"to nothing, not even {formula}", "does not grok",
            transfer(f"pgt-sub/{task}"),
            does_not_grok(), paper_scale=TRANSFER,
            paper_steps=TRANSFER_STEPS, paper_seeds=3,
            cells=(("transfer", formula, "PG-T(sub)"),))
      for task, formula in (("subtract", "a-b"), ("add", "a+b"))],
    # Fig. 2's elementary arithmetic: each transfer against the same task from scratch, the
    # from-scratch run with the most seeds (FROM_SCRATCH: 10k steps, subtraction's 30k; the
    # seeds and splits of a 1-seed transfer are its first), medians against medians
    *[Claim(f"{mode}({src}) {formula}", "Furuta Fig. 2", f"{mode}({src}) {verb} {formula} "
            "(against it from scratch)", verb, transfer(run), transfer_effect(verb),
            control=(FROM_SCRATCH[scratch], {"task": scratch}),
            paper_scale=TRANSFER, paper_steps=TRANSFER_STEPS, paper_seeds=3,
            not_run_why=why, cells=(("transfer", formula, f"{mode}({src})"),))
      for mode, src, run, formula, scratch, verb, why in (
          ("PG-E", "add", "pge-add/subtract", "a-b", "subtract", "helps", ""),
          ("PG-E", "sub", "pge-sub/add", "a+b", "add", "helps", PRETRAIN_SUB_WHY),
          ("PG-E", "mul", "pge-mul/add", "a+b", "add", "hurts", ""),
          ("PG-E", "mul", "pge-mul/subtract", "a-b", "subtract", "hurts", ""),
          ("PG-T", "add", "pgt-add/multiply", "ab", "multiply", "helps", ""),
          ("PG-T", "mul", "pgt-mul/add", "a+b", "add", "helps", ""))],
    *[Claim(f"PG-T({src}) a-b", "Furuta Fig. 2", f"{src}'s frozen transformer cannot "
            "learn subtraction", "does not grok", transfer(run),
            does_not_grok(), paper_scale=TRANSFER, paper_steps=TRANSFER_STEPS,
            paper_seeds=3, cells=(("transfer", "a-b", f"PG-T({src})"),))
      for src, run in (("add", "pgt-add/subtract"), ("mul", "pgt-mul/subtract"))],
    # Table 1 (§7.2: "the smallest train fraction where grokking happens"; a check mark is
    # r = 0.3): cells whose sources are add and subtract, at r = 0.3
    *[Claim(f"{mode}({src}) {formula}", "Furuta Table 1, §7.2, p. 11", f"with {src}'s {part} "
            f"frozen, {formula} groks at r = 0.3 (from scratch: {scratch})",
            "groks (a check mark)",
            transfer(run), groks(), paper_scale=TRANSFER,
            paper_steps=TRANSFER_STEPS, paper_seeds=3,
            cells=(("transfer", formula, f"{mode}({src})"),))
      for mode, src, part, run, formula, scratch in (
          ("PG-T", "add", "transformer", "pgt-add/x_x_y", "2a+b", "r = 0.5"),
          ("PG-E", "add", "embedding", "pge-add/_x_y__3", "(a+b)^3", "r = 0.3"),
          ("PG-E", "sub", "embedding", "pge-sub/x_x_m_y", "2a-b", "r = 0.4"))],
    # a cross in Table 1: with add's transformer frozen, (a+b)^3 groks at no r (from scratch
    # it groks at r = 0.3), so the claim is that it does not grok, not that it groks later
    Claim("PG-T(add) (a+b)^3", "Furuta Table 1, §7.2, p. 11", "with add's transformer frozen, "
          "(a+b)^3 does not grok at r = 0.3 (from scratch it does)",
          "does not grok (a cross: at no r)", transfer("pgt-add/_x_y__3"),
          does_not_grok(), paper_scale=TRANSFER, paper_steps=TRANSFER_STEPS, paper_seeds=3,
          cells=(("transfer", "(a+b)^3", "PG-T(add)"),)),
    *[Claim(f"App. F frozen random W_E {formula}", "Furuta App. F", f"{formula} groks with "
            "the embedding frozen at its random init", "groks",
            (f"paper/frozen-random-embed/{task}", f"frozen-random-embed/{task}"),
            groks(),
            paper_scale=TRANSFER, paper_steps=TRANSFER_STEPS, paper_seeds=3,
            cells=(("transfer", formula, "frozen random W_E"),))
      for task, formula in (("add", "a+b"), ("subtract", "a-b"), ("multiply", "ab"))],
    Claim("§8 add+sub+mul r=0.3", "Furuta §8.1", "add+sub+mul does not co-grok at r = 0.3",
          "does not co-grok", ("paper/mix-asm-r0.3", "mix-asm-r0.3"), does_not_grok(),
          paper_scale=MIXTURE, paper_steps=MIXTURE_STEPS, paper_seeds=3),
    Claim("§8 add+sub+mul r=0.9", "Furuta §8.1", "add+sub+mul co-groks at a higher r (0.9)",
          "co-groks", ("paper/mix-asm-r0.9", "mix-asm-r0.9"), groks(),
          paper_scale=MIXTURE,
          paper_steps=MIXTURE_STEPS, paper_seeds=3),
    Claim("§8 mul groks last", "Furuta §8.1", "in add+sub+mul, multiplication groks last",
          "multiplication slowest", ("paper/mix-asm-r0.9", "mix-asm-r0.9"),
          groks_last("multiply"), paper_scale=MIXTURE,
          paper_steps=MIXTURE_STEPS, paper_seeds=3),
    Claim("§8 squares mixture", "Furuta §8", "trained with a^2+b^2 and (a+b)^2, a^2+ab+b^2 "
          "groks at r = 0.3", "groks", ("paper/mix-squares-r0.3", "mix-squares-r0.3"),
          task_groks("x2_xy_y2"), paper_scale=MIXTURE,
          paper_steps=MIXTURE_STEPS, paper_seeds=3),
    Claim("Nanda groks", "Nanda §3", "p = 113 addition groks near step 10k",
          "groks after ~10,000 steps", NANDA_RUN,
          groks(near=10_000),
          paper_scale="p=113, r=0.3, 5 seeds (Fig. 2), 40k steps", paper_steps=NANDA_STEPS,
          paper_seeds=5),
    Claim("Nanda key frequencies", "Nanda §4, App. C", "a grokked model uses a few key "
          "frequencies", "5 (seeds 0-3: 5, 4, 3, 4)", NANDA_RUN,
          probe_range("key_freqs", 3, 6, "{:.0f}"),
          paper_scale="p=113, r=0.3, 40k steps",
          paper_steps=NANDA_STEPS),
    Claim("Nanda neurons explained", "Nanda §4", "most MLP neurons are explained by one "
          "frequency", "84.6% (433/512) above 85%", NANDA_RUN,
          probe_range("neurons_explained", 0.8, 1.0),
          paper_scale="p=113, r=0.3, 40k steps",
          paper_steps=NANDA_STEPS),
    Claim("Nanda logits' form", "Nanda §4, Fig. 1 (the share as issue #25 cites it)",
          "the logits of a grokked model are sum_k alpha_k cos(w_k(a+b-c)) over its key "
          "frequencies", "~95% of their variance", NANDA_PROBED,
          probe_range("logits_explained", 0.85, 1.0),
          paper_scale="p=113, r=0.3, 40k steps",
          paper_steps=NANDA_STEPS),
    Claim("Nanda key-frequency ablation", "Nanda §4 (ablations in Fourier space)",
          "removing the key frequencies from W_E destroys performance; removing every other "
          "frequency does not", "accuracy to chance without them, unharmed with only them",
          NANDA_PROBED, key_frequency_ablation(), paper_scale="p=113, r=0.3, 40k steps",
          paper_steps=NANDA_STEPS),
    Claim("Nanda measures lead", "Nanda §5, Fig. 7", "during circuit formation the excluded "
          "loss rises and the restricted loss falls while the test loss is still high",
          "excluded loss rises from ~1.4k to 9.4k, before the test loss falls",
          NANDA_RUN, excluded_rises_before_grokking(),
          paper_scale="p=113, r=0.3, 40k steps", paper_steps=NANDA_STEPS),
    Claim("Nanda restricted < train", "Nanda §5.1, Fig. 7", "the restricted loss ends below the "
          "train loss", "below the train loss", NANDA_RUN, restricted_below_train(),
          paper_scale="p=113, r=0.3, 40k steps", paper_steps=NANDA_STEPS),
    Claim("Nanda phases", "Nanda §5.2, Fig. 7", "training splits into memorisation, circuit "
          "formation and cleanup, in that order, ending near the paper's marks (within a factor "
          "of 2; phases from the measures)",
          "memorisation to 1.4k, circuit formation to 9.4k, cleanup to 14k", NANDA_RUN,
          phases_at_marks((1400, 9400, 14000), 2.0), paper_scale=NANDA,
          paper_steps=NANDA_STEPS),
    Claim("Nanda Gini at cleanup", "Nanda §5.2, Fig. 7", "the Gini coefficient of W_E's and "
          "W_L's Fourier components rises sharply in cleanup", "rises sharply in cleanup",
          NANDA_RUN, gini_rises_at_cleanup(), paper_scale=NANDA,
          paper_steps=NANDA_STEPS),
    Claim("Nanda weight norm", "Nanda §5.2, Fig. 7", "the sum of squared weights falls during "
          "circuit formation and again during cleanup", "falls in both (a sharp drop in "
          "cleanup)", NANDA_RUN, weight_norm_falls_in_phases(), paper_scale=NANDA,
          paper_steps=NANDA_STEPS),
    Claim("Omnigrok unconstrained norm", "Omnigrok §5, Fig. 7(a)",
          "without the norm constraint (weight decay 1), the weight norm grows while the model "
          "memorises and ends below its initial value", "rises, then ends below init",
          NANDA_RUN, weight_norm_rises_then_ends_below_init(),
          paper_scale="p=113, r=0.3, Nanda's model, 15k steps", paper_steps=15_000),
    # (0.7's "almost at once" is judged against the delay where it groks: the r = 0.3 run)
    *[Claim(f"Nanda data fraction {r:g}", "Nanda App. (data fraction)", text, paper,
            ("paper/nanda-fraction", cpu_run), predicate, members={"train_fraction": r},
            paper_scale="p=113, r=0.1-0.9, 40k steps", paper_steps=NANDA_STEPS,
            control=(NANDA_RUN, {}) if r == 0.7 else None)
      for r, text, paper, predicate, cpu_run in (
          (0.1, "with 10% of the data it does not grok within 40k steps", "does not grok",
           does_not_grok(), "nanda-fraction-low"),
          (0.2, "with 20% of the data it does not grok within 40k steps", "does not grok",
           does_not_grok(), "nanda-fraction-low"),
          (0.5, "with 50% of the data it groks", "groks", groks(), "nanda-fraction-high"),
          (0.7, "with 70% of the data it generalises almost at once (no grokking delay)",
           "generalises almost at once", no_grokking_delay(), "nanda-fraction-high"))],
    Claim("Power data cost", "Power §3.1.1", "near 25-30% of the data, 1% less data costs "
          "40-50% more steps to generalise", "+40% to +50% median steps per point",
          ("paper/power-division-fraction", "power-division-fraction"),
          steps_per_percent(0.27, 0.30, 0.40, 0.50),
          paper_scale="division p=97, 2-layer model, 1e5 steps", paper_steps=100_000,
          not_run_why="Power's 2-layer model on division at r = 0.27 and 0.30 needs up to 1e5 "
          "steps per seed; " + POWER_CPU + ": 3 seeds at two fractions is ~14 CPU-hours (a "
          "stage of experiments/paper_scale.py)"),
    Claim("Power division at 50%", "Power §3 (its main runs: AdamW, wd 1, 1e5 steps; Fig. "
          "1's run is Adam without wd, to 1e6)", "x / y mod 97 groks at 50% of the data "
          "with weight decay 1 (AdamW)", "groks within 1e5 steps", "power-division",
          groks(), paper_scale=POWER, paper_steps=100_000),
    Claim("Power S5 at 50%", "Power §3, Fig. 2", "composition in S5 groks at 50% of the data "
          "with weight decay", "groks within 1e5 steps", ("paper/power-s5", "power-s5"),
          groks(), paper_scale=POWER.replace("x / y mod 97", "S5, p=120"),
          paper_steps=100_000,
          not_run_why=POWER_CPU + ": S5 at 50% for up to 1e5 steps is ~2.3 CPU-hours a seed"),
    Claim("Power wd halves data", "Power §3.2, Fig. 2", "weight decay more than halves the "
          "data a task needs to generalise", "the smallest fraction that groks, with wd 1, "
          "under half of it without", ("paper/power-division-wd", "power-division-wd"),
          less_data_with("weight_decay"),
          paper_scale=POWER, paper_steps=100_000,
          not_run_why=POWER_CPU + ": a fraction sweep with and without weight decay at 1e5 "
          "steps is days of CPU; a GPU's minutes (a stage of experiments/paper_scale.py)"),
    # The methods that claim to make grokking fast or unnecessary, each an arm of one program
    # with a matched AdamW (configs/comparison.py; `grokjax compare`), at the quick setting.
    Claim("Grokfast EMA faster", "Lee et al. 2024 (Grokfast), README and §4",
          "Grokfast's EMA filter (alpha 0.98, lamb 2) makes grokking faster than the same "
          "optimiser without it", "faster (its 43.8x, 39,890 -> 910 steps to 95% val. acc., "
          "is EMA with an L2 wd of 0.005 against Adam without wd: no same-optimiser number)",
          COMPARISON, faster_than("adamw"), members={"arm": "grokfast-ema"},
          paper_scale=GROKFAST, paper_steps=40_000, paper_seeds=1,
          settle_by=FURUTA_CMP_SETTLE),
    Claim("Grokfast MA faster", "Lee et al. 2024 (Grokfast), §3", "Grokfast's MA filter "
          "(window 100, lamb 5) makes grokking faster than the same optimiser without it",
          "faster", COMPARISON, faster_than("adamw"), members={"arm": "grokfast-ma"},
          paper_scale=GROKFAST, paper_steps=40_000, paper_seeds=1,
          settle_by=FURUTA_CMP_SETTLE),
    Claim("Grokfast EMA vs 3x lr", "Lee et al. 2024 §3; lucidrains/grokfast-pytorch#1",
          "amplifying the slow gradient is more than a larger step: Grokfast EMA (1 + lamb = "
          "3x its slow component) groks faster than AdamW at 3x the lr",
          "not tested by the paper (its mechanism implies it)", COMPARISON,
          faster_than("adamw-3lr"), members={"arm": "grokfast-ema"}, paper_scale=GROKFAST,
          paper_steps=40_000, paper_seeds=1, settle_by=FURUTA_CMP_SETTLE, papers=False),
    Claim("Grokfast EMA, its setting", "Lee et al. 2024 (Grokfast), README", "in Grokfast's "
          "own setting, its EMA filter makes grokking an order of magnitude faster than Adam "
          "without weight decay", "43.8x (39,890 -> 910 steps to 95% val. acc.)",
          "paper/comparison-grokfast", faster_than("adam", factor=10.0),
          members={"arm": "grokfast-ema"}, paper_scale=GROKFAST, paper_steps=40_000,
          paper_seeds=1, not_run_why=GROKFAST_SETTLE),
    # the wd-0 arms with grokjax's float64 loss, a float32 one (the paper's point: softmax
    # collapse is a float32 failure), and the float64 loss with Fig. 1's Adam (lr 1e-2, beta2
    # 0.999, eps 1e-25; the StableMax and softmax arms only): Fig. 1(b)'s and (c)'s claims on
    # a transformer, each counted once with the rows of Fig. 1's own model below (same_as)
    *[claim for loss, runs, settle, why, orthogonal in (
        ("float64 loss", WD0, WD0_SETTLE, "", True),
        ("float32 loss", WD0_F32, WD0_SETTLE, "", True),
        ("Fig. 1's Adam", ("comparison-wd0-prieto",), PRIETO_MLP_SETTLE, WD0_PRIETO_RUN, False))
      for claim in (
        Claim(f"StableMax without wd, {loss}", "Prieto et al. 2025 §5, Fig. 1(b)", "with "
              "StableMax's cross entropy a model groks with no weight decay", "groks", runs,
              groks(), members={"arm": "stablemax-wd0"}, settle_by=settle,
              paper_scale=PRIETO_STABLEMAX, paper_steps=80_000, not_run_why=why,
              same_as="StableMax without wd, Fig. 1's model"),
        Claim(f"Softmax CE without wd, {loss}", "Prieto et al. 2025 §3-4, Fig. 1(c)", "with "
              "softmax cross entropy and no weight decay a model stops at memorisation "
              "(softmax collapse)", "does not grok within 8e4 steps "
              "(Fig. 1(c), its loss in float64)", runs,
              does_not_grok(control={"arm": "stablemax-wd0"}, memorised=True),
              members={"arm": "adamw-wd0"}, settle_by=settle, paper_scale=PRIETO_STABLEMAX,
              paper_steps=80_000, not_run_why=why,
              same_as="Softmax CE without wd, Fig. 1's model"),
        *([Claim(f"⊥AdamW without wd, {loss}", "Prieto et al. 2025 §6", "with ⊥AdamW (the "
                 "gradient's component along the weights removed) a model groks with no "
                 "weight decay", "groks", runs, groks(),
                 members={"arm": "orthogonal-wd0"}, settle_by=settle,
                 paper_scale=PRIETO_ORTHOGONAL, paper_steps=5_000,
                 same_as="⊥AdamW without wd")] if orthogonal else []))],
    # Fig. 1 at its own setting: their MLP on one-hot operands (configs/prieto.py, one run per
    # arm; the paper shows one run of each, torch.manual_seed(42))
    Claim("⊥AdamW without wd, Fig. 1's model", "Prieto et al. 2025 Fig. 1(a)", "with ⊥AdamW "
          "their MLP generalises at once, with no weight decay", "groks within 300 steps "
          "(Fig. 1(a): 'the delay in generalization induced by NLM can be reversed')",
          "prieto-fig1/orthogonal", groks(), paper_scale=PRIETO_FIG1 + ", 300 steps, ⊥AdamW, "
          "beta2 0.99, float32 loss", paper_steps=300, paper_seeds=1,
          not_run_why=PRIETO_FIG1_RUN.format(arm="orthogonal")),
    Claim("StableMax without wd, Fig. 1's model", "Prieto et al. 2025 §5, Fig. 1(b)", "with "
          "StableMax's cross entropy their MLP groks with no weight decay", "groks: test "
          "accuracy from ~30k steps to ~97% by ~75k", "prieto-fig1/stablemax", groks(),
          paper_scale=PRIETO_FIG1 + ", 8e4 steps, StableMax in float64, beta2 0.999",
          paper_steps=80_000, paper_seeds=1,
          not_run_why=PRIETO_FIG1_RUN.format(arm="stablemax")),
    Claim("Softmax CE without wd, Fig. 1's model", "Prieto et al. 2025 §3-4, Fig. 1(c)", "with "
          "softmax cross entropy (float64) and no weight decay their MLP stops at memorisation",
          "0% test accuracy through 8e4 steps", "prieto-fig1/softmax",
          does_not_grok(memorised=True),
          paper_scale=PRIETO_FIG1 + ", 8e4 steps, softmax in float64, beta2 0.99",
          paper_steps=80_000, paper_seeds=1,
          not_run_why=PRIETO_FIG1_RUN.format(arm="softmax")),
    Claim("Softmax collapse, float32 loss", "Prieto et al. 2025 §3", "without "
          "regularisation, past memorisation the softmax of most train rows collapses in "
          "float32 (its exp-sum rounds to exactly 1, the gradient to exactly 0)",
          "most train rows collapse (float32)", WD0_F32, softmax_collapses(),
          members={"arm": "adamw-wd0"}, paper_scale=PRIETO),
    Claim("Omnigrok constrained norm", "Omnigrok Fig. 7", "with the weight norm held at its "
          "initial value (alpha = 0.8, no weight decay), train and test accuracy rise "
          "together: no grokking delay", "no delay", "omnigrok-lu", no_grokking_delay(),
          members={"weight_scale": 0.8},
          paper_scale="p=113, r=0.3, Nanda's model, 15k steps", paper_steps=15_000),
    Claim("Omnigrok LU", "Omnigrok §2-3, Figs. 1(b), 2(a)", "on spheres of fixed weight "
          "norm (the norm held, no weight decay), the train loss against the norm is L-shaped "
          "and the test loss U-shaped", "train loss L, test loss U (shown for a teacher-student "
          "MLP, MNIST, IMDb and QM9; for modular addition only the norm's path, Fig. 7)",
          "omnigrok-lu", lu_shape(),
          paper_scale="reduced losses at converged points on each sphere (teacher-student: "
          "1e5 steps)"),
]
