"""A saved run, opened (grokjax.saved): the one handle on a run directory. Most tests read a
copy of the committed run directory tests/data/run-before-layout (2 seeds of the tiny config,
20 steps, written before grokjax.saved existed), so they train nothing."""

import json
import pathlib
import re
import shutil

import jax
import numpy as np
import pytest

import grokjax
from grokjax import models
from grokjax.errors import GrokjaxError
from grokjax.saved import Model, SavedRun, open_run
from grokjax.store import rundir
from grokjax.store.files import RunFiles

DATA = pathlib.Path(__file__).parent / "data" / "run-before-layout"
README = pathlib.Path(__file__).resolve().parent.parent / "README.md"


@pytest.fixture
def run_dir(tmp_path):
    shutil.copytree(DATA, tmp_path / "run")
    return tmp_path / "run"


def test_open_run_reads_the_files_of_the_run(run_dir):
    run = grokjax.open_run(run_dir)
    assert isinstance(run, SavedRun) and run.dir == run_dir
    assert run.config == json.loads((run_dir / "config.json").read_text())
    assert run.summary == json.loads((run_dir / "summary.json").read_text())
    assert run.info["seeds"] == [0, 1] and run.finished
    np.testing.assert_array_equal(run.history["test/acc"],
                                  np.load(run_dir / "history.npz")["test/acc"])
    assert run.steps == sorted(int(d.name) for d in (run_dir / "checkpoints").iterdir())
    assert run.member_seeds == [0, 1]


def test_a_directory_without_a_run_is_one_line(tmp_path):
    with pytest.raises(GrokjaxError, match="has no config.json: it is not a grokjax run"):
        open_run(tmp_path)


def test_an_unfinished_run_says_what_finishes_it(run_dir):
    (run_dir / "history.npz").unlink()
    run = open_run(run_dir)
    assert not run.finished and not run.has_history
    with pytest.raises(GrokjaxError, match=r"no history.npz.*grokjax train CONFIG --out"):
        run.history
    with pytest.raises(GrokjaxError, match="plot needs a finished grokjax run"):
        run.require_finished("plot")


def test_a_damaged_summary_is_rebuilt_from_the_history(run_dir, capsys):
    want = json.loads((run_dir / "summary.json").read_text())
    (run_dir / "summary.json").write_text("{garbage")
    got = open_run(run_dir).summary
    assert "rebuilt it from history.npz" in capsys.readouterr().err
    keys = ("seed", "memorisation_step", "grok_step", "best_test_acc", "test_acc", "train_loss")
    assert [[e[k] for k in keys] for e in got["seeds"]] == \
        [[e[k] for k in keys] for e in want["seeds"]]
    assert json.loads((run_dir / "summary.json").read_text()) == got  # written back


def test_the_state_at_a_step_is_the_checkpoints(run_dir):
    run = open_run(run_dir)
    latest = run.restore()
    assert latest.step == run.steps[-1] == 20 and latest.meta["final"]
    assert int(run.restore(10).state.step[0]) == 10
    with pytest.raises(GrokjaxError, match=r"no checkpoint at step 7 \(saved steps: 0, 10, 20\)"):
        run.restore(7)


def test_params_of_chosen_members(run_dir):
    run = open_run(run_dir)
    both, step = run.params()
    one, _ = run.params(seeds=[1])
    assert step == 20
    for a, b in zip(jax.tree.leaves(both), jax.tree.leaves(one)):
        np.testing.assert_array_equal(a[1:], b)
    with pytest.raises(GrokjaxError, match=r"has no seed 5; its seeds are \[0, 1\]"):
        run.params(seeds=[5])
    with pytest.raises(GrokjaxError, match="has 2 members .* member 2 is not one"):
        run.params(members=[2])


def test_a_model_runs_each_member_as_models_apply_does(run_dir):
    run = open_run(run_dir)
    model = run.model()
    assert isinstance(model, Model) and model.seeds == [0, 1] and model.step == 20
    ab = model.table()
    assert ab.shape == (11 * 11, 2)
    tokens = model.tokens(ab)
    logits = np.asarray(model(tokens))
    params, _ = run.params()
    for i in range(2):
        one = jax.tree.map(lambda x: x[i], params)
        want = np.asarray(models.apply(one, tokens, run.experiment.scfg.mcfg))
        np.testing.assert_allclose(logits[i], want, rtol=1e-6, atol=1e-6)


