"""`grokjax report`: every claim of a claims file beside the runs, with its verdict."""

import json

from grokjax import cli
from tests.conftest import TINY

CLAIMS = '''
from grokjax.report.claims import Claim, does_not_grok, groks
CLAIMS = [
    Claim("add groks", "test", "a+b groks", "groks", "tasks", groks(), members={"task": "add"}),
    Claim("add stays", "test", "a+b does not grok", "no", "tasks", does_not_grok(),
          members={"task": "add"}),
    Claim("never trained", "test", "x groks", "groks", "missing", groks()),
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


def test_a_bad_claims_file_is_one_line(tmp_path, capsys):
    (tmp_path / "claims.py").write_text("CLAIMS = [1, 2]\n")
    assert cli.main(["report", str(tmp_path / "claims.py"), "--out",
                     str(tmp_path / "r.md")]) == 2
    assert "must define CLAIMS, a list of grokjax.report.claims.Claim" in capsys.readouterr().err
