"""One accelerator check that fits five minutes, compiles included: what a researcher who rents a
GPU for a day needs to know, measured in one process (and the few `grokjax train` processes that
determinism and resume need), written as it goes.

    python benchmarks/gpu.py             # on a GPU: <= 5 minutes; benchmarks/results/gpu-<device>.json
    python benchmarks/gpu.py --small     # the same code on a CPU with small sizes: < 3 minutes

Sections, each skipped (and said so) when the deadline (`--deadline`, 290 s; 170 s with --small)
would not leave it its time:

* runs: `grokjax train` of the quick config (2 seeds) three times as a user runs it: with an
  empty compilation cache (cold: the wall time and the compile time it reports), again from the
  cache (cached), and once killed (SIGKILL) after its first checkpoint and resumed; every array of
  history.npz compared: the same command twice, and a resume after a kill, bit for bit or not;
* alone_vs_batch: seed 2 of the quick config alone and as member 2 of seeds 0-3, batched with
  vmap (a GPU's default) and with map, one chunk program each: bit for bit or the largest
  difference, and the grok steps;
* throughput: the default config (add, p = 97, r = 0.3, full batch; probes off, test evaluation
  every 10 steps) at 1, 64, 1,024 and 8,192 members in full float32, and at 1,024 with TF32
  matmuls (`numerics.matmul_precision=default`), in groups of 256, and with the attention
  computed per example (`model.attention=dense`: no scatter-add into the score table in the
  backward pass; `--profile DIR` traces the 1,024-member chunk), through the run's own path: XLA's memory
  analysis first (grokjax.memory), members in vmapped groups where they do not fit at once, the
  compiled chunk program timed: member-steps/s, bytes per member, the executed FLOP rate against
  the card's measured float32 matmul rate;
* reference: the frt03 PyTorch loop on the same device (skipped without torch);
* table_a5: Furuta's Table A.5 task grid (39 tasks x 3 seeds = 117 members) for a few hundred
  steps, and its projection to the paper's 3e5 steps.

bf16 matmuls are not an option of grokjax yet (`numerics.matmul_precision` names XLA's
precisions: 'default' is TF32 on a recent NVIDIA GPU): a gap of this check.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import re
import signal
import subprocess
import sys
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from grokjax import numerics  # noqa: E402  (before anything starts JAX's backend)

USER_XLA_FLAGS = os.environ.get("XLA_FLAGS")  # the train processes ask for themselves
numerics.request_determinism(True)  # as `grokjax train` does: the same bits every rerun

import jax  # noqa: E402
import numpy as np  # noqa: E402

from benchmarks import speed  # noqa: E402
from grokjax import config as config_lib  # noqa: E402
from grokjax import memory, program  # noqa: E402
from grokjax.experiment import build  # noqa: E402
from grokjax.store import rundir  # noqa: E402
from grokjax.store.files import RunFiles  # noqa: E402

SIZES = {"full": {"members": [1, 64, 1024, 8192], "tf32": [1024], "steps": 100,
                  "quick_steps": 500, "quick_every": 250, "batch_steps": 1000, "reference_steps": 200,
                  "a5_steps": 300, "a5_tasks": None, "a5_seeds": 3, "a5_p": 97,
                  "deadline": 290.0},
         "small": {"members": [1, 8], "tf32": [8], "steps": 10, "quick_steps": 40,
                   "quick_every": 10,
                   "batch_steps": 40, "reference_steps": 5, "a5_steps": 20,
                   "a5_tasks": ("add", "subtract", "multiply"), "a5_seeds": 1, "a5_p": 23,
                   "deadline": 170.0}}
PAPER_STEPS = 300_000  # Table A.5's budget (Furuta et al., App. A)


class Clock:
    """The deadline: sections ask whether their time is left."""

    def __init__(self, seconds: float):
        self.end = time.perf_counter() + seconds

    def left(self) -> float:
        return self.end - time.perf_counter()


def is_small(size: dict) -> bool:
    return size is SIZES["small"]


def device_name() -> str:
    d = jax.devices()[0]
    kind = d.device_kind if d.platform != "cpu" else "cpu"
    return re.sub(r"[^a-z0-9]+", "-", kind.lower()).strip("-")


# -- runs: the same command twice, and a resume after a kill ----------------------------------

def _train(out: pathlib.Path, args: list[str], cache: pathlib.Path, kill_at: int | None = None
           ) -> dict:
    """`grokjax train ARGS --out OUT` in a subprocess with its compilation cache in `cache`;
    SIGKILLed once checkpoint `kill_at` exists. Returns its wall time and the compile time it
    reported (None where it did not say)."""
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    if USER_XLA_FLAGS is not None:
        env["XLA_FLAGS"] = USER_XLA_FLAGS
    env.update(JAX_COMPILATION_CACHE_DIR=str(cache), PYTHONPATH=os.pathsep.join(
        filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))  # (carried wheels stay)
    cmd = [sys.executable, "-m", "grokjax", "train", *args, "--out", str(out)]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    if kill_at is not None:
        deadline = time.perf_counter() + 120
        while (proc.poll() is None and time.perf_counter() < deadline
               and not (RunFiles(out).checkpoints / str(kill_at)).is_dir()):
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
    out_text, err_text = proc.communicate()
    wall = time.perf_counter() - t0
    if kill_at is None and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{err_text[-2000:]}")
    compiled = re.search(r"compiled in ([\d.]+) s", err_text)
    return {"wall_seconds": round(wall, 2),
            "compile_seconds": float(compiled.group(1)) if compiled else None,
            "returncode": proc.returncode}


def _same(a: pathlib.Path, b: pathlib.Path) -> dict:
    """Every array of two runs' history.npz: equal bit for bit, or the largest difference."""
    ha, hb = rundir.read_npz(RunFiles(a).history), rundir.read_npz(RunFiles(b).history)
    diffs = {k: float(np.nanmax(np.abs(ha[k].astype(np.float64) - hb[k].astype(np.float64))))
             for k in ha if k in hb and ha[k].shape == hb[k].shape
             and not np.array_equal(ha[k], hb[k], equal_nan=True)}
    differ = sorted(set(ha) ^ set(hb)) + [k for k in ha if k in hb and ha[k].shape != hb[k].shape]
    return {"bit_identical": not diffs and not differ, "largest_difference": diffs,
            "grok_steps": [rundir.read_json(RunFiles(r).summary)["seeds"][i]["grok_step"]
                           for r in (a, b) for i in range(2)]}


