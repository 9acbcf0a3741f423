"""Long runs, skipped by default: `python -m pytest -m slow`."""

import json

import pytest

from grokjax import cli


@pytest.mark.slow
def test_the_default_config_groks(tmp_path):
    """configs/add.py (add mod 97, r = 0.3): two seeds grok within its 10,000 steps (~15 min on
    a 2-core CPU; the README lists the measured grok steps)."""
    workdir = tmp_path / "add"
    assert cli.main(["train", "configs/add.py", "--seeds", "2", "--workdir", str(workdir),
                     "--no-progress", "--set", "train.stop_when_grokked=true"]) == 0
    summary = json.loads((workdir / "summary.json").read_text())
    assert summary["grokked"] == 2, summary
    assert all(s["memorisation_step"] < 500 < s["grok_step"] for s in summary["seeds"])
