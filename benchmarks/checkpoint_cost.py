"""Time and disk cost of one checkpoint of a run, by number of seeds.

    python benchmarks/checkpoint_cost.py                 # default config, 16 seeds
    python benchmarks/checkpoint_cost.py --seeds 1 16 64 --log-points 1000

Builds the run's real stacked state (params and AdamW moments of every seed, after one probe
interval of training) and a metric history
of `--log-points` points, then saves it `--repeats` times through grokjax.store.checkpoint (orbax):
the time `save` blocks the training loop (asynchronous saving), the time until the checkpoint is
complete on disk, the time to restore it, and its size on disk. Writes
benchmarks/results/checkpoint-<backend>.json.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import platform
import tempfile
import time

import jax
import numpy as np

from grokjax.store import checkpoint as ckpt_lib
from grokjax import config as config_lib
from grokjax import numerics
from grokjax.store import rundir
from grokjax import run as run_lib
from grokjax.experiment import build
from grokjax import program


def measure(cfg, n_seeds: int, log_points: int, repeats: int) -> dict:
    with cfg.unlocked():
        cfg.seeds, cfg.seed_list = n_seeds, ()
    exp = build(cfg)
    state = exp.init_state()
    # Real steps (one probe interval, or one log block), so that the AdamW moments are not the
    # (compressible) zeros of step 0.
    eval_every = cfg.train.eval_every
    steps = cfg.probe.every or eval_every
    chunk = program.make_program(exp.scfg, steps // eval_every, eval_every, exp.batching,
                                 exp.mesh)
    state, _ = chunk(state, exp.data(), 1)
    jax.block_until_ready(state)
    names = ["train/loss", "train/acc", "train/prob", "test/loss", "test/acc", "test/prob"]
    history = {"step": np.arange(log_points, dtype=np.int32),
               **{k: np.random.rand(n_seeds, log_points, 1).astype(np.float32) for k in names},
               "norm/total": np.random.rand(n_seeds, log_points).astype(np.float32)}
    splits = exp.splits()
    blocking, complete, restore = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        checkpoints = ckpt_lib.Checkpoints(tmp, keep=repeats + 1)
        for i in range(repeats):
            t0 = time.perf_counter()
            checkpoints.save(i + 1, state, history, splits, run_lib._meta(exp, i + 1, False))
            t1 = time.perf_counter()
            checkpoints.wait()
            t2 = time.perf_counter()
            blocking.append(t1 - t0)
            complete.append(t2 - t0)
        size = ckpt_lib.disk_bytes(pathlib.Path(tmp) / "checkpoints" / "1")
        abstract = exp.abstract_state()
        for i in range(repeats):
            t0 = time.perf_counter()
            jax.block_until_ready(checkpoints.restore(i + 1, abstract).state)
            restore.append(time.perf_counter() - t0)
        checkpoints.close()
    n_params = sum(x.size for x in jax.tree.leaves(state.params)) // n_seeds
    return {"seeds": n_seeds, "params_per_seed": int(n_params), "log_points": log_points,
            "blocking_seconds": round(min(blocking), 4), "complete_seconds": round(min(complete), 4),
            "restore_seconds": round(min(restore), 4), "bytes": int(size),
            "bytes_per_seed": int(size / n_seeds)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", default="configs/add.py")
    ap.add_argument("--seeds", type=int, nargs="+", default=[16])
    ap.add_argument("--log-points", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = ap.parse_args()
    cfg = config_lib.load_config(args.config, args.set)
    numerics.configure(cfg.numerics.loss_dtype)
    rows = []
    for n in args.seeds:
        row = measure(cfg, n, args.log_points, args.repeats)
        rows.append(row)
        print(f"{n:>4} seeds: save blocks {row['blocking_seconds']:.3f} s, complete "
              f"{row['complete_seconds']:.3f} s, restore {row['restore_seconds']:.3f} s, "
              f"{row['bytes'] / 2**20:.1f} MiB ({row['bytes_per_seed'] / 2**20:.2f} MiB/seed)")
    out = pathlib.Path(f"benchmarks/results/checkpoint-{jax.default_backend()}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"config": args.config, "machine": platform.machine(),
                               **rundir.environment(), "rows": rows}, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
