"""Furuta's Table A.5 as task grids: which two-variable tasks grok at r = 0.3, one program.

    grokjax sweep experiments/sweep_table_a5.py         # the paper's scale: 39 tasks x 3 seeds
    grokjax sweep experiments/sweep_table_a5.py:cpu     # the 2-core CPU's scale (below)
    grokjax sweep experiments/sweep_table_a5.py:cpu-more    # 5 more tasks at that scale
    grokjax sweep experiments/sweep_table_a5.py:cpu3    # the tasks that grok there, 3 seeds
    grokjax sweep experiments/sweep_table_a5.py:cpu-rest    # 11 of Table A.5's other tasks
    grokjax sweep experiments/sweep_table_a5.py:cpu-long    # (a+b)^2, 3 seeds, 16,000 steps
    grokjax sweep experiments/sweep_table_a5.py:cpu-long2   # (a-b)^2, (a+b)^2+a+b, the same
    grokjax sweep experiments/sweep_table_a5.py:cpu-long3   # a^2-b^2, 3 seeds, 24,000 steps
    grokjax sweep experiments/sweep_table_a5.py:cpu-flat3   # ab+b, a^2+ab+b^2: 3 seeds, 8,000
    grokjax sweep experiments/sweep_table_a5.py:cpu-none3a  # three more that do not grok, 3 seeds
    grokjax sweep experiments/sweep_table_a5.py:cpu-none3b  # and two more
    grokjax sweep experiments/sweep_table_a5.py:cpu-none3c  # 2a+b, 3 seeds
    grokjax sweep experiments/sweep_table_a5.py:cpu-none3d  # (a-b)^3, 3 seeds
    grokjax sweep experiments/sweep_table_a5.py:cpu-rest3   # :cpu-rest's grokkers, 3 seeds
    grokjax sweep experiments/sweep_table_a5.py:cpu-last    # the last 6 of Table A.5's tasks
    grokjax sweep experiments/sweep_table_a5.py:cpu-last3   # :cpu-last's grokkers, 3 seeds
    grokjax collect runs/table_a5 --plot

Every two-variable task defined on all (a, b) (add, subtract, multiply and the 36 polynomials of
`grokjax tasks` with input [x, '=', y]) shares the inputs, vocabulary and model, so the whole
table at one train fraction is one run with a task axis (`--grid task=...`, grokjax/grid.py).
Division and multiply_non_zero (other operand domains) are runs of their own in
experiments/sweep_arithmetic.py.

The paper's scale: p = 97, r = 0.3, 3 seeds, up to 300,000 steps (configs/polynomials.py):
117 members, ~11 hours of CPU per 1,000 steps on this 2-core machine (22 ms per member-step),
so a GPU run. `:cpu` is the scale this project's CPU affords in a session: 13 tasks (six that
grok in the paper and seven that do not, with their paper values), 1 seed, 8,000 steps, a
checkpoint every 1,000 steps; ~40 minutes. Expect (paper): add, subtract, multiply, ab+a+b,
a^2+b^2 and (a+b)^2 grok; 2a+b, 2a+3b, ab+b, a^2-b, a^2+ab+b^2, a^3+ab and (a-b)^4 do not
(best test accuracy 3.1%, 3.3%, 6.1%, 9.5%, 34%, 4.9%, 85%). Measured: see
experiments/results/table_a5-cpu/. `:cpu-more` adds, at the same scale, the from-scratch
controls of three transfer rows (2a-b, 2a-3b, ab-b: the paper says they do not grok) and Fig. 8's
odd-n tasks a^3+b^3 and (a+b)^3 (they grok in the paper); measured: see
experiments/results/table_a5-cpu-more/. `:cpu3` trains the five tasks that grokked at that
scale with 1 seed (CPU_GROKKED) with 3 seeds, so that their rows do not rest on one seed
(measured: 3,641 s; all 15 grokked; see experiments/results/table_a5-cpu3/). Its seed 0 is
not the 13-task grid's seed 0 bit for bit (grok steps 4250/3760/5130/2570/430 against
4320/3810/4990/2580/430) because the two ran on different machines: on one machine a member is
bit for bit itself in task grids of any size (README, "What holds where"). `:cpu-long` gives
(a+b)^2, at 91.7% and rising when the 13-task grid stopped, 3 seeds and up to 16,000 steps
(measured: 3,318 s beside three other runs; seed 1 grokked at 9,940, seeds 0 and 2 ended at
97.9% and 98.7%; see experiments/results/table_a5-cpu-long/). `:cpu-rest3` gives the three
tasks of `:cpu-rest` that grokked with 1 seed 3 seeds (measured: 3,177 s beside one other run;
a^4+b^4 and a^5+b^5 grokked in all 3, (a+b)^2+a+b only in seed 0, at 7,770; see
experiments/results/table_a5-cpu-rest3/). `:cpu-last` trains the six tasks no other stage
holds, a^6+b^6, a^7+b^7 and (a+b)^4..(a+b)^7, 1 seed each (measured: 2,135 s beside one other
run; all but (a+b)^4 and (a+b)^6 grokked, at 80-3,670; see
experiments/results/table_a5-cpu-last/), and `:cpu-last3` gives the four that grokked 3 seeds
(measured: 3,399 s; all four agree on 3 seeds, (a+b)^7 on 2 of them; see
experiments/results/table_a5-cpu-last3/). `:cpu-long2` gives (a-b)^2 and (a+b)^2+a+b, still
rising at 8,000 steps, 3 seeds and up to 16,000 (measured: 5,966 s beside two or three other
runs; (a-b)^2 grokked in 2 of 3, at 10,650 and 7,890, (a+b)^2+a+b in 1, at 7,770, its others
ending at 97.6% and 94.5%; see experiments/results/table_a5-cpu-long2/). `:cpu-long3` gives
a^2-b^2, the last task the paper says groks that was still rising at 8,000 steps, 3 seeds and
up to 24,000 (measured: 6,234 s beside three to five other runs; 2 of 3 grokked, at 19,620 and
14,540, the third ending at 98.1%; see experiments/results/table_a5-cpu-long3/). `:cpu-flat3`
gives Fig. 8's two tasks that do not grok, ab+b and a^2+ab+b^2, 3 seeds and 8,000 steps
(measured: 5,897 s beside three to five other runs, 27 minutes of it paused; none grokked,
best 1.9-2.3% and 25.5-28.9%; see experiments/results/table_a5-cpu-flat3/). `:cpu-none3a`
and `:cpu-none3b` give five of the eleven other tasks that do not grok there ((a-b)^4, ab-b,
2a-b; 2a-3b, a^2-b) 3 seeds (measured: 4,029 s and 4,139 s, each on one core; none of 15
grokked, (a-b)^4 best at 19.6-22.1%, the others at 0.9-2.3%; see
experiments/results/table_a5-cpu-none3a/), and `:cpu-none3c`, `:cpu-none3d` 2a+b and (a-b)^3
(measured: 847 s and 836 s; none of 6 grokked, best 0.9-2.7%; see
experiments/results/table_a5-cpu-none3c/).
"""

