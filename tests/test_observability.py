"""What a researcher sees of a run: TensorBoard events (read back with TensorBoard's own reader),
the figures of `grokjax plot`, and the progress a run prints."""

import json

import jax
import numpy as np
import pytest
from tensorboard.plugins.custom_scalar import layout_pb2
from tensorboard.plugins.hparams import api_pb2, plugin_data_pb2

from grokjax import cli
from grokjax.report import draw
from grokjax.store import files, rundir
from tests.conftest import TINY, params_of, png_size, tb_events, tiny_config


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """The tiny config (2 seeds, chunks and probes of 10 steps), 30 steps, with checkpoints at
    steps 0, 20 and 30."""
    workdir = tmp_path_factory.mktemp("tb") / "tiny"
    assert cli.main(["train", TINY, "--out", str(workdir), "--no-progress", "--steps", "30",
                     "--set", "checkpoint.save_every=20"]) == 0
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
            steps, values = _series(events, f"curves/{key}")
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
        assert not [t for t in scalars if t.startswith("spread/")]  # the aggregate's only


def test_the_aggregate_run_holds_the_mean_and_the_band_of_the_key_curves(run):
    history = rundir.read_npz(run / "history.npz")
    events = tb_events(run / "tb" / "aggregate")
    test_acc = history["test/acc"][..., 0]
    np.testing.assert_allclose(_series(events, "curves/test/acc")[1], test_acc.mean(0),
                               rtol=1e-6)
    for stat, reduce in (("mean", np.mean), ("min", np.min), ("max", np.max)):
        np.testing.assert_allclose(_series(events, f"spread/curves/test/acc/{stat}")[1],
                                   reduce(test_acc, 0), rtol=1e-6)
    scalars = events.Tags()["scalars"]
    band = {t for t in scalars if t.startswith("spread/")}
    assert len(band) == 3 * 7  # only the curves the Margin charts draw, not every tag
    assert "probe/ffd/W_E" in scalars and not [t for t in scalars if t.endswith(("/min", "/max"))
                                               and not t.startswith("spread/")]
    layout = layout_pb2.Layout.FromString(
        events.Tensors("custom_scalars__config__")[0].tensor_proto.string_val[0])
    margins = [c.margin.series[0] for cat in layout.category for c in cat.chart
               if c.HasField("margin")]
    assert margins and {t for m in margins for t in (m.value, m.lower, m.upper)} == band


def test_spectra_images_at_probe_steps_and_histograms_at_chunk_ends(run):
    events = tb_events(run / "tb" / "seed_001")
    images = events.Images("spectra")
    assert [im.step for im in images] == [0, 10, 20, 30]
    assert images[0].width > 300 and images[0].height > 300
    assert images[0].encoded_image_string[:8] == b"\x89PNG\r\n\x1a\n"
    histograms = events.Histograms("weights/embed.W_E")
    # the step-0 checkpoint, then every chunk's end (10 lies between checkpoints), once per step
    # though 20 and 30 are both a chunk's end and a checkpoint
    assert [h.step for h in histograms] == [0, 10, 20, 30]
    assert histograms[0].histogram_value.num == 16 * 32  # d_vocab x d_model of the tiny model
    w_e = np.asarray(params_of(run, 20)["embed"]["W_E"])[1]
    at_20 = histograms[2].histogram_value
    assert at_20.num == w_e.size and at_20.min == pytest.approx(w_e.min()) \
        and at_20.max == pytest.approx(w_e.max())  # the weights of that step and seed


def test_a_long_run_writes_every_kth_spectrum_and_the_printed_command_keeps_them(tmp_path,
                                                                                 capsys):
    from grokjax.monitor import tensorboard
    # 6 probes (steps 0..50), at most 3 images: every 3rd probe from 0, and the last
    assert cli.main(["train", TINY, "--out", str(tmp_path / "r"), "--no-progress", "--steps",
                     "50", "--seeds", "1", "--set", "tensorboard.images=3"]) == 0
    steps = [im.step for im in tb_events(tmp_path / "r" / "tb" / "seed_000").Images("spectra")]
    assert steps == [0, 30, 50]
    cfg = tiny_config()
    with cfg.unlocked():
        cfg.train.steps, cfg.tensorboard.images = 50, 3
    assert tensorboard.images_per_tag(cfg) == len(steps)
    out = capsys.readouterr().out.splitlines()
    assert f"TensorBoard:   tensorboard --logdir {tmp_path / 'r' / 'tb'}" in out  # 10 or fewer
    cfg.train.steps, cfg.tensorboard.images = 1000, 200
    assert tensorboard.command("RUN/tb", tensorboard.images_per_tag(cfg)) == (
        "tensorboard --logdir RUN/tb --samples_per_plugin images=101")
    cfg.train.steps, cfg.probe.every = 300_000, 100  # 3,001 probes: every 16th, and the last
    assert tensorboard.image_stride(cfg) == 16 and tensorboard.images_per_tag(cfg) == 189


