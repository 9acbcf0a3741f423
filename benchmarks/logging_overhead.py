"""What TensorBoard logging costs a whole run, end to end through `run.train`.

    python benchmarks/logging_overhead.py                    # quick config, 8 seeds, 3 pairs
    python benchmarks/logging_overhead.py --config configs/add.py --seeds 4 --set train.steps=2000

Runs the same config with `tensorboard.enabled` true and false, alternating (on, off, on, off,
...) after one untimed warm-up run that fills JAX's compilation cache, so both arms compile
nothing and share the machine's state. Each run writes a fresh run directory (checkpoints
included, as in real use). Reports the wall time of each run (the training loop: chunks,
records, events, checkpoints), the medians, and the overhead of logging, plus the size of the
event files. Results go to benchmarks/results/logging-overhead-<backend>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import shutil
import statistics
import tempfile

os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", tempfile.mkdtemp(prefix="grokjax-bench-"))
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")

import jax  # noqa: E402

from grokjax import config as config_lib  # noqa: E402
from grokjax.store import rundir  # noqa: E402
from grokjax import run as run_lib  # noqa: E402


def one_run(cfg, enabled: bool, root: pathlib.Path) -> dict:
    with cfg.unlocked():
        cfg.tensorboard.enabled = enabled
    workdir = root / f"run-{'on' if enabled else 'off'}"
    shutil.rmtree(workdir, ignore_errors=True)
    summary = run_lib.train(cfg, workdir, progress=False)
    tb = workdir / "tb"
    size = sum(f.stat().st_size for f in tb.rglob("*") if f.is_file()) if tb.exists() else 0
    shutil.rmtree(workdir)
    return {"tensorboard": enabled, "wall_seconds": summary["wall_seconds"],
            "event_bytes": size}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", default="configs/quick.py")
    ap.add_argument("--seeds", type=int, default=8)
    ap.add_argument("--pairs", type=int, default=3, help="timed (on, off) pairs")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    cfg = config_lib.load_config(args.config, [*args.set, *config_lib.seed_overrides(args.seeds)])
    root = pathlib.Path(tempfile.mkdtemp(prefix="grokjax-logging-"))
    one_run(cfg, True, root)  # warm-up: compiles, fills the cache
    rows = []
    for _ in range(args.pairs):
        for enabled in (True, False):
            rows.append(one_run(cfg, enabled, root))
            print(f"tensorboard {'on ' if enabled else 'off'}  {rows[-1]['wall_seconds']:7.2f} s",
                  flush=True)
    on = statistics.median(r["wall_seconds"] for r in rows if r["tensorboard"])
    off = statistics.median(r["wall_seconds"] for r in rows if not r["tensorboard"])
    result = {"config": args.config, "seeds": args.seeds, "overrides": args.set,
              "machine": platform.machine(), "cpu_count": os.cpu_count(),
              **rundir.environment(), "rows": rows, "median_seconds_on": on,
              "median_seconds_off": off, "overhead_fraction": round(on / off - 1, 4),
              "event_bytes": rows[0]["event_bytes"],
              "tensorboard_config": cfg.tensorboard.to_dict()}
    print(f"median: on {on:.2f} s, off {off:.2f} s, overhead {100 * (on / off - 1):+.1f}%; "
          f"event files {rows[0]['event_bytes'] / 2**20:.1f} MiB")
    out = pathlib.Path(args.out or
                       f"benchmarks/results/logging-overhead-{jax.default_backend()}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
