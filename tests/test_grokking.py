"""Grokking itself, on the quick config: train accuracy first, test accuracy much later (the
run stops at the chunk in which the last seed groks)."""

import json
import subprocess
import sys

import numpy as np

from grokjax.store import rundir
from tests.conftest import optimised_env


def test_quick_config_groks_for_most_seeds(tmp_path):
    workdir = tmp_path / "quick"
    # a process of its own, compiled with XLA's usual optimisations: this run is long enough
    # for them to halve its time
    out = subprocess.run([sys.executable, "-m", "grokjax", "train", "configs/quick.py", "--seeds",
                          "4", "--out", str(workdir), "--no-progress", "--set",
                          "train.stop_when_grokked=true"], env=optimised_env(),
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    summary = json.loads((workdir / "summary.json").read_text())
    history = rundir.read_npz(workdir / "history.npz")
    assert summary["memorised"] == 4
    assert summary["grokked"] >= 3, summary
    test_acc = history["test/acc"].mean(-1)  # [seed, log point], mean over tasks
    for i, seed in enumerate(summary["seeds"]):
        if seed["grok_step"] < 0:
            continue
        # The grok step is the first log point where test accuracy reached 99% ...
        first = history["step"][np.argmax(test_acc[i] >= 0.99)]
        assert seed["grok_step"] == first
        # ... and it comes long after memorisation: that delay is grokking.
        assert seed["grok_step"] >= 2 * seed["memorisation_step"]
        at_memorisation = np.searchsorted(history["step"], seed["memorisation_step"])
        assert test_acc[i, at_memorisation] < 0.5
        assert seed["test_acc"] > 0.99 and seed["train_acc"] == 1.0
