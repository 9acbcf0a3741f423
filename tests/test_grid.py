"""Hyperparameter grids in one program: a member trains as a run of its own values would."""

import json

import numpy as np
import pytest

from grokjax import cli, config, run
from grokjax.report import draw
from grokjax.store import rundir
from tests.conftest import TINY, png_size, tiny_config


def _train(workdir, **overrides):
    cfg = tiny_config()
    config.apply_overrides(cfg, [f"{k}={v}" for k, v in overrides.items()]
                           + ["tensorboard.enabled=false", "train.steps=30",
                              "checkpoint.save_every=0"])
    run.train(cfg, workdir, progress=False)
    return rundir.read_npz(workdir / "history.npz")


@pytest.fixture(scope="module")
def grid_run(tmp_path_factory):
    """2 learning rates x 2 train fractions x 2 weight scales x 2 seeds = 16 members."""
    workdir = tmp_path_factory.mktemp("grid") / "run"
    history = _train(workdir, **{"grid.lr": "(1e-3, 3e-3)", "grid.train_fraction": "(0.4, 0.6)",
                                 "grid.weight_scale": "(1.0, 1.5)", "optim.weight_decay": 2.0})
    return workdir, history


@pytest.mark.parametrize("member,values", [
    (0, {"optim.lr": 1e-3, "train_fraction": 0.4, "model.weight_scale": 1.0, "seed_list": "(0,)"}),
    (15, {"optim.lr": 3e-3, "train_fraction": 0.6, "model.weight_scale": 1.5,
          "seed_list": "(1,)"}),
    (6, {"optim.lr": 1e-3, "train_fraction": 0.6, "model.weight_scale": 1.5,
         "seed_list": "(0,)"}),
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
    (["--grid", "lr=fast"], "grid.lr expects tuple"),
    (["--grid", "train_fraction=0.3,0.5", "--set", "optim.batch_size=8"], "needs full-batch"),
])
def test_bad_grid_input_is_one_line(args, message, tmp_path, capsys):
    assert cli.main(["train", TINY, "--workdir", str(tmp_path / "r"), *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("grokjax: error: ") and message in err, err
    assert not (tmp_path / "r").exists()