from grokjax.launch.sweep import Run
from grokjax.tasks import GROK_ONLY, TASKS

TWO_VARIABLE = tuple(name for name, t in TASKS.items()
                     if t.arity == 2 and t.domain == "all" and name not in GROK_ONLY)
CPU_TASKS = ("add", "subtract", "multiply", "xy_x_y", "x2_y2", "x2_2xy_y2",  # grok (paper)
             "x_x_y", "2x_3y", "xy_y", "x2_m_y", "x2_xy_y2", "x3_xy", "_x_m_y__4")  # do not
CPU_MORE = ("x_x_m_y", "2x_m_3y", "xy_m_y",  # from-scratch controls of transfer rows
            "x3_y3", "_x_y__3")  # Fig. 8's odd n
# Table A.5's tasks in none of the above, but (a+b)^4..(a+b)^7 and a^6+b^6, a^7+b^7: the
# eight that grok in the paper, then the three that do not
CPU_REST = ("x2_y", "x3_2y", "x3_m_2y", "x2_m_y2", "x2_m_2xy_y2", "x2_2xy_y2_x_y", "x4_y4",
            "x5_y5", "x2_xy_y2_x", "x3_xy2_y", "_x_m_y__3")
# those six (they grok in the paper): with them every task of the table has a CPU-scale run
CPU_LAST = ("x6_y6", "x7_y7", "_x_y__4", "_x_y__5", "_x_y__6", "_x_y__7")
# the tasks that grokked within 8,000 steps with 1 seed, on 3 seeds: CPU_TASKS' and CPU_MORE's
# (15 members, ~95 minutes of the 2-core CPU), CPU_REST's and CPU_LAST's
CPU_GROKKED = ("add", "multiply", "xy_x_y", "x2_y2", "x3_y3")
CPU_REST_GROKKED = ("x2_2xy_y2_x_y", "x4_y4", "x5_y5")
CPU_LAST_GROKKED = ("x6_y6", "x7_y7", "_x_y__5", "_x_y__7")
# the task still rising at 8,000 steps (91.7%, (a+b)^2): 3 seeds, up to twice that budget
CPU_LONG = ("x2_2xy_y2",)
# the two still rising at 8,000 steps after that: (a-b)^2 (97.9% on 1 seed) and (a+b)^2+a+b
# (1 of 3 seeds grokked, the others at 96.9% and 83.3%), 3 seeds, up to 16,000 steps
CPU_LONG2 = ("x2_m_2xy_y2", "x2_2xy_y2_x_y")
# the one still rising at 8,000 steps that none of those holds: a^2-b^2 (66.0% on 1 seed, +10
# to 12 points every 2,000 steps), 3 seeds, up to 24,000 steps
CPU_LONG3 = ("x2_m_y2",)
# Fig. 8's two tasks that do not grok at r = 0.3 (nothing moves in ab+b; a^2+ab+b^2's FFD
# stays flat), on 3 seeds like the tasks that grok
CPU_FLAT3 = ("xy_y", "x2_xy_y2")
# five of the eleven other tasks the paper says do not grok and that did not within 8,000
# steps on 1 seed, on 3 seeds (two grids, one per core): (a-b)^4, the closest of them to
# grokking in the paper (85%), the from-scratch controls of three transfer rows (ab-b, 2a-b,
# 2a-3b) and a^2-b
CPU_NONE3A = ("_x_m_y__4", "xy_m_y", "x_x_m_y")
CPU_NONE3B = ("2x_m_3y", "x2_m_y")
# and two more, one per core: 2a+b (the control of two transfer rows) and (a-b)^3
CPU_NONE3C, CPU_NONE3D = ("x_x_y",), ("_x_m_y__3",)


