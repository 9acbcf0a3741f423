"""What a researcher sees of a run: TensorBoard events (read back with TensorBoard's own reader),
the figures of `grokjax plot`, and the progress a run prints."""

import json

import numpy as np
import pytest
from tensorboard.plugins.hparams import plugin_data_pb2

from grokjax import cli
from grokjax.report import draw
from grokjax.store import rundir
from tests.conftest import TINY, png_size, tb_events


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """The tiny config (2 seeds, probes every 10 steps), with a checkpoint at step 10."""
    workdir = tmp_path_factory.mktemp("tb") / "tiny"
    assert cli.main(["train", TINY, "--workdir", str(workdir), "--no-progress",
                     "--set", "checkpoint.save_every=10"]) == 0
    return workdir


def test_one_tensorboard_run_per_seed_and_an_aggregate_without_subfolders(run):
    tb = run / "tb"
    assert sorted(p.name for p in tb.iterdir()) == ["aggregate", "seed_000", "seed_001"]
    for sub in tb.iterdir():  # hparams go into the run itself, not into a timestamped subfolder
        assert all(f.is_file() and f.name.startswith("events.out.tfevents") for f in sub.iterdir())


def test_every_seed_run_holds_the_recorded_metrics_norms_events_and_probes(run):
    history = rundir.read_npz(run / "history.npz")
    for i, name in enumerate(["seed_000", "seed_001"]):
        events = tb_events(run / "tb" / name)
        scalars = events.Tags()["scalars"]
        for key in ("train/loss", "train/acc", "train/prob", "test/loss", "test/acc", "test/prob"):
            steps, values = _series(events, key)
            np.testing.assert_array_equal(steps, history["step"])
            np.testing.assert_allclose(values, history[key][i, :, 0], rtol=1e-6)
        norm_tags = {t for t in scalars if t.startswith("norm/")}
        assert {"norm/total", "norm/embed.W_E", "norm/blocks.0.attn.W_Q",
                "norm/blocks.0.mlp.W_out", "norm/unembed.W_U"} <= norm_tags
        assert norm_tags == {k for k in history if k.startswith("norm/")}
        np.testing.assert_allclose(_series(events, "norm/total")[1], history["norm/total"][i],
                                   rtol=1e-6)
        for key in ("probe/ffd/W_E", "probe/fcr/W_L", "probe/gini/W_E", "probe/restricted_loss",
                    "probe/excluded_loss", "probe/log/ffd/W_E"):
            steps, values = _series(events, key)
            np.testing.assert_array_equal(steps, history["probe/step"])
            np.testing.assert_allclose(values, history[key][i], rtol=1e-6)
        np.testing.assert_array_equal(_series(events, "probe/n_key_freqs")[1],
                                      history["probe/key_freqs"][i].sum(-1))
        mem = int(history["mem_step"][i, -1, -1])
        steps, memorised = _series(events, "event/memorised")
        np.testing.assert_array_equal(memorised, (mem >= 0) & (steps >= mem))
        assert "event/grokked" in scalars


def test_the_aggregate_run_holds_mean_min_and_max_over_seeds(run):
    history = rundir.read_npz(run / "history.npz")
    events = tb_events(run / "tb" / "aggregate")
    test_acc = history["test/acc"][..., 0]
    for suffix, reduce in (("", np.mean), ("/min", np.min), ("/max", np.max)):
        np.testing.assert_allclose(_series(events, f"test/acc{suffix}")[1], reduce(test_acc, 0),
                                   rtol=1e-6)
    layout = events.PluginTagToContent("custom_scalars")
    assert layout  # the Margin charts: the mean inside its min-max band


def test_spectra_images_at_probe_steps_and_histograms_at_checkpoints(run):
    events = tb_events(run / "tb" / "seed_001")
    images = events.Images("spectra")
    assert [im.step for im in images] == [0, 10, 20]
    assert images[0].width > 300 and images[0].height > 300
    assert images[0].encoded_image_string[:8] == b"\x89PNG\r\n\x1a\n"
    histograms = events.Histograms("weights/embed.W_E")
    assert [h.step for h in histograms] == [0, 10, 20]  # the checkpoints
    assert histograms[0].histogram_value.num == 16 * 32  # d_vocab x d_model of the tiny model


