"""`grokjax report`: every claim of a claims file beside the runs, with its verdict."""

import json
import pathlib

import numpy as np
import pytest

from grokjax import cli
from grokjax.report import claims as claims_lib
from grokjax.store import rundir
from grokjax.summary import measure_phases
from tests.conftest import TINY

CLAIMS = '''
from grokjax.report.claims import Claim, does_not_grok, groks
CLAIMS = [
    Claim("add groks", "test", "a+b groks", "groks", "tasks", groks(), members={"task": "add"},
          cells=(("matrix", "a+b", "r={r}"),)),
    Claim("add stays", "test", "a+b does not grok", "no", "tasks", does_not_grok(),
          members={"task": "add"}),
    Claim("never trained", "test", "x groks", "groks", "missing", groks(),
          cells=(("matrix", "x", "scratch"),)),
    Claim("sub groks", "test", "a-b groks", "groks", "tasks", groks(),
          members={"task": "subtract"}),
]
'''


def test_the_report_lists_every_claim_with_its_verdict(tmp_path, capsys):
    """A task grid whose members all 'grok' at a threshold every member reaches at once: the
    claims that they grok agree, the one that says they do not disagrees, and a claim whose
    run is missing is listed as not run."""
    results = tmp_path / "results"
    assert cli.main(["train", TINY, "--workdir", str(results / "tasks"), "--no-progress",
                     "--grid", "task=add,subtract", "--set", "train.acc_threshold=1e-6",
                     "--set", "tensorboard.enabled=false"]) == 0
    (tmp_path / "claims.py").write_text(CLAIMS)
    out = tmp_path / "REPRODUCTION.md"
    assert cli.main(["report", str(tmp_path / "claims.py"), "--results", str(results),
                     "--out", str(out)]) == 0
    rows = {line.split(" | ")[0].strip("| "): line for line in out.read_text().splitlines()
            if line.startswith("| ") and not line.startswith("| claim")}
    assert list(rows) == ["add groks", "add stays", "never trained", "sub groks"]
    assert rows["add groks"].endswith("| agrees |") and "2/2 grokked" in rows["add groks"]
    assert rows["add stays"].endswith("| disagrees |")
    assert rows["never trained"].endswith("| - | - | not run |")
    assert "p=11, r=0.5, 20 steps, 2 seeds" in rows["sub groks"]
    assert "Verdicts: 2 agrees, 1 disagrees, 1 not run." in out.read_text()
    summary = json.loads((results / "tasks" / "summary.json").read_text())
    assert summary["grokked"] == 4
    assert (tmp_path / "REPRODUCTION-figures" / "matrix.png").stat().st_size > 0
    assert "![matrix](REPRODUCTION-figures/matrix.png)" in out.read_text()
    cells = claims_lib.placed(_claim(tmp_path, "add groks"), results)
    assert cells == [(("matrix", "a+b", "r=0.5"), {"grokked": 2, "n": 2, "grok_step": 0.0,
                                                  "best_test_acc": cells[0][1]["best_test_acc"]})]


def _claim(tmp_path, claim_id):
    from grokjax.report.reproduce import load_claims
    return next(c for c in load_claims(tmp_path / "claims.py")[0] if c.id == claim_id)


def _history(steps, **per_member):
    return {"step": np.asarray(steps), **{k: np.asarray(v) for k, v in per_member.items()}}


def _synthetic_run(tmp_path):
    """One member whose measures move at known steps: the excluded loss is lowest at 2,000;
    the test loss falls from 10 as 10 exp(-(t - 6000) / 300), so it is 10% of the way down in
    log (at 2.0) after 300 ln 5 = 483 steps, first seen at 6,500; the sum of squared weights
    falls from 2,000 by 0.5 per step after 6,000 to 1,000, so from 1,750 at 6,500 it has made
    90% of its fall (1,075) at 7,850, first seen at 7,900; the Gini rises slowly before 6,000
    and ten times faster after."""
    steps = np.arange(0, 12001, 100)
    test = np.where(steps < 6000, 10.0, 10.0 * np.exp(-(steps - 6000) / 300.0)) + 1e-6
    ssw = np.where(steps < 6000, 2000.0, np.maximum(2000.0 - (steps - 6000) * 0.5, 1000.0))
    gini = np.where(steps < 6000, 0.1 + steps * 1e-5, 0.16 + (steps - 6000) * 1e-4)
    history = {"step": steps, "test/loss": test[None, :, None],
               "train/loss": np.full((1, len(steps), 1), 1e-7),
               "mem_step": np.full((1, len(steps), 2), 100),
               "probe/step": steps, "probe/sum_sq_weights": ssw[None],
               "probe/gini/W_E": gini[None], "probe/gini/W_L": gini[None],
               "probe/ffd/W_E": np.linspace(1.0, 0.2, len(steps))[None],
               "probe/fcr/W_E": np.full((1, len(steps)), 0.9)}
    checkpoints = list(range(0, 12001, 1000))
    excluded = [[4.0], [1e-3], [1e-4], [1e-2], [0.1], [1.0], [3.0]] + [[5.0]] * 6
    over = {"steps": checkpoints, "excluded_loss": excluded,
            "restricted_loss": [[4.0]] * len(checkpoints)}
    rundir.write_npz(tmp_path / "history.npz", history)
    rundir.write_json(tmp_path / "final-keys.json", over)
    return history, over