def test_hparams_sessions_in_the_seed_runs_and_the_experiment_once(run):
    summary = json.loads((run / "summary.json").read_text())
    for name, seed in (("seed_000", 0), ("seed_001", 1)):
        events = tb_events(run / "tb" / name)
        content = events.PluginTagToContent("hparams")
        assert set(content) == {"_hparams_/session_start_info", "_hparams_/session_end_info"} | (
            {"_hparams_/experiment"} if seed == 0 else set())
        start = plugin_data_pb2.HParamsPluginData.FromString(
            content["_hparams_/session_start_info"]).session_start_info
        assert start.hparams["7_seed"].number_value == seed
        assert start.hparams["1_task"].string_value == "add"
        assert start.hparams["3_r"].number_value == 0.5
        assert start.hparams["4_lr"].number_value == pytest.approx(1e-3)
        assert start.hparams["model.d_model"].number_value == 32
        assert start.hparams["numerics.loss_dtype"].string_value == "float64"
        assert not [k for k in start.hparams if k.startswith(("checkpoint.", "tensorboard."))]
        assert [e.step for e in events.Scalars("hparam/test_acc")] == [30]
    experiment = plugin_data_pb2.HParamsPluginData.FromString(tb_events(
        run / "tb" / "seed_000").PluginTagToContent("hparams")["_hparams_/experiment"]).experiment
    infos = {h.name: h for h in experiment.hparam_infos}
    assert [h.name for h in experiment.hparam_infos][:7] == [
        "7_seed", "1_task", "2_p", "3_r", "4_lr", "5_weight_decay", "6_alpha"]
    assert [h.name for h in experiment.hparam_infos if h.differs] == ["7_seed"]
    assert infos["3_r"].display_name == "r" and infos["3_r"].description == "train_fraction"
    assert list(infos["1_task"].domain_discrete) == ["add"]
    assert list(infos["optim.constrain_norm"].domain_discrete) == [False, True]
    assert list(infos["7_seed"].domain_discrete) == [0, 1]
    metrics = [m.name.tag for m in experiment.metric_infos]
    assert metrics[:5] == ["hparam/grok_step", "hparam/grokked_fraction", "hparam/test_acc",
                           "hparam/memorisation_step", "hparam/test_loss"]
    assert (run / "tb" / "seed_000" / files.TB_EXPERIMENT).is_file()  # (collect rewrites it)
    aggregate = tb_events(run / "tb" / "aggregate")
    with pytest.raises(KeyError):  # no hparams at all: not a session of the HPARAMS tab
        aggregate.PluginTagToContent("hparams")
    assert [e.step for e in aggregate.Scalars("hparam/grokked_fraction")] == [30]
    one = tb_events(run / "tb" / "seed_001").Scalars("hparam/test_acc")[0].value
    assert one == pytest.approx(summary["seeds"][1]["test_acc"], rel=1e-6)


def test_hparams_of_a_grid_mark_its_axes_and_the_seed_as_differing():
    from grokjax import grid
    from grokjax.monitor import tensorboard
    cfg = tiny_config()
    with cfg.unlocked():
        cfg.grid.lr = (1e-3, 3e-3)
    members = grid.members(cfg, [0, 1])
    sessions = [tensorboard.hparams(cfg, members, i) for i in range(len(members))]
    assert [s["4_lr"] for s in sessions] == [1e-3, 1e-3, 3e-3, 3e-3]
    written = tensorboard._experiment(sessions)  # (tensorboardX's proto, which lacks differs)
    experiment = api_pb2.Experiment.FromString(written.SerializeToString())
    names = [h.name for h in experiment.hparam_infos]
    assert names[:7] == ["4_lr", "7_seed", "1_task", "2_p", "3_r", "5_weight_decay", "6_alpha"]
    assert [h.name for h in experiment.hparam_infos if h.differs] == ["4_lr", "7_seed"]
    assert names[7:] == sorted(names[7:]) and "model.d_model" in names
    assert not [n for n in names if n.startswith(("grid.", "checkpoint.", "transfer."))]


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
    assert png_size(out / "grok-steps.png") == tuple(round(x * dpi)
                                                      for x in draw.grok_steps_size(1))
    width, height = png_size(out / "tiny-spectra-seed0-step30.png")
    assert width >= 1000 and height == round(4.2 * 2 * dpi)  # addition: no discrete-log rows
    assert png_size(out / "tiny-embedding-spectrum.png") == tuple(
        round(x * dpi) for x in draw.embedding_spectrum_size(2, 1))


