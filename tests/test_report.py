"""`grokjax report`: every claim of a claims file beside the runs, with its verdict."""

import json
import pathlib

import numpy as np
import pytest

from grokjax import cli
from grokjax.errors import GrokjaxError
from grokjax.report import claims as claims_lib
from grokjax.store import rundir
from grokjax.report.tables import measure_phases
from tests.conftest import TINY

CLAIMS = '''
from grokjax.report.claims import Claim, does_not_grok, groks
CLAIMS = [
    Claim("add groks", "test", "a+b groks", "groks", "tasks", groks(), members={"task": "add"},
          cells=(("matrix", "a+b", "r={r}, {ksteps}k steps"),)),
    Claim("add stays", "test", "a+b does not grok", "no", "tasks", does_not_grok(),
          members={"task": "add"}),
    Claim("never trained", "test", "x groks", "groks", "missing", groks(),
          cells=(("matrix", "x", "scratch"),)),
    Claim("sub groks", "test", "a-b groks", "groks", "tasks", groks(),
          members={"task": "subtract"}),
    Claim("sub groks (paper)", "test", "a-b groks", "groks", "missing", groks(),
          same_as="sub groks"),
    Claim("ours", "a user", "a-b groks", "not tested by the paper", "tasks", groks(),
          members={"task": "subtract"}, papers=False),
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
    text = out.read_text()
    table = text[text.index("| claim |"):].splitlines()[2:]
    rows = {line.split(" | ")[0].strip("| "): line for line in table if line.startswith("| ")}
    assert list(rows) == ["add groks", "add stays", "never trained", "sub groks",
                          "sub groks (paper)", "ours"]
    assert rows["add groks"].endswith("| agrees [2 seeds] | 3 seeds (this rests on 2) |")
    assert "2/2 grokked" in rows["add groks"]
    # the headline: counts by scale (no paper budget given here) and by seeds
    assert "| agrees | 0 | 0 | 2 | 0 | 2 | 0 |" in text
    assert "| disagrees | 0 | 0 | 1 | 0 | 1 | 0 |" in text
    assert "| disagrees [2 seeds] |" in rows["add stays"]
    assert rows["never trained"].endswith("| - | - | not run | run it |")
    assert "p=11, r=0.5, 20 steps, 2 seeds" in rows["sub groks"]
    # a claim in two rows, one run and one not, counts once: by the row that ran
    assert rows["sub groks (paper)"].endswith("| - | - | not run | run it |")
    assert "Verdicts of 4 claims (a claim in several rows, at several scales, counts once, " \
        "by its largest run): 2 agrees, 1 disagrees, 1 not run. Not counted: 1 row on a " \
        "question the papers do not test" in text  # (its row agrees, shown but not counted)
    assert "| agrees [2 seeds] |" in rows["ours"]
    summary = json.loads((results / "tasks" / "summary.json").read_text())
    assert summary["grokked"] == 4
    assert (tmp_path / "REPRODUCTION-figures" / "matrix.png").stat().st_size > 0
    assert "![matrix](REPRODUCTION-figures/matrix.png)" in out.read_text()
    cells = claims_lib.placed(_claim(tmp_path, "add groks"), results)
    assert cells == [(("matrix", "a+b", "r=0.5, 0.02k steps"),  # 20 steps
                      {"grokked": 2, "n": 2, "grok_step": 0.0,
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
    falls from 2,000 by 0.5 per step after 6,000 to 1,000 at 8,000 and stays there, so the
    first step from which it falls by less than 1% over the next 1,000 steps is 8,000 (from
    7,900 it still falls 50 of 1,050); the Gini rises slowly before 6,000 and ten times faster
    after. The restricted loss falls from 4 to 0.4 by 5,000."""
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
            "restricted_loss": [[4.0], [4.0], [3.0], [2.0], [1.0], [0.4]] + [[0.4]] * 7}
    rundir.write_npz(tmp_path / "history.npz", history)
    rundir.write_json(tmp_path / "final-keys.json", over)
    return history, over


def test_phases_from_the_measures_fall_where_the_measures_turn(tmp_path):
    history, over = _synthetic_run(tmp_path)
    assert measure_phases(history, over, 0) == {
        "memorisation_end": 2000, "circuit_formation_end": 6500, "cleanup_end": 8000}
    entry = {"seed": 0, "grok_step": 6500, "memorisation_step": 100}
    summary = {"seeds": [entry], "steps": 12000}
    nanda = claims_lib.phases_at_marks((1400, 9400, 14000), 2.0)
    value, verdict = nanda([entry], summary, tmp_path)
    assert verdict == "agrees" and "2.0k/6.5k/8.0k" in value
    # memorisation's end, seen at the 2,000 checkpoint, lies in (1,000, 3,000): checkpoints
    # every 1,000 steps cannot place it within x2 of 1.4k (700-2,800), so it is not judged
    assert "memorisation unresolved by its steps in 1/1, not judged" in value
    # where the window holds the whole interval it is judged (x2 of 2k: 1,000-4,000) ...
    value, verdict = claims_lib.phases_at_marks((2000, 9400, 14000), 2.0)([entry], summary,
                                                                          tmp_path)
    assert verdict == "agrees" and "unresolved" not in value
    # ... and where the interval lies wholly outside it, missed (x2 of 500: 250-1,000)
    assert claims_lib.phases_at_marks((500, 9400, 14000), 2.0)([entry], summary,
                                                               tmp_path)[1] == "disagrees"
    # the marks with a tighter tolerance: 6.5k is not within 10% of 9.4k
    assert claims_lib.phases_at_marks((1400, 9400, 14000), 1.1)([entry], summary,
                                                                 tmp_path)[1] == "disagrees"
    # the measures lead: at the end of circuit formation the excluded loss is up x30,000,
    # the restricted loss down to 0.1 of its start, the test loss still 10
    value, verdict = claims_lib.excluded_rises_before_grokking()([entry], summary, tmp_path)
    assert verdict == "agrees", value
    assert claims_lib.excluded_rises_before_grokking(high_test_loss=20.0)(
        [entry], summary, tmp_path)[1] == "disagrees"
    value, verdict = claims_lib.gini_rises_at_cleanup()([entry], summary, tmp_path)
    assert verdict == "agrees", value
    # the weight norm falls in circuit formation (2,000 -> 1,750) and cleanup (-> 1,000)
    value, verdict = claims_lib.weight_norm_falls_in_phases()([entry], summary, tmp_path)
    assert verdict == "agrees" and "2000/1750/1000" in value, value
    # a Gini that rises as fast before cleanup as in it does not agree
    history["probe/gini/W_L"] = (0.1 + history["step"] * 1e-4)[None]
    rundir.write_npz(tmp_path / "history.npz", history)
    assert claims_lib.gini_rises_at_cleanup()([entry], summary, tmp_path)[1] == "disagrees"


def test_a_run_that_stops_before_the_norm_settles_has_no_cleanup_end(tmp_path):
    history, over = _synthetic_run(tmp_path)
    cut = history["step"] <= 8500  # 8,000 cannot be read: the next 1,000 steps are missing
    short = {k: (v[..., cut, :] if k in ("test/loss", "train/loss", "mem_step") else
                 v[:, cut] if k.startswith("probe/") and k != "probe/step" else v[cut])
             for k, v in history.items()}
    rundir.write_npz(tmp_path / "history.npz", short)
    assert measure_phases(short, over, 0)["cleanup_end"] is None
    entry = {"seed": 0, "grok_step": 6500, "memorisation_step": 100}
    verdict = claims_lib.phases_at_marks((1400, 9400, 14000))([entry], {"seeds": [entry],
                                                                        "steps": 8500}, tmp_path)
    assert verdict[1].startswith("inconclusive: cleanup ended in 0/1"), verdict
    at_budget = claims_lib.phases_at_marks((1400, 9400, 14000))(
        [entry], {"seeds": [entry], "steps": 8500, "paper_steps": 8500}, tmp_path)
    assert at_budget[1] == "disagrees", at_budget  # the paper's step, and cleanup never ended
    assert claims_lib.weight_norm_falls_in_phases()([entry], {"seeds": [entry], "steps": 8500},
                                                    tmp_path)[1].startswith("inconclusive")
    # without formation found, the measures cannot lead: inconclusive, not agreement
    flat = dict(short, **{"test/loss": np.full_like(short["test/loss"], 10.0)})
    rundir.write_npz(tmp_path / "history.npz", flat)
    assert claims_lib.excluded_rises_before_grokking()([entry], {"seeds": [entry], "steps": 8500},
                                                       tmp_path)[1].startswith("inconclusive")


@pytest.mark.parametrize("ffd, fcr, grokked, verdict", [
    ("falls", "flat", True, "agrees"), ("falls", "any", True, "agrees"),
    ("flat", "falls", True, "disagrees"),
    ("flat", "falls", False, "inconclusive: no grokking within 12000 steps")])
def test_fig8_patterns_read_ffd_and_fcr_from_init_to_the_grok_step(tmp_path, ffd, fcr, grokked,
                                                                   verdict):
    """FFD falls linearly from 1.0 to 0.2 over 12,000 steps: 0.57 at the grok step, 6,500,
    which a grokked member is read at (a member that did not grok, at the end); FCR stays 0.9.
    The margin is how far the change clears 0.1: 0.43 - 0.1 for falls, 0.1 - 0 for flat."""
    _synthetic_run(tmp_path)
    entry = {"seed": 0, "grok_step": 6500 if grokked else -1, "memorisation_step": 100}
    value, got = claims_lib.spectrum_pattern(ffd, fcr)([entry], {"seeds": [entry],
                                                                 "steps": 12000}, tmp_path)
    assert got == verdict
    if grokked:
        margin = {("falls", "flat"): 0.1, ("falls", "any"): 0.333,
                  ("flat", "falls"): -0.333}[ffd, fcr]
        assert value == f"FFD 1.00->0.57, FCR 0.90->0.90 at step 6500 (margin {margin:+.3f})"
    else:
        assert value.startswith("FFD 1.00->0.20, FCR 0.90->0.90 at step 12000")


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

    def table(text):  # the headline's sentence and tables, and every row
        return [line for line in text.splitlines() if line.startswith(("| ", "Verdicts"))]
    committed = pathlib.Path("REPRODUCTION.md").read_text()
    assert table(out.read_text()) == table(committed), "run `grokjax report` and commit"
    for name in ("table-a5", "transfer", "fig8-ffd-fcr", "nanda-phases", "omnigrok-lu"):
        assert (tmp_path / "REPRODUCTION-figures" / f"{name}.png").stat().st_size > 10_000


# ----------------------------------------------------------------------------------------------
# The figures and terminal views of one run: `plot`, `probe`, `inspect`


@pytest.fixture
def figures(monkeypatch):
    """Every figure the draw functions close, kept open for the test to read."""
    import matplotlib.pyplot as plt
    kept = []
    monkeypatch.setattr(plt, "close", kept.append)
    yield kept
    for fig in kept:
        plt.figure(fig.number)
        plt.clf()
    monkeypatch.undo()
    plt.close("all")


def _probe_history(n_members, steps, K, seed=0, log=False):
    """A history with the probes' W_E spectra ([M, P, K] mu and nu) and key-frequency masks."""
    rng = np.random.default_rng(seed)
    out = {"step": np.asarray(steps), "probe/step": np.asarray(steps)}
    for prefix in ("probe/", "probe/log/") if log else ("probe/",):
        for part in ("mu", "nu"):
            out[f"{prefix}W_E/{part}"] = rng.uniform(0.01, 5.0, (n_members, len(steps), K))
    keys = np.zeros((n_members, len(steps), K), bool)
    for i in range(n_members):
        keys[i, -1, [i % K, (i + 2) % K]] = True
    out["probe/key_freqs"] = keys
    return out


@pytest.mark.parametrize("members, log", [(1, False), (3, True), (10, False)])
def test_the_embedding_spectrum_is_a_panel_per_seed_on_one_colour_scale(tmp_path, figures,
                                                                         members, log):
    """One frequency x step heatmap of W_E's norm per frequency for each member (at most
    SPECTRUM_PANELS), per basis; the cells are sqrt(mu^2 + nu^2) of the history; one colour
    scale over every panel; the final probe's key frequencies marked in their basis only."""
    from grokjax.report import draw
    from tests.conftest import png_size
    history = _probe_history(members, [0, 100, 200, 400], K=5, log=log)
    bases = ("additive", "multiplicative") if log else ("additive",)
    path = tmp_path / "spectrum.png"
    got = draw.embedding_spectrum(history, [f"seed {i}" for i in range(members)], "t", path,
                                  bases=bases, key_basis="additive")
    shown = min(members, draw.SPECTRUM_PANELS)
    assert png_size(path) == tuple(round(x * draw.DPI)
                                   for x in draw.embedding_spectrum_size(shown, len(bases)))
    assert [(p["label"], p["basis"]) for p in got["panels"]] == [
        (f"seed {i}", b) for b in bases for i in range(shown)]
    (fig,) = figures
    meshes = [ax.collections[0] for ax in fig.axes
              if ax.collections and ax.get_label() != "<colorbar>"]
    assert len(meshes) == shown * len(bases)
    every = []
    for panel, mesh in zip(got["panels"], meshes):
        prefix = "probe/log/" if panel["basis"] == "multiplicative" else "probe/"
        i = panel["member"]
        want = np.sqrt(history[f"{prefix}W_E/mu"][i] ** 2 + history[f"{prefix}W_E/nu"][i] ** 2)
        np.testing.assert_allclose(np.asarray(mesh.get_array()).reshape(5, 4), want.T)
        assert (mesh.norm.vmin, mesh.norm.vmax) == got["norm"]
        every.append(want)
        keys = sorted({i % 5 + 1, (i + 2) % 5 + 1}) if panel["basis"] == "additive" else []
        assert panel["keys"] == keys
    assert got["norm"][1] == pytest.approx(np.max(every))
    if members > draw.SPECTRUM_PANELS:
        assert "(first 8 of 10 members)" in fig._suptitle.get_text()


def test_event_and_phase_colours_are_one_per_meaning():
    """`plot`'s median events and `probe`'s phases of a seed draw from one table: no colour
    means two things (green was 'grokked' in one and 'cleaned up' in the other)."""
    from grokjax.report import draw, plot
    summary = {"seeds": [{"seed": 0, "memorisation_step": 100, "grok_step": 900},
                         {"seed": 1, "memorisation_step": 120, "grok_step": -1}]}
    phases = {"memorisation_end": 100, "circuit_formation_end": 700, "cleanup_end": 1500}
    marks = plot.event_marks(summary) + draw.phase_marks(phases)
    assert [m[0] for m in marks] == [110, 900, 100, 700, 1500]
    colour_of = {}
    for _, label, color in marks:
        colour_of.setdefault(label.split(" (median)")[0], set()).add(color)
    assert colour_of == {label: {color} for label, color in draw.EVENTS.values()}
    colours = [color for _, color in draw.EVENTS.values()]
    assert len(set(colours)) == len(colours)
    curve_colours = {f"C{j}" for j in range(6)}  # the curves' colours are none of them
    import matplotlib.colors as mcolors
    assert not {mcolors.to_hex(c) for c in colours} & {mcolors.to_hex(c) for c in curve_colours}


def test_the_grok_step_legend_sits_beside_the_axes(tmp_path, figures):
    from grokjax.report import draw
    groups = [{"label": f"run {j}", "grok_steps": [100 * (j + 1), 150 * (j + 1), -1]}
              for j in range(3)]
    draw.grok_steps(groups, "t", tmp_path / "g.png")
    (fig,) = figures
    ax = fig.axes[0]
    renderer = fig.canvas.get_renderer()
    legend = ax.get_legend().get_window_extent(renderer)
    box = ax.get_window_extent(renderer)
    assert legend.x0 >= box.x1  # beside the axes, not over them
    assert legend.x1 <= fig.bbox.x1 and legend.y1 <= fig.bbox.y1  # and on the page


@pytest.mark.parametrize("task, p, shown", [
    ("multiply", 11, True), ("division", 11, True), ("multiply_non_zero", 11, True),
    ("multiply_z", 11, True), ("xy_y", 11, True), ("x3_xy", 11, True), ("x*y + 3", 11, True),
    ("add,multiply", 11, True), ("multiply", 12, False), ("add", 11, False),
    ("subtract", 11, False), ("2x_3y", 11, False), ("x2_y", 11, False), ("x2_m_y2", 11, False),
    ("_x_y__3", 11, False), ("2*x*3", 11, False), ("x*x + y", 11, False), ("rand", 11, False),
    ("add,subtract", 11, False)])
def test_the_discrete_log_panels_are_for_multiplicative_tasks(task, p, shown):
    from grokjax.report import draw
    assert draw.shows_discrete_log(task, p) is shown


def _report(**first):
    seed0 = {"seed": 0, "key_freqs": [3, 14, 35], "restricted_loss": 0.0123,
             "excluded_loss": 7.5, "logits_explained": 0.953,
             "ablation": {"intact_acc": 1.0, "without_all_key_freqs_acc": 0.012,
                          "without_all_other_freqs_acc": 0.999,
                          "without_one_other_freq_min_acc": 0.998,
                                                "without_each_key_freq_acc": {"3": 0.4}},
             "phases": {"memorisation_end": 140, "circuit_formation_end": 1200,
                        "cleanup_end": None}, **first}
    seed1 = {"seed": 7, "key_freqs": [], "restricted_loss": 4.6, "excluded_loss": 0.001,
             "ablation": {"intact_acc": 0.51, "without_all_key_freqs_acc": 0.51,
                          "without_one_other_freq_min_acc": 0.4},
             "phases": {"memorisation_end": None, "circuit_formation_end": None,
                        "cleanup_end": None}}
    return {"run": "r", "step": 3000, "p": 113, "task": "add", "grid_basis": "additive",
            "seeds": [seed0, seed1]}


def test_probe_prints_a_row_per_seed_with_its_keys_losses_ablation_and_phases(tmp_path):
    from grokjax.report import probe
    rep = _report()
    for step in (1000, 3000):  # the directory's latest report is the one printed
        rundir.write_json(tmp_path / f"report-step{step}.json", {**rep, "step": step})
    lines = probe.terminal_lines(tmp_path)
    assert lines == probe.terminal_lines(tmp_path / "report-step3000.json")
    assert lines[0].startswith("probe report at step 3000: task add, p=113; key frequencies")
    assert probe.terminal_lines(tmp_path, step=1000)[0].startswith("probe report at step 1000")
    assert lines[1].split() == ["seed", "key", "freqs", "restricted", "excluded", "acc",
                                "acc", "-keys", "acc", "keys", "only", "acc", "-1", "other",
                                "logits", "expl.", "memorised", "circuit", "formed",
                                "cleaned", "up"]
    rows = [line.split() for line in lines[2:4]]
    assert rows[0] == ["0", "3,14,35", "0.0123", "7.5", "1.000", "0.012", "0.999", "0.998",
                       "0.953", "140", "1200", "-"]
    # (a report written before the keys-only ablation and the logits' share: nan)
    assert rows[1] == ["7", "none", "4.6", "0.001", "0.510", "0.510", "nan", "0.400", "nan",
                       "-", "-", "-"]
    header = lines[1]  # the columns right-aligned under their heads
    assert header.index("memorised") + len("memorised") == lines[2].index("140") + 3
    with pytest.raises(GrokjaxError, match="no probe report of step 5"):
        probe.terminal_lines(tmp_path, step=5)
    # a task without the (a, b) table measures: phases only
    bare = {**rep, "grid_basis": None, "seeds": [{"seed": 0, "phases": rep["seeds"][0]["phases"]}]}
    lines = probe.terminal_lines(bare)
    assert "no key frequencies or ablation" in lines[0]
    assert lines[1].split() == ["seed", "memorised", "circuit", "formed", "cleaned", "up"]
    assert lines[2].split() == ["0", "140", "1200", "-"]


def test_inspect_shows_each_seeds_phases_and_key_frequencies(tmp_path):
    """From the summary's final probe; else from the latest probe report; else a hint."""
    from grokjax.report import describe
    entries = [{"seed": 0, "phases": {"memorisation_end": 140, "circuit_formation_end": 1200,
                                      "cleanup_end": 2400}, "probes": {"key_freqs": [4, 9]}},
               {"seed": 1, "phases": {"memorisation_end": 150, "circuit_formation_end": None,
                                      "cleanup_end": None}, "probes": {"key_freqs": []}}]
    lines = describe.phase_table({"seeds": entries})
    assert lines[1].split() == ["seed", "memorised", "circuit", "formed", "cleaned", "up",
                                "key", "frequencies", "(final", "probe)"]
    assert [line.split() for line in lines[2:]] == [["0", "140", "1200", "2400", "4,9"],
                                                    ["1", "150", "-", "-", "none"]]
    bare = [{k: v for k, v in e.items() if k != "probes"} for e in entries]
    lines = describe.phase_table({"seeds": bare}, None, "runs/x")
    assert lines[-1].startswith("key frequencies: not recorded") and "grokjax probe runs/x" in \
        lines[-1]
    assert [line.split() for line in lines[2:4]] == [["0", "140", "1200", "2400"],
                                                     ["1", "150", "-", "-"]]
    no_table = [{**e, "probes": {"ffd/W_E": 0.5}} for e in bare]  # probes, but no keys
    assert describe.phase_table({"seeds": no_table})[-1].startswith("key frequencies: none (")
    (tmp_path / "probes").mkdir()
    rundir.write_json(tmp_path / "probes" / "report-step500.json", _report())
    lines = describe.phase_table({"seeds": bare}, describe._probe_report_keys(tmp_path))
    assert "key frequencies (probe report, step 500)" in lines[1]
    assert lines[2].split()[-1] == "3,14,35" and lines[3].split()[-1] == "none"


def _grid_history(lrs, seeds, steps=(0, 10, 20, 40)):
    """A history and summary of a grid run over lr (the seed varying fastest), test accuracy
    rising faster with the larger lr."""
    members = [(lr, s) for lr in lrs for s in seeds]
    P = len(steps)
    history = {"step": np.asarray(steps), "probe/step": np.asarray(steps)}
    for split in ("train", "test"):
        acc = np.stack([np.linspace(0.1, min(1.0, lr * 100 + 0.05 * s), P)
                        for lr, s in members])[..., None]
        history[f"{split}/acc"] = acc
        history[f"{split}/loss"] = (2.5 * (1.05 - acc))
    history["norm/total"] = np.stack([np.linspace(10, 5 + lr * 100, P) for lr, _ in members])
    for key in ("probe/ffd/W_E", "probe/fcr/W_E", "probe/ffd/W_L", "probe/fcr/W_L",
                "probe/restricted_loss", "probe/excluded_loss", "probe/gini/W_E",
                "probe/gini/W_L"):
        history[key] = np.stack([np.linspace(0.5, 0.5 + lr, P) for lr, _ in members])
    summary = {"grid": {"axes": {"lr": list(lrs)}, "cells": []},
               "seeds": [{"seed": s, "hparams": {"lr": lr}, "memorisation_step": 10,
                          "grok_step": -1} for lr, s in members]}
    return history, summary


def test_the_curves_of_a_grid_run_have_a_median_per_setting(tmp_path, figures):
    """`plot` of an lr grid: one median (and band) per grid setting, coloured and labelled by
    setting, not one median pooled over the settings; a run without a grid keeps its one."""
    from grokjax.report import draw, plot
    history, summary = _grid_history([0.001, 0.01], [0, 1, 2])
    groups = plot.setting_groups(summary)
    assert groups == [("lr=0.001", [0, 1, 2]), ("lr=0.01", [3, 4, 5])]
    draw.grokking_curves(history, "t", tmp_path / "c.png", plot.event_marks(summary),
                         groups=groups)
    draw.measure_curves(history, "t", tmp_path / "m.png", [], groups=groups)
    curves, measures = figures
    acc = curves.axes[0]
    medians = {line.get_label(): line for line in acc.get_lines()
               if line.get_label().endswith("(median)")}
    assert set(medians) == {"train, lr=0.001 (median)", "test, lr=0.001 (median)",
                            "train, lr=0.01 (median)", "test, lr=0.01 (median)"}
    legend = [t.get_text() for t in acc.get_legend().get_texts()]
    assert "test, lr=0.001 (median)" in legend and "test, lr=0.01 (median)" in legend
    test_acc = history["test/acc"][..., 0]
    for label, members in groups:
        line = medians[f"test, {label} (median)"]
        np.testing.assert_allclose(line.get_ydata(), np.median(test_acc[members], 0))
    assert (medians["test, lr=0.001 (median)"].get_color()
            != medians["test, lr=0.01 (median)"].get_color())
    assert (medians["test, lr=0.01 (median)"].get_color()
            == medians["train, lr=0.01 (median)"].get_color())  # a colour per setting
    norm = measures.axes[3]  # the weight norm panel: a median per setting too
    labels = [line.get_label() for line in norm.get_lines() if "(median)" in line.get_label()]
    assert labels == ["L2 norm of all weights, lr=0.001 (median)",
                      "L2 norm of all weights, lr=0.01 (median)"]
    assert plot.setting_groups({"seeds": summary["seeds"][:1]}) is None


def test_plot_of_a_grid_run_writes_its_figures_with_a_median_per_setting(tmp_path, figures):
    """The same through `grokjax plot` on a trained 2-setting grid run."""
    assert cli.main(["train", TINY, "--out", str(tmp_path / "g"), "--no-progress",
                     "--steps", "10", "--grid", "lr=0.001,0.003"]) == 0
    assert cli.main(["plot", str(tmp_path / "g"), "--no-spectra"]) == 0
    curves = next(f for f in figures if "grokking curves" in f._suptitle.get_text())
    assert "median per grid setting" in curves._suptitle.get_text()
    labels = {line.get_label() for line in curves.axes[0].get_lines()}
    assert {"test, lr=0.001 (median)", "test, lr=0.003 (median)"} <= labels


def test_a_matrix_orders_its_columns_by_the_numbers_in_them():
    from grokjax.report.reproduce import _numbers_by_value
    cols = ["r=0.4, 8k steps", "r=0.3, paper's scale", "r=0.3, 16k steps", "r=0.3, 8k steps"]
    assert sorted(cols, key=_numbers_by_value) == [
        "r=0.3, 8k steps", "r=0.3, 16k steps", "r=0.3, paper's scale", "r=0.4, 8k steps"]
