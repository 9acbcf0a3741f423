"""Hyperparameter grids in one program: a member trains as a run of its own values would."""

import json

import numpy as np
import pytest

from grokjax import cli
from grokjax.report import draw
from grokjax.store import rundir
from tests.conftest import TINY, assert_same_history, png_size, train_overrides


def _train(workdir, **overrides):
    return train_overrides(workdir, *(f"{k}={v}" for k, v in overrides.items()))


@pytest.fixture(scope="module")
def grid_run(tmp_path_factory):
    """2 learning rates x 2 train fractions x 2 weight scales x 2 seeds = 16 members."""
    workdir = tmp_path_factory.mktemp("grid") / "run"
    history = _train(workdir, **{"grid.lr": "(1e-3, 3e-3)", "grid.train_fraction": "(0.4, 0.6)",
                                 "grid.weight_scale": "(1.0, 1.5)", "optim.weight_decay": 2.0})
    return workdir, history


@pytest.mark.parametrize("member,values", [
    (15, {"optim.lr": 3e-3, "train_fraction": 0.6, "model.weight_scale": 1.5, "seed_list": "(1,)"}),
    pytest.param(0, {"optim.lr": 1e-3, "train_fraction": 0.4, "model.weight_scale": 1.0,
                     "seed_list": "(0,)"}, marks=pytest.mark.slow),  # (two more of the same)
    pytest.param(6, {"optim.lr": 1e-3, "train_fraction": 0.6, "model.weight_scale": 1.5,
                     "seed_list": "(0,)"}, marks=pytest.mark.slow),
])
def test_a_member_trains_as_a_run_of_its_own_values(grid_run, tmp_path, member, values):
    _, grid_history = grid_run
    alone = _train(tmp_path / "alone", **values, **{"optim.weight_decay": 2.0})
    for key in ("train/loss", "test/loss", "train/acc", "test/acc", "norm/total",
                "probe/ffd/W_E", "probe/restricted_loss"):
        np.testing.assert_allclose(grid_history[key][member], alone[key][0], rtol=2e-4,
                                   atol=1e-6, err_msg=key)
    for key in ("mem_step", "grok_step"):
        np.testing.assert_array_equal(grid_history[key][member], alone[key][0])


def test_the_grid_and_each_members_split_are_recorded(grid_run):
    workdir, history = grid_run
    info = json.loads((workdir / "run.json").read_text())
    assert info["grid"]["axes"] == {"lr": [1e-3, 3e-3], "train_fraction": [0.4, 0.6],
                                    "weight_scale": [1.0, 1.5]}
    assert len(info["grid"]["members"]) == 16 and history["test/acc"].shape[0] == 16
    assert info["grid"]["members"][5] == {"seed": 1, "lr": 1e-3, "train_fraction": 0.6,
                                          "weight_scale": 1.0}
    splits = rundir.read_npz(workdir / "splits.npz")
    n = len(splits["operands"])  # 121 inputs for p = 11
    # members: lr (slowest), train fraction, weight scale, seed (fastest)
    np.testing.assert_array_equal(splits["train_mask"].sum(1)[[0, 3, 4, 7]],
                                  [int(0.4 * n)] * 2 + [int(0.6 * n)] * 2)
    np.testing.assert_array_equal(splits["train_mask"].sum(1) + splits["test_mask"].sum(1),
                                  [n] * 16)
    # a seed's r = 0.4 train set is the start of its r = 0.6 one
    k = int(0.4 * n)
    np.testing.assert_array_equal(splits["train_idx"][0, :k], splits["train_idx"][4, :k])
    summary = json.loads((workdir / "summary.json").read_text())
    assert summary["seeds"][5]["hparams"] == {"lr": 1e-3, "train_fraction": 0.6,
                                              "weight_scale": 1.0}
    cells = summary["grid"]["cells"]
    assert len(cells) == 8 and all(c["seeds"] == 2 for c in cells)