def runs_args(size: dict) -> list[str]:
    """The `grokjax train` arguments of the runs section: a checkpoint per chunk (progress on:
    it says the compile time)."""
    config = "tests/tiny.py" if is_small(size) else "configs/quick.py"
    steps, every = size["quick_steps"], size["quick_every"]
    return [config, "--seeds", "2", "--steps", str(steps), "--set", f"train.chunk_steps={every}",
            "--set", f"checkpoint.save_every={every}", "--set", "tensorboard.enabled=false"]


def section_runs(size: dict, tmp: pathlib.Path) -> dict:
    args, every = runs_args(size), size["quick_every"]
    cache = tmp / "cache"
    out = {"command": "grokjax train " + " ".join(args)}
    out["cold"] = _train(tmp / "cold", args, cache)
    out["cached"] = _train(tmp / "cached", args, cache)
    out["killed"] = _train(tmp / "resumed", args, cache, kill_at=every)
    out["resumed"] = _train(tmp / "resumed", args, cache)
    out["same_command_twice"] = _same(tmp / "cold", tmp / "cached")
    out["resume_after_kill"] = _same(tmp / "cold", tmp / "resumed")
    out["run_json_numerics"] = rundir.read_json(RunFiles(tmp / "cold").run_info)["numerics"]
    print(f"  same command twice: bit-identical {out['same_command_twice']['bit_identical']}; "
          f"resume after a kill: {out['resume_after_kill']['bit_identical']}; cold "
          f"{out['cold']['wall_seconds']} s, cached {out['cached']['wall_seconds']} s",
          flush=True)
    return out


# -- a seed alone and in a batch ----------------------------------------------------------------

