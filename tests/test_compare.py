"""Arms against a baseline (`grokjax compare`, grokjax.report.speedup): grok steps and paired
speed-ups, with bootstrap intervals, and censored members read as bounds."""

import numpy as np
import pytest

from grokjax.errors import GrokjaxError
from grokjax.report import speedup


def _summary(arms: dict[str, list[int]], steps: int = 1000) -> dict:
    """A summary of arms whose members (seeds 0..n-1 each) grokked at these steps (-1: not)."""
    seeds = [{"seed": s, "grok_step": g, "hparams": {"arm": name}}
             for name, grok in arms.items() for s, g in enumerate(grok)]
    return {"steps": steps, "seeds": seeds}


def test_medians_and_speedups_without_censoring():
    base = [400, 500, 600, 700, 800]
    fast = [100, 200, 150, 300, 250]
    rows = speedup.compare(speedup.arms(_summary({"adamw": base, "fast": fast})), "adamw")
    by = {r["arm"]: r for r in rows}
    assert by["adamw"]["median"] == 600 and by["adamw"]["speedup"] == 1.0
    assert by["fast"]["median"] == 200 and by["fast"]["speedup"] == pytest.approx(3.0)
    assert by["fast"]["grokked"] == 5 and not by["fast"]["median_is_bound"]
    lo, hi = by["fast"]["speedup_ci"]
    assert lo <= 3.0 <= hi and lo > 1.0  # every resample has the fast arm faster
    assert by["adamw"]["speedup_ci"] == (1.0, 1.0)  # paired: the baseline against itself
    lo, hi = by["fast"]["median_ci"]
    assert 100 <= lo <= 200 <= hi <= 300


def test_the_bootstrap_interval_is_that_of_a_direct_resampling():
    rng = np.random.default_rng(1)
    base, other = rng.integers(300, 900, 9).tolist(), rng.integers(100, 700, 9).tolist()
    rows = speedup.compare(speedup.arms(_summary({"adamw": base, "x": other})), "adamw")
    draws = np.random.default_rng(speedup.BOOT_SEED).integers(0, 9, size=(speedup.N_BOOT, 9))
    ratio = np.median(np.asarray(base)[draws], 1) / np.median(np.asarray(other)[draws], 1)
    expected = np.quantile(ratio, [0.025, 0.975])
    np.testing.assert_allclose(rows[1]["speedup_ci"], expected)


def test_censored_members_make_the_median_and_speedup_bounds():
    # the baseline mostly never groks within 1000 steps: its median is >= 1000, so the
    # speed-up of an arm that groks is a lower bound
    rows = speedup.compare(speedup.arms(_summary({
        "adamw": [-1, -1, 900, -1, -1], "fast": [100, 120, 90, 110, 130],
        "never": [-1] * 5})), "adamw")
    by = {r["arm"]: r for r in rows}
    assert by["adamw"]["median"] == 1000 and by["adamw"]["median_is_bound"]
    assert by["fast"]["speedup_bound"] == "lower" and by["fast"]["speedup"] == pytest.approx(
        1000 / 110)
    assert by["never"]["speedup_bound"] == "none"
    text = speedup.table(rows, "adamw", 1000)
    assert ">= 1,000" in text and ">= 9.09x" in text and "neither grokked" in text


def test_a_run_without_arms_or_a_missing_baseline_is_one_line():
    with pytest.raises(GrokjaxError, match="no arms"):
        speedup.arms({"steps": 10, "seeds": [{"seed": 0, "grok_step": 5}]})
    with pytest.raises(GrokjaxError, match="not an arm"):
        speedup.compare(speedup.arms(_summary({"a": [1, 2]})), "adamw")