def test_plot_draws_the_heatmap_of_a_grid(grid_run, tmp_path, capsys):
    workdir, _ = grid_run
    assert cli.main(["plot", str(workdir), "--out", str(tmp_path), "--no-spectra"]) == 0
    assert png_size(tmp_path / "run-grid.png") == tuple(int(x * draw.DPI)
                                                        for x in draw.HEATMAP_SIZE)


@pytest.mark.parametrize("args,message", [
    (["--grid", "momentum=0.9"], "--grid 'momentum=0.9': give AXIS=V1,V2,... with AXIS one of"),
    (["--grid", "train_fraction=0.5,1.2"], "grid.train_fraction=(0.5, 1.2): every value must be"),
    (["--grid", "lr=0.001,0.001"], "repeats a value"),
    (["--grid", "lr=fast"], "grid.lr=('fast',) must hold numbers"),
    (["--grid", "task=add,add_z"], "grid.task mixes tasks of different arity (add, add_z)"),
    (["--grid", "task=add,division"], "grid.task mixes tasks of different operand domain"),
    (["--grid", "task=add,adddd"], "unknown task 'adddd'"),
    (["--grid", "task=add,add"], "names a task twice"),
    (["--grid", "task=add,multiply", "--set", "p=12"], "p=12 is not prime, but multiply needs"),
    (["--grid", "train_fraction=0.3,0.5", "--set", "optim.batch_size=8"], "needs full-batch"),
])
def test_bad_grid_input_is_one_line(args, message, tmp_path, capsys):
    assert cli.main(["train", TINY, "--workdir", str(tmp_path / "r"), *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("grokjax: error: ") and message in err, err
    assert not (tmp_path / "r").exists()


@pytest.fixture(scope="module")
def task_grid(tmp_path_factory):
    """3 tasks x 2 seeds, trained through the CLI (`--grid task=...`): 6 members."""
    workdir = tmp_path_factory.mktemp("tasks") / "run"
    assert cli.main(["train", TINY, "--workdir", str(workdir), "--no-progress", "--grid",
                     "task=add,x2_y2,x_x_y", "--set", "train.steps=30",
                     "--set", "checkpoint.save_every=0", "--set", "tensorboard.enabled=false"]) == 0
    return workdir, rundir.read_npz(workdir / "history.npz")


@pytest.mark.parametrize("index,task", [(0, "add"), (2, "x2_y2"), (5, "x_x_y")])
def test_a_member_of_a_task_grid_trains_as_its_task_alone(task_grid, tmp_path, index, task):
    """The same metrics, probes (Nanda's table measures included) and event steps, whichever
    operator token and labels the task has: the training metrics bit for bit on CPU ('map'
    batching), the final probes to float rounding (XLA fuses the final program differently
    around the gathered task tables: 1 ulp of a Gini coefficient, measured)."""
    _, history = task_grid
    alone = _train(tmp_path / task, task=task, seed_list=f"({index % 2},)")
    member = {k: v if k in ("step", "probe/step") else v[index:index + 1]
              for k, v in history.items()}
    assert_same_history(member, alone)
    for key in ("train/loss", "test/acc", "norm/total"):
        np.testing.assert_array_equal(member[key], alone[key], err_msg=key)


def test_a_task_grid_is_recorded_per_member(task_grid, capsys):
    workdir, _ = task_grid
    summary = json.loads((workdir / "summary.json").read_text())
    assert [e["hparams"]["task"] for e in summary["seeds"]] == ["add"] * 2 + ["x2_y2"] * 2 + [
        "x_x_y"] * 2
    assert [c["task"] for c in summary["grid"]["cells"]] == ["add", "x2_y2", "x_x_y"]
    info = json.loads((workdir / "run.json").read_text())
    assert [(t["name"], t["op_token"]) for t in info["tasks"]] == [
        ("add", 12), ("x2_y2", 11), ("x_x_y", 11)]  # p = 11: '+' is p+1, '=' is p
    assert cli.main(["inspect", str(workdir)]) == 0
    out = capsys.readouterr().out
    assert "grid         task ('add', 'x2_y2', 'x_x_y'): 6 members" in out
    # the member table names each member's task
    assert any("x2_y2" in line and not line.startswith("grid") for line in out.splitlines())
