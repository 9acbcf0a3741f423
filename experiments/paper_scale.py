"""The papers' claims at the papers' scale in one command: prints what
experiments/sweep_paper_scale.py will train (members, steps, member-steps, and the time that
takes at the rates measured on one H200 and on this project's 2-core CPU), then trains it under
experiments/results/ (resumable: a finished run is skipped, a partial one resumes from its
checkpoint, here or on another machine sharing the directory), where `grokjax report` reads it.

    python experiments/paper_scale.py --plan      # the plan and its cost only
    python experiments/paper_scale.py             # train here, stage by stage
    python experiments/paper_scale.py --only 'paper/nanda*' --backend slurm ...

Any option after the script's own is passed to `grokjax sweep`. The rates are single
measurements of the default config (p = 97, 1 layer, full batch; probes off) and scale only
roughly to other configs (Nanda's p = 113 costs ~1.4x per step, a mixture of T tasks ~T x,
Power's 2-layer model ~3.5x on a CPU):
GPU 2,575 member-steps/s at 1 member and 7,963 at 64 in float32 (../shared/reference/gpu.md,
H200, jax 0.11; log-linear between; benchmarks/gpu.py measures your card), CPU 45 member-steps/s
(22 ms per member-step, experiments/sweep_table_a5.py).
"""

from __future__ import annotations

import argparse
import math
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

from grokjax import config as config_lib  # noqa: E402
from grokjax.errors import GrokjaxError  # noqa: E402
from grokjax.launch import sweep  # noqa: E402

SPEC = "experiments/sweep_paper_scale.py"
ROOT = "experiments/results"
GPU_1, GPU_64, CPU_RATE = 2_575.0, 7_963.0, 45.0  # member-steps/s (see the docstring)


def gpu_rate(members: int) -> float:
    """The H200's measured rate at `members` members: 2,575 member-steps/s at 1 and 7,963 at
    64, log-linear between (a few members leave the card idle), 7,963 from 64 on (float32)."""
    if members >= 64:
        return GPU_64
    return GPU_1 * members ** (math.log(GPU_64 / GPU_1) / math.log(64))


def costs(runs: list[sweep.Run]) -> list[dict]:
    """Per run, in the sweep's stage order: its members, steps and member-steps."""
    rows = []
    for run in sorted(runs, key=lambda r: r.stage):
        cfg = config_lib.load_config(run.config, run.overrides(pathlib.Path(ROOT)))
        seeds = (len(run.seeds) if isinstance(run.seeds, tuple)
                 else run.seeds or len(config_lib.seeds(cfg)))
        arms = len(cfg.grid.get("arms") or ()) or 1  # a comparison's named settings
        members = seeds * arms * math.prod(len(v) for v in run.grid.values())
        rows.append({"stage": run.stage, "run": run.name, "members": members,
                     "steps": int(cfg.train.steps),
                     "member_steps": members * int(cfg.train.steps)})
    return rows


def table(rows: list[dict]) -> str:
    """The plan as text, with each run's time and the running total at both rates (an upper
    bound where runs stop when grokked)."""
    lines = [f"{'stage':>5}  {'run':<38} {'members':>7} {'steps':>8} {'member-steps':>13} "
             f"{'GPU h':>7} {'CPU days':>9}"]
    total = gpu_hours = 0.0
    for r in rows:
        total += r["member_steps"]
        hours = r["member_steps"] / gpu_rate(r["members"]) / 3600
        gpu_hours += hours
        lines.append(f"{r['stage']:>5}  {r['run']:<38} {r['members']:>7} {r['steps']:>8,} "
                     f"{r['member_steps']:>13,} {hours:>7.2f} "
                     f"{r['member_steps'] / CPU_RATE / 86400:>9.1f}")
    lines.append(f"{'':>5}  {'all':<38} {sum(r['members'] for r in rows):>7} {'':>8} "
                 f"{int(total):>13,} {gpu_hours:>7.2f} {total / CPU_RATE / 86400:>9.1f}")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--plan", action="store_true", help="print the plan and its cost only")
    ap.add_argument("--only", help="the runs to train (a pattern, as grokjax sweep --only)")
    ap.add_argument("--backend", default="local", choices=("local", "slurm", "tpu"))
    args, rest = ap.parse_known_args(argv)
    _, runs = sweep.load(SPEC)
    if args.only:  # the plan of what --only trains
        chosen = {p.group for p in sweep.select(sweep.plan(runs, pathlib.Path(ROOT)), args.only)}
        runs = [r for r in runs if r.name in chosen]
    print(table(costs(runs)), flush=True)
    if args.plan:
        return 0
    from grokjax import cli
    return cli.main(["sweep", SPEC, "--root", ROOT, "--backend", args.backend,
                     *(["--only", args.only] if args.only else []), *rest])


if __name__ == "__main__":
    try:
        sys.exit(main())
    except GrokjaxError as e:  # a bad --only, a config that does not load: one line
        sys.exit(f"grokjax: error: {e}")
