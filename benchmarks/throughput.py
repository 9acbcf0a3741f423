"""Seed-steps per second of the training program, by number of seeds, for any config.

    python benchmarks/throughput.py                      # default config, 1 4 16 seeds
    python benchmarks/throughput.py --seeds 4 --steps 100 --set probe.every=0

Each seed count is timed by `speed.measure` (the program `grokjax train` builds, compiled once,
then a warm-up chunk and `--repeats` timed chunks of `--steps` steps): steady-state
seed-steps/s with the compile time apart. Unlike benchmarks/speed.py it keeps the config as
given, probes included, so that two runs of it measure what a setting costs (see
benchmarks/README.md, probe overhead). Results go to benchmarks/results/throughput-<backend>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import sys

import jax

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))
from benchmarks.speed import measure  # noqa: E402
from grokjax import config as config_lib  # noqa: E402
from grokjax import numerics  # noqa: E402
from grokjax.store import rundir  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", default="configs/add.py")
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 4, 16])
    ap.add_argument("--steps", type=int, default=100, help="steps per timed chunk")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    cfg = config_lib.load_config(args.config, args.set)
    numerics.configure(cfg.numerics.loss_dtype)
    rows = []
    for n in args.seeds:
        rows.append(measure(cfg, n, args.steps, args.repeats))
        print(f"{n:>5} seeds  {rows[-1]['seed_steps_per_second']:>10.1f} seed-steps/s  "
              f"compile {rows[-1]['compile_seconds']:.1f} s", flush=True)
    out = pathlib.Path(args.out or f"benchmarks/results/throughput-{jax.default_backend()}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    result = {"config": args.config, "overrides": args.set, "machine": platform.machine(),
              "cpu_count": os.cpu_count(), **rundir.environment(), "rows": rows}
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
