"""Seed-steps per second of the training program, by number of seeds.

    python benchmarks/throughput.py                      # default config, 1 4 16 seeds
    python benchmarks/throughput.py --seeds 1 4 16 64 --config configs/add.py --steps 200

For each seed count it builds the run exactly as `grokjax train` does (same program, same
sharding, same batching), times the first chunk (compile + run) and then `--repeats` chunks of
`--steps` steps, and reports steady-state seed-steps/s (seeds x steps / seconds) with the
compile time separately. Evaluation runs every `train.eval_every` steps, as in a real run
(`--set train.eval_every=N` changes it). Results go to benchmarks/results/throughput-<backend>.json.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import platform
import time

import jax

from grokjax import config as config_lib
from grokjax import numerics, rundir
from grokjax import run as run_lib
from grokjax import train as train_lib


def measure(cfg, n_seeds: int, steps: int, repeats: int) -> dict:
    with cfg.unlocked():
        cfg.seeds, cfg.seed_list = n_seeds, ()
    exp = run_lib.build(cfg)
    data = exp.data()
    state = exp.init_state()
    eval_every = cfg.train.eval_every
    program = train_lib.make_program(exp.scfg, steps // eval_every, eval_every, exp.batching,
                                     exp.mesh)
    t0 = time.perf_counter()
    state, records = program(state, data)
    jax.block_until_ready(records)
    first = time.perf_counter() - t0
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        state, records = program(state, data)
        jax.block_until_ready(records)
        times.append(time.perf_counter() - t0)
    best = min(times)
    return {"seeds": n_seeds, "steps_per_chunk": steps, "eval_every": eval_every,
            "batching": exp.batching, "devices": int(exp.mesh.size),
            "compile_seconds": round(first - best, 3), "chunk_seconds": [round(t, 4) for t in times],
            "seed_steps_per_second": round(n_seeds * steps / best, 2),
            "steps_per_second": round(steps / best, 2)}


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
        row = measure(cfg, n, args.steps, args.repeats)
        rows.append(row)
        print(f"{n:>5} seeds  {row['seed_steps_per_second']:>10.1f} seed-steps/s  "
              f"{row['steps_per_second']:>8.2f} steps/s  compile {row['compile_seconds']:.1f} s",
              flush=True)
    out = pathlib.Path(args.out or f"benchmarks/results/throughput-{jax.default_backend()}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    result = {"config": args.config, "overrides": args.set, "machine": platform.machine(),
              "cpu_count": __import__("os").cpu_count(), **rundir.environment(), "rows": rows}
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