def _chunk(cfg, seeds: tuple[int, ...], batching: str, steps: int) -> dict:
    cfg = speed.with_overrides(cfg, f"seed_list={','.join(map(str, seeds))}",
                               f"train.batching={batching}", "probe.every=0")
    exp = build(cfg)
    state = exp.init_state()
    chunk = program.make_program(exp.scfg, steps // cfg.train.eval_every, cfg.train.eval_every,
                                 **exp.lifting)
    _, records = chunk(state, exp.place(exp.data()),
                       np.int32(steps // program.outer_steps(exp.scfg, cfg.train.eval_every)))
    return jax.device_get(records)


def section_alone_vs_batch(size: dict) -> dict:
    small = is_small(size)
    cfg = config_lib.load_config("tests/tiny.py" if small else "configs/quick.py", [])
    steps = size["batch_steps"]
    out = {}
    for batching in ("vmap", "map"):
        alone, batch = (_chunk(cfg, s, batching, steps) for s in ((2,), (0, 1, 2, 3)))
        diff = max(float(np.nanmax(np.abs(np.asarray(alone[k][0], np.float64)
                                          - np.asarray(batch[k][2], np.float64))))
                   for k in alone if k.startswith(("train/", "test/")))
        grok = [int(r["grok_step"][i, -1, -1]) for r, i in ((alone, 0), (batch, 2))]
        out[batching] = {"largest_metric_difference": diff, "grok_step_alone_and_in_batch": grok}
        print(f"  seed 2 alone vs in 4 ({batching}): largest difference {diff:.2e}, grok {grok}",
              flush=True)
    return out


# -- throughput and memory ----------------------------------------------------------------------

def _throughput(cfg, n: int, steps: int, peak: float, profile: str | None = None) -> dict:
    exp = build(speed.with_overrides(cfg, *config_lib.seed_overrides(n)))
    est = memory.fit_members(exp, memory.estimate(exp))
    state = exp.init_state(est.compiled["init"])
    data = exp.place(exp.data())
    active = np.int32(steps // program.outer_steps(exp.scfg, cfg.train.eval_every))
    chunk = est.compiled["chunk"]
    state, records = chunk(state, data, active)  # first run (warm caches)
    jax.block_until_ready(records)
    t0 = time.perf_counter()
    if profile:  # a trace of the timed chunk, for TensorBoard's profile plugin or Perfetto
        jax.profiler.start_trace(profile)
    state, records = chunk(state, data, active)
    jax.block_until_ready(records)
    seconds = time.perf_counter() - t0
    if profile:
        jax.profiler.stop_trace()
    flops = speed.executed_flops(exp)
    per_step = flops["train_step"] + flops["test_eval"] / cfg.train.eval_every
    rate = n * steps / seconds
    return {"members": n, "member_group": exp.member_group, "steps": steps,
            "matmul_precision": cfg.numerics.matmul_precision,
            "attention": cfg.model.attention,
            "compile_seconds": round(est.seconds, 2), "seconds": round(seconds, 4),
            "member_steps_per_second": round(rate, 1),
            "peak_bytes_per_device": est.peak, "bytes_per_member": int(est.total / n),
            "executed_flops_per_member_step": per_step,
            "executed_tflops_per_second": round(per_step * rate / 1e12, 3),
            "fraction_of_matmul_rate": round(per_step * rate / 1e9 / peak, 3)}


def throughput_config(size: dict):
    return config_lib.load_config("configs/add.py", [  # vmap: the GPU's default, on a CPU too
        "probe.every=0", "train.eval_every=10", "train.batching=vmap",
        f"train.chunk_steps={size['steps']}", f"train.steps={size['steps']}",
        "tensorboard.enabled=false", "checkpoint.save_every=0"])


def section_throughput(size: dict, clock: Clock, peak: float, profile: str | None
                       ) -> list[dict]:
    base = throughput_config(size)
    rows = []
    largest, mid = size["members"][-1], size["tf32"][0]
    plan = ([(n, "highest", 0, "tables") for n in size["members"]]
            + [(mid, "default", 0, "tables")]  # TF32 matmuls on a GPU
            + [(mid, "highest", mid // 4, "tables")]  # what groups cost
            + [(mid, "highest", 0, "dense")])  # attention per example: no table scatter-add
    for n, precision, group, attention in plan:
        if clock.left() < 20 or (n == largest and clock.left() < 60 and not is_small(size)):
            rows.append({"members": n, "matmul_precision": precision, "attention": attention,
                         "skipped": "deadline"})
            continue
        cfg = speed.with_overrides(base, f"numerics.matmul_precision={precision}",
                                   f"train.member_group={group}", f"model.attention={attention}")
        row = _throughput(cfg, n, size["steps"], peak, profile if n == mid and group == 0
                          and precision == "highest" and attention == "tables" else None)
        rows.append(row)
        print(f"  {n:>5} members ({precision}, {attention}): "
              f"{row['member_steps_per_second']:>10.1f} "
              f"member-steps/s, {row['fraction_of_matmul_rate']:.0%} of the matmul rate, "
              f"{row['bytes_per_member'] / 2**20:.1f} MiB/member, group "
              f"{row['member_group'] or 'all'}, compiled in {row['compile_seconds']} s",
              flush=True)
    return rows


# -- Table A.5's task grid ----------------------------------------------------------------------

def table_a5_config(size: dict):
    from experiments.sweep_table_a5 import TWO_VARIABLE  # pylint: disable=import-outside-toplevel
    steps = size["a5_steps"]
    cfg = config_lib.load_config("configs/polynomials.py", [
        f"p={size['a5_p']}", "train_fraction=0.3", f"train.steps={steps}",
        f"train.chunk_steps={steps}", "tensorboard.enabled=false", "checkpoint.save_every=0",
        f"probe.every={100 if steps % 100 == 0 else 0}",  # as a run probes (not at --small)
        *config_lib.seed_overrides(size["a5_seeds"])])
    with cfg.unlocked():
        cfg.grid.task = tuple(size["a5_tasks"] or TWO_VARIABLE)
    return cfg


def section_table_a5(size: dict) -> dict:
    cfg = table_a5_config(size)
    tasks, steps = cfg.grid.task, size["a5_steps"]
    exp = build(cfg)
    est = memory.fit_members(exp, memory.estimate(exp))
    state = exp.init_state(est.compiled["init"])
    data = exp.place(exp.data())
    active = np.int32(steps // program.outer_steps(exp.scfg, cfg.train.eval_every))
    t0 = time.perf_counter()
    state, records = est.compiled["chunk"](state, data, active)
    jax.block_until_ready(records)
    seconds = time.perf_counter() - t0
    members = exp.n_members
    out = {"tasks": len(tasks), "seeds": size["a5_seeds"], "members": members, "p": cfg.p,
           "steps": steps, "compile_seconds": round(est.seconds, 2),
           "seconds": round(seconds, 2), "member_group": exp.member_group,
           "member_steps_per_second": round(members * steps / seconds, 1),
           "projected_hours_to_3e5_steps": round(seconds / steps * PAPER_STEPS / 3600, 2)}
    print(f"  Table A.5 grid, {members} members: {out['member_steps_per_second']} member-steps/s;"
          f" 3e5 steps in {out['projected_hours_to_3e5_steps']} h", flush=True)
    return out


# -- the table ----------------------------------------------------------------------------------

def table(result: dict) -> str:
    s = result["sections"]
    lines = [f"device: {result['device']} ({result['backend']}), jax {result['versions']['jax']}"
             f", float32 matmul {result['matmul_gflops']:.0f} GFLOP/s", ""]
    if isinstance(s.get("runs"), dict) and "cold" in s["runs"]:
        r = s["runs"]
        lines += ["| check | result |", "|---|---|",
                  f"| same command twice | bit-identical: {r['same_command_twice']['bit_identical']}"
                  f" |",
                  f"| resume after a kill | bit-identical: {r['resume_after_kill']['bit_identical']}"
                  f" |",
                  f"| cold run / cached run | {r['cold']['wall_seconds']} s / "
                  f"{r['cached']['wall_seconds']} s (compile {r['cold']['compile_seconds']} / "
                  f"{r['cached']['compile_seconds']} s) |"]
    for batching, row in (s.get("alone_vs_batch") or {}).items():
        if isinstance(row, dict):
            lines.append(f"| seed alone vs in a batch ({batching}) | largest difference "
                         f"{row['largest_metric_difference']:.2e}, grok "
                         f"{row['grok_step_alone_and_in_batch']} |")
    ref = (s.get("reference") or {}).get("steps_per_second")
    if isinstance(s.get("throughput"), list):
        lines += ["", "| members | precision | attention | member-steps/s | x reference | "
                  "of matmul rate | MiB/member | group | compile s |",
                  "|---:|---|---|---:|---:|---:|---:|---:|---:|"]
        for row in s["throughput"]:
            if "skipped" in row:
                lines.append(f"| {row['members']} | {row['matmul_precision']} | "
                             f"{row['attention']} | skipped | | | | | |")
                continue
            x = f"{row['member_steps_per_second'] / ref:.0f}x" if ref else "-"
            lines.append(f"| {row['members']} | {row['matmul_precision']} | {row['attention']} | "
                         f"{row['member_steps_per_second']:,.0f} | {x} | "
                         f"{row['fraction_of_matmul_rate']:.0%} | "
                         f"{row['bytes_per_member'] / 2**20:.1f} | {row['member_group'] or 'all'}"
                         f" | {row['compile_seconds']} |")
    a5 = s.get("table_a5")
    if isinstance(a5, dict) and "members" in a5:
        lines += ["", f"Table A.5 grid: {a5['members']} members, {a5['steps']} steps in "
                  f"{a5['seconds']} s ({a5['member_steps_per_second']:,.0f} member-steps/s); "
                  f"3e5 steps: {a5['projected_hours_to_3e5_steps']} h"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--small", action="store_true", help="small sizes, for a CPU")
    ap.add_argument("--deadline", type=float, default=None, help="seconds for everything")
    ap.add_argument("--profile", default=None, metavar="DIR",
                    help="a jax.profiler trace of the 1,024-member chunk (8 with --small)")
    ap.add_argument("--only", default="runs,alone_vs_batch,throughput,reference,table_a5")
    ap.add_argument("--out", default=None, help="the JSON (default benchmarks/results/"
                                                "gpu-<device>.json)")
    args = ap.parse_args(argv)
    size = SIZES["small" if args.small else "full"]
    t_start = time.perf_counter()
    clock = Clock(args.deadline or size["deadline"])
    numerics.configure("float64")
    out = pathlib.Path(args.out or REPO / "benchmarks" / "results" / f"gpu-{device_name()}.json")
    result = {"device": device_name(), "backend": jax.default_backend(),
              "devices": [str(d) for d in jax.devices()], "small": args.small,
              "versions": rundir.versions(), "numerics": numerics.determinism(),
              "matmul_gflops": round(speed.matmul_rate(), 1), "sections": {}}
    wanted = args.only.split(",")
    budget = {"runs": 60, "alone_vs_batch": 30, "throughput": 40, "reference": 20,
              "table_a5": 40}
    with tempfile.TemporaryDirectory() as tmp:
        for name in wanted:
            if clock.left() < budget[name] * (0.3 if args.small else 1.0):
                result["sections"][name] = {"skipped": "deadline"}
                print(f"{name}: skipped (deadline)", flush=True)
                continue
            print(f"{name}:", flush=True)
            t0 = time.perf_counter()
            try:  # a section that fails is recorded, and the others still run
                if name == "runs":
                    value = section_runs(size, pathlib.Path(tmp))
                elif name == "alone_vs_batch":
                    value = section_alone_vs_batch(size)
                elif name == "throughput":
                    value = section_throughput(size, clock, result["matmul_gflops"],
                                               args.profile)
                elif name == "reference":
                    value = speed.section_reference(size["reference_steps"])
                else:
                    value = section_table_a5(size)
            except Exception as e:  # noqa: BLE001
                value = {"failed": f"{type(e).__name__}: {e}"[:2000]}
                print(f"  failed: {value['failed'][:300]}", flush=True)
            result["sections"][name] = value
            result.setdefault("section_seconds", {})[name] = round(time.perf_counter() - t0, 1)
            out.parent.mkdir(parents=True, exist_ok=True)
            rundir.write_json(out, result)  # as it goes: a killed check keeps what it measured
    result["seconds"] = round(time.perf_counter() - t_start, 1)
    rundir.write_json(out, result)
    print(table(result))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
