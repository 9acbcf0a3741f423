"""benchmarks/gpu.py --small: the five-minute accelerator check runs as written, on this CPU
with small sizes, and reports what the CPU promises (the README's "What holds where"): the
same command twice and a resume after a kill bit for bit, a seed alone equal to it in a batch
bit for bit with map and to float rounding with vmap, memory per member from XLA."""

import json
import pathlib
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parent.parent


def _check(tmp_path, *args: str) -> tuple[dict, str]:
    out = tmp_path / "gpu-small.json"
    printed = subprocess.run([sys.executable, "benchmarks/gpu.py", "--small", "--out", str(out),
                              *args], cwd=REPO, capture_output=True, text=True, timeout=300,
                             check=True).stdout
    return json.loads(out.read_text()), printed


def test_one_section_of_the_gpu_check_writes_its_json_and_table(tmp_path):
    """The default suite's share (the whole check takes ~90 s: marked slow, below): a section
    chosen with --only runs, the others are not, and the table shows it."""
    result, printed = _check(tmp_path, "--only", "table_a5")
    assert set(result["sections"]) == {"table_a5"} and result["small"]
    a5 = result["sections"]["table_a5"]
    assert a5["members"] == 3 and a5["projected_hours_to_3e5_steps"] > 0
    assert result["numerics"]["gpu_deterministic_ops"]  # asked for before the backend started
    assert "Table A.5 grid: 3 members" in printed and "| same command twice" not in printed


@pytest.mark.slow
def test_the_gpu_check_runs_on_a_cpu_and_finds_what_the_cpu_promises(tmp_path):
    result, printed = _check(tmp_path)
    s = result["sections"]
    assert result["small"] and result["backend"] == "cpu" and result["matmul_gflops"] > 0

    runs = s["runs"]
    assert runs["same_command_twice"]["bit_identical"], runs["same_command_twice"]
    assert runs["resume_after_kill"]["bit_identical"], runs["resume_after_kill"]
    assert runs["killed"]["returncode"] == -9 and runs["resumed"]["returncode"] == 0
    assert runs["run_json_numerics"]["gpu_deterministic_ops"]
    assert runs["run_json_numerics"]["deterministic_how"] == "set"  # by the run itself
    assert runs["cold"]["compile_seconds"] > 0 and runs["cached"]["compile_seconds"] > 0

    assert s["alone_vs_batch"]["map"]["largest_metric_difference"] == 0
    assert 0 <= s["alone_vs_batch"]["vmap"]["largest_metric_difference"] < 1e-4

    rows = s["throughput"]
    assert [(r["members"], r["matmul_precision"], r["member_group"], r["attention"])
            for r in rows] == [
        (1, "highest", 0, "tables"), (8, "highest", 0, "tables"), (8, "default", 0, "tables"),
        (8, "highest", 2, "tables"), (8, "highest", 0, "dense")]
    for r in rows:
        assert r["member_steps_per_second"] > 0 and r["bytes_per_member"] > 0
        assert 0 < r["fraction_of_matmul_rate"] < 2
    grouped, whole = rows[3], rows[1]
    assert grouped["peak_bytes_per_device"] < whole["peak_bytes_per_device"]  # groups cut it

    assert s["table_a5"]["members"] == 3 and s["table_a5"]["projected_hours_to_3e5_steps"] > 0
    assert "| same command twice | bit-identical: True |" in printed


def test_the_full_size_check_asks_for_configs_grokjax_accepts():
    """The GPU sizes are never run here: their configs are checked as a run checks them (a
    config the GPU refused would waste the lease)."""
    sys.path.insert(0, str(REPO))
    from benchmarks import gpu
    from grokjax import config as config_lib
    full = gpu.SIZES["full"]
    args = gpu.runs_args(full)
    overrides = [args[i + 1] for i, a in enumerate(args) if a == "--set"]
    runs = config_lib.load_config(args[0], overrides + [f"train.steps={args[4]}"])
    for cfg in (runs, gpu.throughput_config(full), gpu.table_a5_config(full)):
        config_lib.validate(cfg)
    assert gpu.table_a5_config(full).grid.task and len(gpu.table_a5_config(full).grid.task) == 39