def test_plot_embedding_spectrum_is_that_of_each_checkpoints_w_e(run):
    """The heatmap's values (the probes' W_E spectra in the history) are W_E's norm per
    frequency at each probe step, as numpy's FFT of the checkpoint's W_E gives it:
    sqrt(2/p sum_d |FFT_k|^2) in the orthonormal basis (at the probe steps with a checkpoint)."""
    from grokjax.store.checkpoint import saved_steps
    history = rundir.read_npz(run / "history.npz")
    got = draw.frequency_norms(history)  # [S, P, K]
    p = 11
    assert saved_steps(run) == [0, 20, 30]
    for j, step in enumerate(history["probe/step"]):
        if step not in saved_steps(run):
            continue
        w_e = np.asarray(params_of(run, int(step))["embed"]["W_E"], np.float64)[:, :p]
        fft = np.fft.fft(w_e, axis=1)[:, 1:p // 2 + 1]  # [S, K, d_model]
        want = np.sqrt(2 / p * (np.abs(fft) ** 2).sum(-1))
        np.testing.assert_allclose(got[:, j], want, rtol=1e-4)


def test_plot_spectra_page_has_discrete_log_rows_for_multiplication(run, tmp_path):
    """The same checkpoint drawn as a multiplication run's: the discrete-log rows (W_E and
    W_L over Z/(p-1)) join the additive ones (the addition run's page has two rows: above)."""
    from grokjax.report import plot, runs
    loaded = runs.read_finished(run, "plot")
    loaded.config = {**loaded.config, "task": "multiply"}
    path = plot._spectra(loaded, None, None, tmp_path, "mul")
    assert png_size(path)[1] == round(4.2 * 4 * draw.DPI)


@pytest.mark.slow  # 19 s: a second run to train; the grid plot (test_report) draws one beside others
def test_plot_of_several_runs_puts_their_grok_steps_side_by_side(run, tmp_path, capsys):
    other = tmp_path / "sub"
    assert cli.main(["train", TINY, "--workdir", str(other), "--no-progress",
                     "--set", "task=subtract", "--set", "train_fraction=0.6"]) == 0
    out = tmp_path / "figures"
    assert cli.main(["plot", str(run), str(other), "--out", str(out), "--no-spectra"]) == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == ["grok-steps.png", "sub-curves.png", "sub-embedding-spectrum.png",
                     "sub-measures.png", "tiny-curves.png", "tiny-embedding-spectrum.png",
                     "tiny-measures.png"]  # the embedding spectrum reads the history only
    assert png_size(out / "grok-steps.png") == tuple(round(x * draw.DPI)
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


def test_an_all_diverged_run_reports_diverged_and_warns_of_nothing(tmp_path, capsys):
    # lr = 1000 diverges every member at step 2: its kept (finite) params are so large that the
    # logits overflow, so even they give no finite loss. The tables say "diverged" in that
    # column rather than nan, and nothing the run, inspect, plot or collect computes over the
    # members warns (numpy's 'All-NaN slice').
    import warnings
    from grokjax import summary as summary_lib
    run_dir = tmp_path / "sweep" / "div"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert cli.main(["train", TINY, "--out", str(run_dir), "--no-progress",
                         "--set", "optim.lr=1000"]) == 0
        trained = capsys.readouterr().out
        assert cli.main(["inspect", str(run_dir)]) == 0
        inspected = capsys.readouterr().out
        assert cli.main(["plot", str(run_dir), "--no-spectra"]) == 0
        assert cli.main(["collect", str(tmp_path / "sweep")]) == 0
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["diverged"] == 2 and not np.isfinite(summary["seeds"][0]["test_loss"])
    for text in (trained, inspected):
        table = text.split("seed  train acc")[1].split("\n\n")[0]
        rows = table.strip().splitlines()[1:]
        assert len(rows) == 2 and all(r.split()[3] == "diverged" for r in rows), table
        assert "nan" not in table
    all_nan = [f"{w.filename}:{w.lineno}: {w.message}" for w in caught
               if "All-NaN" in str(w.message)]
    assert not all_nan, all_nan  # (the progress line and TensorBoard's aggregate included)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.isnan(summary_lib.finite_median([np.nan, np.inf]))
        assert summary_lib.finite_median([1.0, np.nan, 3.0]) == 2.0