# the CPU-scale stages: tasks, seeds, steps, whether to stop once every seed groks, and the
# checkpoint cadence
CPU_STAGES = {"cpu": (CPU_TASKS, 1, 8000, False, 1000),
              "cpu-more": (CPU_MORE, 1, 8000, False, 1000),
              "cpu3": (CPU_GROKKED, 3, 8000, False, 1000),
              "cpu-rest": (CPU_REST, 1, 8000, False, 1000),
              "cpu-long": (CPU_LONG, 3, 16_000, True, 2000),
              "cpu-long2": (CPU_LONG2, 3, 16_000, True, 2000),
              "cpu-long3": (CPU_LONG3, 3, 24_000, True, 2000),
              "cpu-flat3": (CPU_FLAT3, 3, 8000, False, 1000),
              "cpu-none3a": (CPU_NONE3A, 3, 8000, False, 1000),
              "cpu-none3b": (CPU_NONE3B, 3, 8000, False, 1000),
              "cpu-none3c": (CPU_NONE3C, 3, 8000, False, 1000),
              "cpu-none3d": (CPU_NONE3D, 3, 8000, False, 1000),
              "cpu-rest3": (CPU_REST_GROKKED, 3, 8000, True, 1000),
              "cpu-last": (CPU_LAST, 1, 8000, False, 1000),
              "cpu-last3": (CPU_LAST_GROKKED, 3, 8000, True, 1000)}


def get_runs(arg=None):
    if arg in CPU_STAGES:
        tasks, seeds, steps, stop, save_every = CPU_STAGES[arg]
        return [Run("r0.3", "configs/polynomials.py", {
            "train_fraction": 0.3, "train.steps": steps, "train.stop_when_grokked": stop,
            "checkpoint.save_every": save_every, "checkpoint.keep": 20},
            seeds=seeds, grid={"task": tasks})]
    rs = (float(arg),) if arg else (0.3,)
    return [Run(f"r{r:g}", "configs/polynomials.py", {"train_fraction": r}, seeds=3,
                grid={"task": TWO_VARIABLE}) for r in rs]