def test_a_models_accuracy_is_the_runs_final_accuracy(run_dir):
    """On each member's own train and test split, the model's accuracy is the one the
    training program recorded at the final log point (an independent forward pass)."""
    run = open_run(run_dir)
    model, exp = run.model(), run.experiment
    for split, idx in (("train", exp.train_idx), ("test", exp.test_idx)):
        for i in range(2):
            got = model.accuracy(exp.dataset.operands[idx[i]])[i]
            assert got == pytest.approx(float(run.history[f"{split}/acc"][i, -1, 0]), abs=1e-6)


def test_cache_and_hooks_keep_the_member_axis(run_dir):
    model = open_run(run_dir).model()
    tokens = model.tokens(model.table())
    logits, cache = model.run_with_cache(tokens)
    assert logits.shape == (2, 121, model.cfg.d_vocab)
    assert cache["blocks.0.attn.hook_pattern"].shape == (2, 121, 2, 3, 3)
    assert set(cache) == set(model.hook_names)
    _, few = model.run_with_cache(tokens, names=["blocks.0.mlp.hook_post"])
    assert list(few) == ["blocks.0.mlp.hook_post"]
    zero = {"blocks.0.hook_attn_out": lambda x: x * 0}
    patched = np.asarray(model(tokens, hooks=zero))
    assert not np.allclose(patched, logits)  # the hook reached the forward pass
    assert np.isfinite(patched).all()


def test_readers_share_the_handle(run_dir):
    """The commands read runs through open_run: the same answers as the handle gives."""
    from grokjax.circuits import load
    from grokjax.report import runs
    finished = runs.read_finished(run_dir, "plot")
    assert finished.summary == open_run(run_dir).summary
    model = load(run_dir, seeds=[0])
    assert isinstance(model, Model) and model.index == [0] and model.step == 20


def test_run_files_name_every_file_of_a_run(run_dir):
    files = RunFiles(run_dir)
    for path in (files.config, files.run_info, files.splits, files.history, files.summary,
                 files.checkpoints):
        assert path.exists(), path
    assert files.is_run() and not RunFiles(run_dir / "checkpoints").is_run()


def _readme_notebook_block() -> str:
    text = README.read_text()
    section = text[text.index("### Open a trained model in a notebook"):]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_the_readmes_notebook_example_runs(run_dir, monkeypatch, capsys):
    """The README's block, as written, on a run at runs/quick."""
    monkeypatch.chdir(run_dir.parent)
    (run_dir.parent / "runs").mkdir()
    shutil.move(str(run_dir), run_dir.parent / "runs" / "quick")
    exec(compile(_readme_notebook_block(), "README.md", "exec"), {})  # noqa: S102
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "0 [0, 10, 20]" and out[1] == "(2, 5, 1)"
    assert out[2] == "(2, 121, 2, 3, 3)"


def test_a_task_grid_model_reads_one_task(tmp_path):
    """Members of a task grid differ in labels and operator token: a model takes members of
    one task, and tokenises with that task's operator."""
    from tests.conftest import train_tiny
    run_dir = tmp_path / "grid"
    train_tiny(run_dir, "--steps", "10", "--grid", "task=add,subtract", "--seeds", "1",
               "--set", "tensorboard.enabled=false", "--set", "probe.every=0")
    run = open_run(run_dir)
    assert len(run.member_seeds) == 2
    with pytest.raises(GrokjaxError, match="task grid and these members read 2 tasks"):
        run.model()
    sub = run.model(members=[1])
    assert sub.task == "subtract"
    ab = np.asarray([[3, 5]])
    assert sub.labels(ab).tolist() == [(3 - 5) % 11]
    add = run.model(members=[0])
    assert add.tokens(ab)[0, 1] != sub.tokens(ab)[0, 1]  # the operator token
    assert rundir.read_json(RunFiles(run_dir).run_info)["grid"]["axes"]["task"] == [
        "add", "subtract"]
