"""The tiny sweep of the test suite (a sweep file, like experiments/sweep_*.py).

    grokjax sweep tests/tiny_sweep.py --root /tmp/tiny-sweep && grokjax collect /tmp/tiny-sweep

Two runs of the tiny config (tests/tiny.py: p = 11, 20 steps), add and subtract at r = 0.5,
2 seeds each; seconds on a CPU. With ARG 'staged', also a stage-1 run that starts from add's
embedding (PG-E). Far too short to grok.
"""

from grokjax.launch.sweep import Run


def get_runs(arg=None):
    runs = [Run(f"{task}/r0.5", "tests/tiny.py", {"task": task, "checkpoint.save_every": 10},
                seeds=2) for task in ("add", "subtract")]
    if arg == "staged":
        runs.append(Run("pge-add/x_x_y", "tests/tiny.py",
                        {"task": "x_x_y", "transfer.from_run": "{root}/add/r0.5",
                         "transfer.load": "embed", "transfer.freeze": "embed"},
                        seeds=2, stage=1))
    return runs
