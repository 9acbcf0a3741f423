"""Transfer: a pre-trained source run's embedding (PG-E) or whole transformer (PG-T) loaded into
a new run, frozen or not, seed by seed; its mismatches are one-line errors."""

import numpy as np
import pytest

from grokjax import cli, models
from tests.conftest import TINY, params_of
from tests.conftest import train_tiny as train


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """A tiny 'add' run of seeds 0 and 1: the pre-trained source."""
    run = tmp_path_factory.mktemp("src") / "add"
    train(run, "--seed-list", "0,1")
    return run


def flat(params):
    return models.param_names(params)


def test_pg_e_loads_and_freezes_the_embedding(source, tmp_path):
    run = tmp_path / "pge"
    train(run, "--seed-list", "1,0", "--set", "task=subtract", "--init-from", str(source),
          "--load", "embed", "--freeze", "embed")
    src, start, end = flat(params_of(source)), flat(params_of(run, 0)), flat(params_of(run))
    # Target seed s takes source seed s: the target's seeds are (1, 0), the source's (0, 1).
    np.testing.assert_array_equal(start["embed.W_E"], src["embed.W_E"][::-1])
    np.testing.assert_array_equal(end["embed.W_E"], start["embed.W_E"])  # frozen: bit-identical
    assert not np.array_equal(start["unembed.W_U"], src["unembed.W_U"][::-1])  # not loaded
    for name in start:
        if name != "embed.W_E":
            assert not np.array_equal(end[name], start[name]), name  # trained


def test_pg_t_loads_and_freezes_the_transformer(source, tmp_path):
    run = tmp_path / "pgt"
    train(run, "--set", "task=multiply", "--init-from", str(source), "--load", "transformer",
          "--freeze", "transformer")
    src, start, end = flat(params_of(source)), flat(params_of(run, 0)), flat(params_of(run))
    for name in start:
        if name.startswith("blocks."):
            np.testing.assert_array_equal(start[name], src[name])
            np.testing.assert_array_equal(end[name], start[name])
        else:
            assert not np.array_equal(end[name], start[name]), name


def test_one_source_seed_for_every_target_seed(source, tmp_path):
    run = tmp_path / "one"
    train(run, "--init-from", f"{source}@20", "--load", "full", "--source-seed", "1")
    src, start = flat(params_of(source)), flat(params_of(run, 0))
    for name in start:
        np.testing.assert_array_equal(start[name], np.stack([src[name][1]] * 2))


def test_random_frozen_embedding_control(tmp_path):
    run = tmp_path / "rand_emb"
    train(run, "--freeze", "embed")
    np.testing.assert_array_equal(flat(params_of(run))["embed.W_E"],
                                  flat(params_of(run, 0))["embed.W_E"])


def test_a_mixture_keeps_its_task_tokens_trainable(source, tmp_path):
    run = tmp_path / "mix"
    train(run, "--set", "task=x2_y2,x2_xy_y2", "--init-from", str(source), "--load", "embed",
          "--freeze", "embed")
    src, start, end = flat(params_of(source)), flat(params_of(run, 0)), flat(params_of(run))
    assert start["embed.W_E"].shape == (2, 17, 32)  # p + 5 + one task token
    np.testing.assert_array_equal(start["embed.W_E"][:, :16], src["embed.W_E"])
    np.testing.assert_array_equal(end["embed.W_E"][:, :16], start["embed.W_E"][:, :16])
    assert not np.array_equal(end["embed.W_E"][:, 16], start["embed.W_E"][:, 16])


@pytest.mark.parametrize("args,message", [
    (["--set", "model.d_model=16", "--set", "model.d_head=8"],
     "cannot load embed.W_E: source shape (16, 32) does not match this model's (16, 16)"),
    (["--set", "p=13"], "the source run has p=11 but this run has p=13"),
    (["--seeds", "3"], "target seeds [2] have no source seed"),
    (["--source-seed", "7"], "transfer.source_seed=7 is not a seed of the source run"),
])
def test_transfer_mismatches_are_clear_errors(source, tmp_path, capsys, args, message):
    code = cli.main(["train", TINY, "--workdir", str(tmp_path / "x"), "--init-from", str(source),
                     "--load", "embed", *args])
    err = capsys.readouterr().err
    assert code == 2 and message in err, err


def test_missing_source_and_step(tmp_path, source, capsys):
    assert cli.main(["train", TINY, "--workdir", str(tmp_path / "x"), "--init-from",
                     str(tmp_path / "nothing"), "--load", "embed"]) == 2
    assert "no run there" in capsys.readouterr().err
    assert cli.main(["train", TINY, "--workdir", str(tmp_path / "y"), "--init-from",
                     f"{source}@7", "--load", "embed"]) == 2
    assert "no checkpoint at step 7 (saved steps: 0, 20)" in capsys.readouterr().err


