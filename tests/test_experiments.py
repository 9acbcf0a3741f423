"""experiments/ scripts run end to end on tiny settings."""

import subprocess
import sys

TINY_SET = ["p=11", "train_fraction=0.5", "model.d_model=32", "model.num_heads=2",
            "model.d_head=16", "model.d_mlp=64", "train.eval_every=5", "train.chunk_steps=10",
            "probe.every=10"]


def test_transfer_experiment_pretrains_then_transfers(tmp_path):
    root = tmp_path / "transfer"
    cmd = [sys.executable, "experiments/transfer.py", "--root", str(root), "--seeds", "2",
           "--sources", "add", "--targets", "subtract", "x_x_y", "--modes", "pge", "--scratch",
           "--steps", "20", "--pretrain-steps", "20", "--set", *TINY_SET]
    subprocess.run(cmd, check=True, capture_output=True)
    table = (root / "transfer.md").read_text()
    for name in ("pretrain/add", "pge-add/subtract", "pge-add/x_x_y", "scratch/x_x_y"):
        assert f"| {name} | 0/2 |" in table
        assert (root / name / "summary.json").exists()
    # Running it again skips every finished run.
    again = subprocess.run(cmd, check=True, capture_output=True, text=True)
    assert again.stdout.count("is complete at step") == 5
