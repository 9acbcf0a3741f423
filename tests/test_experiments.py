"""The sweeps in experiments/: each plans its runs (every config and override checked), and
the transfer sweep runs end to end, pre-training first, on tiny settings; the analysis scripts'
rules on constructed inputs."""

import subprocess
import sys

import numpy as np
import pytest

from grokjax.launch import sweep
from grokjax.store import rundir

TINY_SET = ["p=11", "train_fraction=0.5", "model.d_model=32", "model.num_heads=2",
            "model.d_head=16", "model.d_mlp=64", "train.eval_every=5", "train.chunk_steps=10",
            "probe.every=10", "train.steps=20", "checkpoint.save_every=10"]


@pytest.mark.parametrize("spec, n_runs, n_stages", [
    ("experiments/sweep_arithmetic.py", 5, 1),
    ("experiments/sweep_polynomials.py", 36 * 7, 1),
    ("experiments/sweep_polynomials.py:0.3", 36, 1),
    ("experiments/sweep_transfer.py", 3 + 2 * 3 * 23, 2),
    ("experiments/sweep_transfer.py:scratch", 3 + 2 * 3 * 23 + 23, 2),
    ("experiments/sweep_mixtures.py", 20, 1),
    ("experiments/sweep_nanda.py", 1, 1),
    ("experiments/sweep_table_a5.py", 1, 1),
    ("experiments/sweep_table_a5.py:cpu", 1, 1),
    ("experiments/sweep_table_a5.py:cpu-rest", 1, 1),
    ("experiments/sweep_table_a5.py:cpu-long", 1, 1),
    ("experiments/sweep_table_a5.py:cpu-long2", 1, 1),
    ("experiments/sweep_table_a5.py:cpu-long3", 1, 1),
    ("experiments/sweep_table_a5.py:cpu-flat3", 1, 1),
    ("experiments/sweep_table_a5.py:cpu-none3a", 1, 1),
    ("experiments/sweep_table_a5.py:cpu-none3b", 1, 1),
    ("experiments/sweep_table_a5.py:cpu-none3c", 1, 1),
    ("experiments/sweep_table_a5.py:cpu-none3d", 1, 1),
    ("experiments/sweep_table_a5.py:cpu-rest3", 1, 1),
    ("experiments/sweep_table_a5.py:cpu-last", 1, 1),
    ("experiments/sweep_table_a5.py:cpu-last3", 1, 1),
    ("experiments/sweep_claims_cpu.py", 35, 2),
    ("experiments/sweep_claims_cpu.py:3seeds", 3 + 10 + 5 + 5, 2),
    ("experiments/sweep_claims_cpu.py:3seeds-40k", 1 + 2, 2),
    ("experiments/sweep_claims_cpu.py:fig8-15", 2, 1),
    ("experiments/sweep_paper_scale.py", 55, 4),
])
def test_every_shipped_sweep_plans_its_runs(tmp_path, spec, n_runs, n_stages):
    planned = sweep.plan(sweep.load(spec)[1], tmp_path)
    assert len(planned) == n_runs and len(sweep.stages(planned)) == n_stages
    assert len({p.workdir for p in planned}) == n_runs


@pytest.mark.slow  # 25 s: three processes; the stage order itself is tests/test_sweep.py's
def test_the_transfer_sweep_pretrains_then_transfers(tmp_path):
    root = tmp_path / "transfer"
    cmd = [sys.executable, "-m", "grokjax", "sweep", "experiments/sweep_transfer.py", "--root",
           str(root), "--seeds", "2", "--only", "pge-add/x_x_y,pretrain/add",
           *[a for s in TINY_SET for a in ("--set", s)]]
    out = subprocess.run(cmd, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.index("pretrain/add: finished") < out.stdout.index("pge-add/x_x_y: finished")
    run = rundir.read_json(root / "pge-add/x_x_y/run.json")
    assert run["transfer"]["from_run"] == str(root / "pretrain/add")


def test_the_paper_scale_plan_counts_every_member_step(capsys):
    from experiments import paper_scale
    assert paper_scale.main(["--plan"]) == 0
    rows = paper_scale.costs(sweep.load(paper_scale.SPEC)[1])
    a5 = next(r for r in rows if r["run"] == "table_a5/r0.3")
    assert (a5["members"], a5["steps"]) == (117, 300_000)  # 39 tasks x 3 seeds, the paper's
    assert [r["stage"] for r in rows] == sorted(r["stage"] for r in rows)  # cheapest first
    out = capsys.readouterr().out
    assert f"{sum(r['member_steps'] for r in rows):,}" in out.splitlines()[-1]
    assert paper_scale.gpu_rate(1) == 2575 and paper_scale.gpu_rate(512) == 7963


def test_wrong_operands_finds_a_misplaced_operand_and_not_scattered_errors():
    from experiments.wrong_operands import whole_operands
    p = 11
    operands = np.array([(a, b) for a in range(p) for b in range(p)])
    right = np.ones(len(operands), bool)
    right[operands[:, 1] == 2] = False  # every pair with b = 2 wrong: 11 pairs
    right[0] = False  # and one more, (0, 0): its row, column and diagonals hold 2 of 11
    found, share, even = whole_operands(operands, right, p)
    assert found == [("b", 2, 11, 11)] and share == 11 / 12 and even == 11 / 121
    assert whole_operands(operands, np.ones(len(operands), bool), p) == ([], 0.0, 0.0)
    diagonal = (operands[:, 0] + operands[:, 1]) % p == 4  # an (a+b)^n task's one wrong sum
    assert whole_operands(operands, ~diagonal, p) == ([("a+b", 4, 11, 11)], 1.0, 1 / 11)
    # far under the threshold every value is wrong in a quarter of its pairs: all of them are
    # listed, and the share they hold is the share an even spread gives
    found, share, even = whole_operands(operands, np.zeros(len(operands), bool), p)
    assert len(found) == 4 * p and share == even == 1.0


def test_wrong_operands_scores_each_member_on_its_test_split_as_training_did(tmp_path):
    """On a train-fraction grid (test splits padded to one length, and a mask) the script
    scores each member on its own test pairs: its accuracy is the run's final one, and its
    wrong pairs are that share of the member's test set (p = 11: 85 pairs at r = 0.3, 37 at
    0.7), not of the padded one."""
    from experiments.wrong_operands import report
    from tests.conftest import train_tiny
    history = train_tiny(tmp_path / "run", "--steps", "10", "--seeds", "1",
                         "--grid", "train_fraction=0.3,0.7")
    lines = report(str(tmp_path / "run"), None, below=1.01)  # every member
    assert len(lines) == 2
    for line, n_test, acc in zip(lines, (85, 37), history["test/acc"][:, -1, 0]):
        assert float(line.split("test acc ")[1].split(",")[0]) == pytest.approx(acc, abs=1e-4)
        assert int(line.split(", ")[1].split(" wrong")[0]) == round((1 - acc) * n_test)