def test_phases_from_the_measures_fall_where_the_measures_turn(tmp_path):
    history, over = _synthetic_run(tmp_path)
    assert measure_phases(history, over, 0) == {
        "memorisation_end": 2000, "circuit_formation_end": 6500, "cleanup_end": 7900}
    entry = {"seed": 0, "grok_step": 6500, "memorisation_step": 100}
    summary = {"seeds": [entry], "steps": 12000}
    value, verdict = claims_lib.phases_in_order()([entry], summary, tmp_path)
    assert verdict == "agrees" and "2.0k/6.5k/7.9k" in value
    value, verdict = claims_lib.gini_rises_at_cleanup()([entry], summary, tmp_path)
    assert verdict == "agrees", value
    # a Gini that rises as fast before cleanup as in it does not agree
    history["probe/gini/W_L"] = (0.1 + history["step"] * 1e-4)[None]
    rundir.write_npz(tmp_path / "history.npz", history)
    assert claims_lib.gini_rises_at_cleanup()([entry], summary, tmp_path)[1] == "disagrees"


@pytest.mark.parametrize("ffd, fcr, grokked, verdict", [
    ("falls", "flat", True, "agrees"), ("falls", "any", True, "agrees"),
    ("flat", "falls", True, "disagrees"),
    ("flat", "falls", False, "inconclusive: no grokking within 12000 steps")])
def test_fig8_patterns_read_ffd_and_fcr_from_init_to_end(tmp_path, ffd, fcr, grokked, verdict):
    _synthetic_run(tmp_path)
    entry = {"seed": 0, "grok_step": 6500 if grokked else -1, "memorisation_step": 100}
    value, got = claims_lib.spectrum_pattern(ffd, fcr)([entry], {"seeds": [entry],
                                                                 "steps": 12000}, tmp_path)
    assert got == verdict and value == "FFD 1.00->0.20, FCR 0.90->0.90"


def test_mixture_and_delay_predicates(tmp_path):
    mixed = {"seed": 0, "grok_step": 900, "memorisation_step": 100, "best_test_acc": 1.0,
             "tasks": {"add": {"grok_step": 300, "test_acc": 1.0},
                       "multiply": {"grok_step": 900, "test_acc": 1.0}}}
    summary = {"seeds": [mixed], "steps": 1000}
    assert claims_lib.groks_last("multiply")([mixed], summary, tmp_path)[1] == "agrees"
    assert claims_lib.groks_last("add")([mixed], summary, tmp_path)[1] == "disagrees"
    assert claims_lib.task_groks("add")([mixed], summary, tmp_path)[1] == "agrees"
    assert claims_lib.no_grokking_delay(2.0)([mixed], summary, tmp_path)[1] == "disagrees"
    quick = {**mixed, "grok_step": 150}
    assert claims_lib.no_grokking_delay(2.0)([quick], summary, tmp_path)[1] == "agrees"


def test_a_bad_claims_file_is_one_line(tmp_path, capsys):
    (tmp_path / "claims.py").write_text("CLAIMS = [1, 2]\n")
    assert cli.main(["report", str(tmp_path / "claims.py"), "--out",
                     str(tmp_path / "r.md")]) == 2
    assert "must define CLAIMS, a list of grokjax.report.claims.Claim" in capsys.readouterr().err


def test_the_committed_reproduction_report_is_what_the_committed_results_give(tmp_path):
    """REPRODUCTION.md is rebuilt from experiments/claims.py and experiments/results/ alone,
    and the committed one is not stale: every claim is a row, with the same values."""
    from grokjax.report import reproduce
    out = tmp_path / "REPRODUCTION.md"
    rows = reproduce.write("experiments/claims.py", "experiments/results", out)
    claims, _ = reproduce.load_claims("experiments/claims.py")
    assert [r["id"] for r in rows] == [c.id for c in claims]
    assert all(r["verdict"].startswith(reproduce.VERDICTS) for r in rows)

    def table(text):
        return [line for line in text.splitlines() if line.startswith("| ")]
    committed = pathlib.Path("REPRODUCTION.md").read_text()
    assert table(out.read_text()) == table(committed), "run `grokjax report` and commit"
    for name in ("table-a5", "transfer", "fig8-ffd-fcr", "nanda-phases"):
        assert (tmp_path / "REPRODUCTION-figures" / f"{name}.png").stat().st_size > 10_000