def test_hparams_once_per_run_with_the_config_and_the_final_metrics(run):
    summary = json.loads((run / "summary.json").read_text())
    for name, seed in (("seed_000", "0"), ("seed_001", "1"), ("aggregate", "all")):
        events = tb_events(run / "tb" / name)
        content = events.PluginTagToContent("hparams")
        assert set(content) == {"_hparams_/experiment", "_hparams_/session_start_info",
                                "_hparams_/session_end_info"}
        start = plugin_data_pb2.HParamsPluginData.FromString(
            content["_hparams_/session_start_info"]).session_start_info
        assert start.hparams["seed"].string_value == seed
        assert start.hparams["task"].string_value == "add"
        assert start.hparams["model.d_model"].number_value == 32
        assert start.hparams["optim.lr"].number_value == pytest.approx(1e-3)
        experiment = plugin_data_pb2.HParamsPluginData.FromString(
            content["_hparams_/experiment"]).experiment
        metrics = {m.name.tag for m in experiment.metric_infos}
        assert {"hparam/grok_step", "hparam/test_acc", "hparam/grokked_fraction"} <= metrics
        assert [e.step for e in events.Scalars("hparam/test_acc")] == [20]
    one = tb_events(run / "tb" / "seed_001").Scalars("hparam/test_acc")[0].value
    assert one == pytest.approx(summary["seeds"][1]["test_acc"], rel=1e-6)


def test_tensorboard_can_be_turned_off(tmp_path):
    assert cli.main(["train", TINY, "--workdir", str(tmp_path / "r"), "--no-progress",
                     "--set", "tensorboard.enabled=false"]) == 0
    assert not (tmp_path / "r" / "tb").exists()


def _series(events, tag):
    points = events.Scalars(tag)
    return np.array([p.step for p in points]), np.array([p.value for p in points])


def test_plot_draws_the_figures_of_a_run_at_their_size(run, capsys):
    assert cli.main(["plot", str(run)]) == 0
    out = run / "plots"
    assert f"wrote {out / 'tiny-curves.png'}" in capsys.readouterr().out
    dpi = draw.DPI
    assert png_size(out / "tiny-curves.png") == tuple(int(x * dpi) for x in draw.CURVES_SIZE)
    assert png_size(out / "tiny-measures.png") == tuple(int(x * dpi) for x in draw.MEASURES_SIZE)
    assert png_size(out / "grok-steps.png") == tuple(int(x * dpi)
                                                      for x in draw.grok_steps_size(1))
    width, height = png_size(out / "tiny-spectra-seed0-step20.png")
    assert width >= 1000 and height >= 800


def test_plot_of_several_runs_puts_their_grok_steps_side_by_side(run, tmp_path, capsys):
    other = tmp_path / "sub"
    assert cli.main(["train", TINY, "--workdir", str(other), "--no-progress",
                     "--set", "task=subtract", "--set", "train_fraction=0.6"]) == 0
    out = tmp_path / "figures"
    assert cli.main(["plot", str(run), str(other), "--out", str(out), "--no-spectra"]) == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == ["grok-steps.png", "sub-curves.png", "sub-measures.png", "tiny-curves.png",
                     "tiny-measures.png"]
    assert png_size(out / "grok-steps.png") == tuple(int(x * draw.DPI)
                                                      for x in draw.grok_steps_size(2))


def test_plot_of_something_that_is_not_a_finished_run_is_one_line(tmp_path, capsys):
    assert cli.main(["plot", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("grokjax: error: ") and "has no config.json" in err


def test_a_run_without_a_terminal_prints_progress_lines_and_ends_with_the_table(tmp_path,
                                                                                 capsys):
    assert cli.main(["train", TINY, "--workdir", str(tmp_path / "r")]) == 0
    out = capsys.readouterr()
    lines = [ln for ln in out.err.splitlines() if ln.startswith("step ")]
    assert lines and lines[-1].startswith("step 20/20")
    assert "steps/s" in lines[-1] and "eta" in lines[-1]
    assert "train " in lines[-1] and "test " in lines[-1]
    assert "memorised" in lines[-1] and "grokked 0/2" in lines[-1]
    table = out.out.split("run directory:")[0]
    assert "seed  train acc   test acc" in table and len(table.strip().splitlines()) >= 4
    assert f"tensorboard --logdir {tmp_path / 'r' / 'tb'}" in out.out
