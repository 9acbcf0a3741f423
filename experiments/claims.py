"""The papers' claims as data (paper.md sections 1.8, 2, 3, 4): `grokjax report` checks each
against the runs committed under experiments/results/ and writes REPRODUCTION.md.

    grokjax report                      # experiments/claims.py, experiments/results -> REPRODUCTION.md

Each claim names its source, the paper's value and scale, the run that tests it (a directory
under experiments/results/, and the members of a grid run it reads), and the predicate that
decides agreement (grokjax/report/claims.py). A claim whose run is not there yet is reported as
"not run". Runs and their scale: experiments/results/README.md.
"""

from grokjax.report.claims import (Claim, does_not_grok, excluded_rises_before_grokking,
                                   groks, probe_range, restricted_below_train)

FURUTA = "p=97, r=0.3, 3 seeds, up to 3e5 steps"
A5_CPU = "table_a5-cpu/r0.3"  # experiments/sweep_table_a5.py:cpu
A5 = "table_a5/r0.3"  # experiments/sweep_table_a5.py (the paper's scale)

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
CPU_TASKS = ("add", "subtract", "multiply", "xy_x_y", "x2_y2", "x2_2xy_y2", "x_x_y", "2x_3y",
             "xy_y", "x2_m_y", "x2_xy_y2", "x3_xy", "_x_m_y__4")


def _a5(task, formula, grok, best, run, scale_note=""):
    return Claim(
        id=f"A.5 {formula}" + scale_note, source="Furuta Table A.5",
        statement=f"{formula} {'groks' if grok else 'does not grok'} at r = 0.3",
        paper="groks" if grok else f"does not grok (best test acc {best})", run=run,
        members={"task": task}, predicate=groks() if grok else does_not_grok(),
        paper_scale=FURUTA)


CLAIMS = [
    *[_a5(*row, A5_CPU, " (CPU)") for row in TABLE_A5 if row[0] in CPU_TASKS],
    *[_a5(*row, A5) for row in TABLE_A5],
    Claim("Nanda groks", "Nanda §3", "p = 113 addition groks near step 10k",
          "groks after ~10,000 steps", "nanda_p113-s0-5", groks(),
          paper_scale="p=113, r=0.3, 5 seeds (Fig. 2), 40k steps"),
    Claim("Nanda key frequencies", "Nanda §4, App. C", "a grokked model uses a few key "
          "frequencies", "5 (seeds 0-3: 5, 4, 3, 4)", "nanda_p113-s0-5",
          probe_range("key_freqs", 3, 6, "{:.0f}"), paper_scale="p=113, r=0.3, 40k steps"),
    Claim("Nanda neurons explained", "Nanda §4", "most MLP neurons are explained by one "
          "frequency", "84.6% (433/512) above 85%", "nanda_p113-s0-5",
          probe_range("neurons_explained", 0.8, 1.0), paper_scale="p=113, r=0.3, 40k steps"),
    Claim("Nanda measures lead", "Nanda §5, Fig. 7", "during circuit formation the excluded "
          "loss rises and the restricted loss falls while the test loss is still high",
          "excluded loss rises from ~1.4k to 9.4k, before the test loss falls",
          "nanda_p113-s0-5", excluded_rises_before_grokking(),
          paper_scale="p=113, r=0.3, 40k steps"),
    Claim("Nanda restricted < train", "Nanda §5.1, Fig. 7", "the restricted loss ends below the "
          "train loss", "below the train loss", "nanda_p113-s0-5", restricted_below_train(),
          paper_scale="p=113, r=0.3, 40k steps"),
]
