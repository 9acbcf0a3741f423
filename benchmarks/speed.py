"""grokjax against the PyTorch reference and against the machine, in one run.

    python benchmarks/speed.py                          # this CPU: everything below
    python benchmarks/speed.py --only throughput,reference

Sections (all of the default config: add, p = 97, r = 0.3, full batch), written to
benchmarks/results/speed-<backend>.json and printed as markdown tables:

* machine: the dense float32 matmul rate (2048 x 2048, jitted), the peak a step could reach;
* throughput: seed-steps/s of the training program (probes off: see benchmarks/README.md for
  their cost) at each `--seeds`, with the test set evaluated every 10 steps (the default) and
  every step (as the reference does), compile time apart; FLOPs per seed-step counted from the
  dense formulation of what the logits depend on ("useful"), from the reference's formulation
  (every layer at every position), and from XLA's cost analysis of the step grokjax runs
  ("executed"), each as a rate and as a fraction of the matmul rate;
* memory: bytes per seed of the compiled chunk (XLA's memory analysis at two seed counts) and
  the largest seed count that fits in this device's memory;
* reference: the PyTorch reference loop (benchmarks/torch_reference.py: one seed, eager, float64
  loss, evaluation every step), after checking that it computes grokjax's logits from the same
  weights; skipped when torch is not installed;
* e2e: `grokjax train configs/add.py --seeds 16 --steps N` (N: one chunk by default, 1000)
  through the CLI in a subprocess, a real default run (probes, TensorBoard, checkpoints), wall
  time including start-up and compilation, against the reference: the headline ratio;
* scaling: time per step at 4 seeds as p (59, 97, 113, 211), r (0.3, 0.5, 0.7) and num_layers
  (1, 2) change;
* grok (only when --only names it): the wall time of `grokjax train CONFIG --seeds
  --grok-seeds` (64) until every seed has grokked, the issue's "time for the default 64-seed
  sweep to grok" on an accelerator.

On a GPU the reference runs on the GPU too (torch with CUDA), e.g.
    python benchmarks/speed.py --seeds 1 4 16 64 256 1024 4096 --budget 10000 --e2e-steps 2000
    python benchmarks/speed.py --only grok
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import subprocess
import sys
import tempfile
import time

import jax
import jax.numpy as jnp
import numpy as np

from grokjax import config as config_lib
from grokjax import numerics
from grokjax.store import rundir
from grokjax.experiment import build
from grokjax import program

REPO = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from benchmarks import torch_reference  # noqa: E402


def matmul_rate(n: int | None = None, repeats: int = 10) -> float:
    """Dense float32 matmul GFLOP/s (best of `repeats`; n = 2048 on CPU, 8192 on accelerators),
    at full float32 precision."""
    n = n or (2048 if jax.default_backend() == "cpu" else 8192)
    a = jax.random.normal(jax.random.key(0), (n, n), jnp.float32)
    f = jax.jit(lambda x, y: jnp.dot(x, y, precision="highest"))
    f(a, a).block_until_ready()
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        f(a, a).block_until_ready()
        best = min(best, time.perf_counter() - t0)
    return 2 * n ** 3 / best / 1e9


def dense_flops(cfg, d_vocab: int, n_ctx: int, n_train: int, n_test: int,
                useful: bool = True) -> dict:
    """FLOPs of the dense formulation of the model: forward per example, a train step (forward
    and backward, 3 forwards, over the train set) and one test evaluation. `useful`: what the
    logits depend on (keys and values at every position; queries, MLP and unembedding of the
    last layer at the readout position only); else the reference's formulation, which computes
    every layer and the unembedding at every position."""
    m, C = cfg.model, n_ctx
    D, H, E, F, L = m.d_model, m.num_heads, m.d_head, m.d_mlp, m.num_layers
    full = C * (3 * D * H * E + H * E * D + 2 * D * F) + 2 * H * C * C * E  # MACs of a layer
    last = C * 2 * D * H * E + D * H * E + 2 * H * C * E + H * E * D + 2 * D * F
    macs = (L - 1) * full + last + D * d_vocab if useful else L * full + C * D * d_vocab
    forward = 2 * macs
    return {"forward_per_example": forward, "train_step": 3 * forward * n_train,
            "test_eval": forward * n_test}


def executed_flops(exp) -> dict:
    """XLA's cost analysis of one seed's train step and test evaluation, as grokjax runs them
    (the chunk's own analysis counts a scan body once)."""
    data = exp.data()
    one = data.replace(train_idx=data.train_idx[0], test_idx=data.test_idx[0],
                       table_train=None if data.table_train is None else data.table_train[0])
    state = program.init_state(jax.random.key(0), exp.scfg, exp.n_tasks)

    def flops(fn, *args):
        cost = jax.jit(fn).lower(*args).compile().cost_analysis()
        cost = cost[0] if isinstance(cost, (list, tuple)) else cost
        return float(cost.get("flops", 0.0)) if cost else 0.0

    return {"train_step": flops(lambda s, d: program.train_step(s, d, exp.scfg), state, one),
            "test_eval": flops(lambda s, d: program.evaluate(s.params, d, exp.scfg), state,
                               one)}


def with_overrides(cfg, *overrides: str):
    """A copy of `cfg` with 'dotted.key=value' overrides."""
    cfg = config_lib.from_saved(cfg.to_dict())
    config_lib.apply_overrides(cfg, list(overrides))
    return cfg


def measure(cfg, n_seeds: int, steps: int, repeats: int = 2) -> dict:
    """Steady-state time of a chunk of `steps` steps for `n_seeds` seeds of `cfg` (as
    `grokjax train` builds it: same program, sharding and batching), compile apart, and XLA's
    cost and memory analysis of that program."""
    exp = build(with_overrides(cfg, *config_lib.seed_overrides(n_seeds)))
    data = exp.place(exp.data())
    state = exp.init_state()
    eval_every = cfg.train.eval_every
    jitted = program.make_program(exp.scfg, steps // eval_every, eval_every, exp.batching,
                                  exp.mesh)
    t0 = time.perf_counter()
    active = np.int32(steps // program.outer_steps(exp.scfg, eval_every))  # all of it
    chunk = jitted.lower(state, data, active).compile()  # runs below reuse this executable
    compile_s = time.perf_counter() - t0
    mem = chunk.memory_analysis()
    state, records = chunk(state, data, active)  # first run (warm caches)
    jax.block_until_ready(records)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        state, records = chunk(state, data, active)
        jax.block_until_ready(records)
        times.append(time.perf_counter() - t0)
    best = min(times)
    return {"seeds": n_seeds, "steps": steps, "eval_every": eval_every,
            "batching": exp.batching, "devices": int(exp.mesh.size),
            "n_train": int(exp.train_idx.shape[1]), "n_test": int(exp.test_idx.shape[1]),
            "d_vocab": exp.dataset.vocab.d_vocab, "n_ctx": int(exp.dataset.tokens.shape[-1]),
            "compile_seconds": round(compile_s, 2), "chunk_seconds": [round(t, 4) for t in times],
            "seconds_per_step": best / steps,
            "seed_steps_per_second": round(n_seeds * steps / best, 2),
            "executed_flops": executed_flops(exp),
            "memory_bytes": None if mem is None else int(
                mem.temp_size_in_bytes + mem.argument_size_in_bytes + mem.output_size_in_bytes
                - mem.alias_size_in_bytes)}


def _steps_for(n_seeds: int, eval_every: int, budget: float) -> int:
    """Steps per timed chunk: about `budget` seed-steps, a multiple of eval_every, >= 10."""
    steps = max(10, int(budget // n_seeds))
    return max(eval_every, steps // eval_every * eval_every)


def section_throughput(cfg, seeds, peak, eval_seeds, budget) -> list[dict]:
    rows = []
    for eval_every in (10, 1):
        for n in seeds if eval_every == 10 else [s for s in seeds if s in eval_seeds]:
            c = with_overrides(cfg, f"train.eval_every={eval_every}", "train.chunk_steps=1000",
                               "probe.every=0")
            row = measure(c, n, _steps_for(n, eval_every, budget))
            sps = row["seed_steps_per_second"]
            for name, counts in (
                    ("useful", dense_flops(c, row["d_vocab"], row["n_ctx"], row["n_train"],
                                           row["n_test"])),
                    ("reference_formulation", dense_flops(c, row["d_vocab"], row["n_ctx"],
                                                          row["n_train"], row["n_test"], False)),
                    ("executed", row["executed_flops"])):
                per = counts["train_step"] + counts["test_eval"] / eval_every
                row[f"{name}_flops_per_seed_step"] = per
                row[f"{name}_gflops_per_second"] = round(per * sps / 1e9, 1)
                row[f"{name}_fraction_of_matmul_rate"] = round(per * sps / 1e9 / peak, 3)
            rows.append(row)
            print(f"  {n:>5} seeds, eval every {eval_every:>2}: {sps:>9.1f} seed-steps/s, "
                  f"compile {row['compile_seconds']:.1f} s", flush=True)
    return rows


def device_memory_bytes() -> int | None:
    stats = jax.devices()[0].memory_stats() or {}
    if "bytes_limit" in stats:
        return int(stats["bytes_limit"])
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        return None


def section_memory(rows: list[dict]) -> dict:
    pts = sorted({(r["seeds"], r["memory_bytes"]) for r in rows
                  if r["eval_every"] == 10 and r["memory_bytes"]})
    if len(pts) < 2:
        return {}
    (s0, m0), (s1, m1) = pts[0], pts[-1]
    per_seed = (m1 - m0) / (s1 - s0)
    if per_seed <= 0:
        return {"from_points": pts, "note": "no growth with seeds measured"}
    total = device_memory_bytes()
    fits = int((total - m0 + per_seed * s0) // per_seed) if total and per_seed > 0 else None
    return {"bytes_per_seed": int(per_seed), "fixed_bytes": int(m0 - per_seed * s0),
            "device_bytes": total, "largest_seed_count_that_fits": fits,
            "from_points": pts}


def section_reference(steps: int) -> dict:
    if not torch_reference.available():
        print("  torch is not installed: the reference comparison is skipped", flush=True)
        return {"skipped": "torch is not installed"}
    import torch  # pylint: disable=import-outside-toplevel
    from grokjax import models  # pylint: disable=import-outside-toplevel
    exp, train_t, train_y, test_t, test_y = torch_reference.default_data()
    params = models.init(jax.random.key(0), exp.scfg.mcfg)
    ref = torch_reference.build(exp.dataset.vocab.d_vocab)
    torch_reference.from_grokjax(ref, params)
    with torch.no_grad():
        theirs = ref(test_t)[:, -1].numpy()
    ours = np.asarray(models.apply(params, jnp.asarray(test_t.numpy()), exp.scfg.mcfg))
    diff = float(np.abs(ours - theirs).max())
    device = ("cuda" if jax.default_backend() == "gpu"
              and torch_reference.default_device() == "cuda" else "cpu")
    row = torch_reference.steps_per_second(steps, device=device)
    row["max_abs_logit_difference_same_weights"] = diff
    print(f"  reference: {row['steps_per_second']:.2f} steps/s on {device} (one seed, eval every "
          f"step); logits agree to {diff:.1e}", flush=True)
    return row


def _train_cli(*args: str) -> tuple[str, float, dict]:
    """`grokjax train ARGS` in a subprocess, as a user runs it, with a cold compilation cache:
    (the command as shown, its wall time, its summary)."""
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "grokjax", "train", *args, "--no-progress",
               "--workdir", f"{tmp}/run"]
        env = {k: v for k, v in os.environ.items() if k != "JAX_COMPILATION_CACHE_DIR"}
        t0 = time.perf_counter()
        subprocess.run(cmd, cwd=REPO, check=True, capture_output=True, env=env)
        wall = time.perf_counter() - t0
        summary = rundir.read_json(pathlib.Path(tmp) / "run" / "summary.json")
    return " ".join(["grokjax", "train", *args]), wall, summary


def section_e2e(config: str, seeds: int, steps: int) -> dict:
    command, wall, summary = _train_cli(config, "--seeds", str(seeds), "--steps", str(steps))
    row = {"command": command, "seeds": seeds, "steps": steps, "wall_seconds": round(wall, 2),
           "seed_steps_per_second": round(seeds * steps / wall, 2),
           "loop_seed_steps_per_second": summary.get("seed_steps_per_second")}
    print(f"  e2e: {row['seed_steps_per_second']:.1f} seed-steps/s ({wall:.0f} s, compile and "
          "start-up included)", flush=True)
    return row


def section_grok(config: str, seeds: int, max_steps: int) -> dict:
    """The wall time of a real sweep until every seed has grokked (train.stop_when_grokked)."""
    command, wall, summary = _train_cli(config, "--seeds", str(seeds), "--steps",
                                        str(max_steps), "--set", "train.stop_when_grokked=true")
    row = {"command": command, "seeds": seeds, "wall_seconds": round(wall, 1),
           "steps_run": summary.get("steps"),
           **{k: summary.get(k) for k in ("memorised", "grokked", "grok_step_median",
                                          "grok_step_min", "grok_step_max")}}
    print(f"  grok: {seeds} seeds in {wall:.0f} s: {row}", flush=True)
    return row


def section_scaling(cfg, budget) -> list[dict]:
    rows = []
    variants = ([("p", v) for v in (59, 97, 113, 211)]
                + [("train_fraction", v) for v in (0.3, 0.5, 0.7)]
                + [("model.num_layers", v) for v in (1, 2)])
    for key, value in variants:
        row = measure(with_overrides(cfg, f"{key}={value}", "probe.every=0"), 4,
                      _steps_for(4, 10, budget / 4))
        row.update(varied=key, value=value)
        rows.append(row)
        print(f"  {key}={value}: {1e3 * row['seconds_per_step']:.1f} ms per step (4 seeds)",
              flush=True)
    return rows


def table(result: dict) -> str:
    lines = []
    ref = result.get("reference", {}).get("steps_per_second")
    if "throughput" in result:
        lines += ["| seeds | eval every | seed-steps/s | x reference | compile | useful GFLOP/s "
                  "(of matmul) | executed GFLOP/s (of matmul) |",
                  "|---:|---:|---:|---:|---:|---:|---:|"]
        for r in result["throughput"]:
            x = f"{r['seed_steps_per_second'] / ref:.1f}" if ref else "-"
            lines.append(
                f"| {r['seeds']} | {r['eval_every']} | {r['seed_steps_per_second']:.1f} | {x} | "
                f"{r['compile_seconds']:.1f} s | {r['useful_gflops_per_second']:.0f} "
                f"({100 * r['useful_fraction_of_matmul_rate']:.0f}%) | "
                f"{r['executed_gflops_per_second']:.0f} "
                f"({100 * r['executed_fraction_of_matmul_rate']:.0f}%) |")
    if ref:
        lines.append(f"\nPyTorch reference (1 seed, eval every step, "
                     f"{result['reference'].get('device', 'cpu')}): {ref:.2f} steps/s")
    if "grok" in result:
        g = result["grok"]
        lines.append(f"\nUntil every seed grokked: `{g['command']}`: {g['wall_seconds']:.0f} s, "
                     f"{g['steps_run']} steps, grokked {g['grokked']}/{g['seeds']}, grok steps "
                     f"{g['grok_step_min']}-{g['grok_step_max']} (median {g['grok_step_median']})")
    if "e2e" in result:
        e = result["e2e"]
        x = f", {e['seed_steps_per_second'] / ref:.1f}x the reference" if ref else ""
        lines.append(f"End to end, `{e['command']}`: {e['wall_seconds']:.0f} s, "
                     f"{e['seed_steps_per_second']:.1f} seed-steps/s{x}")
    if result.get("memory", {}).get("bytes_per_seed"):
        m = result["memory"]
        lines.append(f"Memory: {m['bytes_per_seed'] / 2**20:.1f} MiB per seed; "
                     f"{m['largest_seed_count_that_fits']} seeds fit in "
                     f"{(m['device_bytes'] or 0) / 2**30:.0f} GiB")
    if "scaling" in result:
        lines += ["", "| varied | value | ms per step (4 seeds) | n_train |", "|---|---:|---:|---:|"]
        for r in result["scaling"]:
            lines.append(f"| {r['varied']} | {r['value']} | {1e3 * r['seconds_per_step']:.1f} | "
                         f"{r['n_train']} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", default="configs/add.py")
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 4, 16, 64, 256])
    ap.add_argument("--eval-seeds", type=int, nargs="+", default=[1, 16],
                    help="seed counts also measured with evaluation every step")
    ap.add_argument("--budget", type=float, default=640.0,
                    help="seed-steps per timed chunk (steps = budget / seeds, at least 10)")
    ap.add_argument("--reference-steps", type=int, default=20)
    ap.add_argument("--e2e-steps", type=int, default=None,
                    help="steps of the end-to-end run (default: one chunk, train.chunk_steps)")
    ap.add_argument("--grok-seeds", type=int, default=64,
                    help="seeds of the 'grok' section (not run unless --only names it)")
    ap.add_argument("--grok-max-steps", type=int, default=20_000)
    ap.add_argument("--only", default="machine,throughput,reference,e2e,scaling",
                    help="sections, comma-separated; also 'grok': the time for a sweep to grok")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    only = set(args.only.split(","))
    cfg = config_lib.load_config(args.config, args.set)
    numerics.configure(cfg.numerics.loss_dtype)
    result = {"config": args.config, "overrides": args.set, "machine": platform.machine(),
              "processor": platform.processor(), "cpu_count": os.cpu_count(),
              **rundir.environment()}
    peak = matmul_rate()
    result["matmul_gflops_per_second"] = round(peak, 1)
    print(f"machine: dense float32 matmul {peak:.0f} GFLOP/s", flush=True)
    if "reference" in only:
        result["reference"] = section_reference(args.reference_steps)
    if "e2e" in only:
        result["e2e"] = section_e2e(args.config, 16, args.e2e_steps or cfg.train.chunk_steps)
    if "throughput" in only:
        result["throughput"] = section_throughput(cfg, args.seeds, peak, args.eval_seeds,
                                                  args.budget)
        result["memory"] = section_memory(result["throughput"])
    if "scaling" in only:
        result["scaling"] = section_scaling(cfg, args.budget)
    if "grok" in only:
        result["grok"] = section_grok(args.config, args.grok_seeds, args.grok_max_steps)
    ref = result.get("reference", {}).get("steps_per_second")
    if ref and "e2e" in result:
        result["e2e_ratio_to_reference"] = round(result["e2e"]["seed_steps_per_second"] / ref, 2)
    print("\n" + table(result))
    out = pathlib.Path(args.out or REPO / f"benchmarks/results/speed-{jax.default_backend()}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
