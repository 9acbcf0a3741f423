"""The `grokjax` command: a run directory with everything recorded, and one-line errors."""

import json
import pathlib

import numpy as np
import pytest

from grokjax import cli, config, data
from grokjax.store import rundir
from grokjax.summary import n_members
from grokjax.tasks import parse_task_spec
from tests.conftest import TINY

CONFIG_FILES = sorted((pathlib.Path(__file__).parent.parent / "configs").glob("*.py"))


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("run") / "tiny"
    assert cli.main(["train", TINY, "--seed-list", "3,5", "--out", str(workdir),
                     "--set", "task=add,subtract"]) == 0
    return workdir


def test_run_directory_records_config_seeds_versions_and_splits(finished_run):
    cfg = json.loads((finished_run / "config.json").read_text())
    assert cfg["task"] == "add,subtract" and cfg["seed_list"] == [3, 5]
    info = json.loads((finished_run / "run.json").read_text())
    assert info["seeds"] == [3, 5] and info["split_seeds"] == [3, 5]
    assert info["numerics"]["loss_dtype"] == "float64"
    assert {"jax", "jaxlib", "flax", "optax", "numpy", "python"} <= set(info["versions"])
    # the machine and code, which say whether two runs can be expected to agree bit for bit
    assert {"machine", "cpu", "cpu_features", "grokjax"} <= set(info["host"])
    assert [t["op_token"] for t in info["tasks"]] == [12, 13]  # '+', '-' for p = 11
    splits = rundir.read_npz(finished_run / "splits.npz")
    ds = data.make_dataset(parse_task_spec("add,subtract", p=11), 11)
    train, test = data.make_splits(ds, 0.5, [3, 5])
    np.testing.assert_array_equal(splits["train_idx"], train)
    np.testing.assert_array_equal(splits["test_idx"], test)
    np.testing.assert_array_equal(splits["operands"], ds.operands)


def test_history_and_summary(finished_run):
    history = rundir.read_npz(finished_run / "history.npz")
    np.testing.assert_array_equal(history["step"], [0, 5, 10, 15, 20])
    assert history["train/acc"].shape == (2, 5, 2)  # seed, log point, task
    assert history["norm/total"].shape == (2, 5)
    summary = json.loads((finished_run / "summary.json").read_text())
    assert summary["n_members"] == 2 and summary["steps"] == 20
    assert n_members({"n_seeds": 3}) == 3  # summaries written before members had a name
    seed = summary["seeds"][1]
    assert seed["seed"] == 5 and set(seed["tasks"]) == {"add", "subtract"}
    np.testing.assert_allclose(seed["test_acc"], history["test/acc"][1, -1].mean(), rtol=1e-6)
    np.testing.assert_allclose(seed["train_loss"], history["train/loss"][1, -1].sum(), rtol=1e-6)


def test_a_run_with_another_config_is_never_overwritten(finished_run, capsys):
    before = (finished_run / "history.npz").read_bytes()
    assert cli.main(["train", TINY, "--out", str(finished_run)]) == 2
    err = capsys.readouterr().err
    assert "holds a run with another config" in err and "task: 'add,subtract' -> 'add'" in err
    assert (finished_run / "history.npz").read_bytes() == before


def test_inspect(finished_run, capsys):
    assert cli.main(["inspect", str(finished_run)]) == 0
    out = capsys.readouterr().out
    assert "task         add,subtract   p=11" in out and "seeds        [3, 5]" in out
    assert "checkpoints  0, 20" in out and "finished at step 20" in out


@pytest.mark.parametrize("args,message", [
    (["--set", "model.d_modle=64"], "unknown config key 'model.d_modle': did you mean model.d_model"),
    (["--set", "model.d_model=wide"], "model.d_model expects int, got 'wide'"),
    (["--set", "task=multiply", "--set", "p=12"], "p=12 is not prime, but multiply needs a prime"),
    (["--set", "task=division", "--set", "p=15"], "division needs a prime"),
    (["--set", "train_fraction=0"], "train_fraction=0.0 is outside (0, 1)"),
    (["--set", "train_fraction=1"], "train_fraction=1.0 is outside (0, 1)"),
    (["--set", "train_fraction=1.5"], "outside (0, 1)"),
    (["--set", "task=addd"], "unknown task 'addd': did you mean add"),
    (["--set", "task=x**y"], "exponents must be integer constants"),
    (["--set", "model.arch=cnn"], "model.arch='cnn' is not one of transformer, mlp"),
    (["--set", "model.variant=prieto"], "model.variant='prieto' is Prieto et al.'s MLP; set "
     "model.arch='mlp'"),
    (["--set", "model.arch=mlp", "--set", "model.variant=prieto", "--set", "task=add,subtract"],
     "model.variant='prieto' reads one-hot [a, b] with the vocabulary p, so it takes one "
     "two-variable task"),
    (["--set", "model.arch=mlp", "--set", "model.variant=prieto", "--freeze", "embed"],
     "model.variant='prieto' does not transfer"),
    (["--set", "task=add_z", "--set", "split.mode=reference"], "three-variable"),
    (["--set", "steps"], "is not key=value"),
    (["--seeds", "0"], "train at least one seed"),
    (["--set", "task=x**'a'"], "exponents must be integer constants"),
    (["--set", "seed_list=(1,'a')"], "seed_list=(1, 'a') must hold integers"),
    (["--set", "probe.every=7"], "probe.every=7 must be 0 or a multiple of train.eval_every=5"),
])
def test_bad_input_is_one_line_naming_the_fix(args, message, tmp_path, capsys):
    assert cli.main(["train", TINY, "--out", str(tmp_path / "r"), *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("grokjax: error: ") and message in err, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "r").exists()


def test_prietos_mlp_trains_and_every_command_reads_its_run_or_refuses_in_one_line(tmp_path,
                                                                                    capsys):
    """Prieto et al.'s one-hot MLP through a whole run: its vocabulary of p numbers, inspect
    and plot read it, and the commands that need an embedding refuse it in one line."""
    run = tmp_path / "prieto"
    assert cli.main(["train", TINY, "--out", str(run), "--no-progress", "--set",
                     "model.arch=mlp", "--set", "model.variant=prieto"]) == 0
    info = json.loads((run / "run.json").read_text())
    assert info["vocab"]["d_vocab"] == 11 and info["tasks"][0]["op_token"] == -1
    assert n_members(json.loads((run / "summary.json").read_text())) == 2
    capsys.readouterr()
    assert cli.main(["inspect", str(run)]) == 0
    assert "mlp (prieto), 2 hidden layers of 32" in capsys.readouterr().out
    assert cli.main(["plot", str(run)]) == 0
    for command in (["probe", str(run)], ["circuits", str(run)]):
        assert cli.main(command) == 2
        err = capsys.readouterr().err
        assert err.startswith("grokjax: error: ") and len(err.strip().splitlines()) == 1, err


def test_config_files_resolve_from_any_directory(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["config", "configs/add.py"]) == 0
    assert '"task": "add"' in capsys.readouterr().out
    assert cli.main(["config", "configs/polynomials.py:x2_y2", "--set", "p=11"]) == 0


def test_a_bad_config_argument_is_one_line(capsys):
    assert cli.main(["config", "configs/add.py:x"]) == 2
    assert "grokjax: error: config 'configs/add.py:x'" in capsys.readouterr().err


def test_unknown_config_file_lists_the_known_ones(capsys):
    assert cli.main(["train", "configs/nope.py"]) == 2
    assert "config file 'configs/nope.py' not found" in capsys.readouterr().err


@pytest.mark.parametrize("path", CONFIG_FILES, ids=lambda p: p.stem)
def test_every_config_file_validates_and_documents_its_command(path):
    cfg = config.load_config(str(path))
    config.validate(cfg)
    doc = path.read_text().split('"""')[1]
    assert f"grokjax train configs/{path.name}" in doc and "Expect" in doc


@pytest.mark.parametrize("spec", ["arithmetic.py:multiply", "arithmetic.py:x2_y2_z",
                                  "polynomials.py:_x_m_y__7", "polynomials.py:x**3 + 2*x*y",
                                  "mixtures.py:x2_y2,x2_xy_y2,x2_2xy_y2"])
def test_config_arguments(spec):
    cfg = config.load_config(spec)
    assert config.validate(cfg)


def test_the_default_run_directory_is_the_same_for_the_same_command(tmp_path, monkeypatch,
                                                                     capsys):
    # Rerunning a command without --out finds its run (here finished: it reports it);
    # another seed count is another run directory.
    monkeypatch.chdir(tmp_path)
    tiny = str(pathlib.Path(__file__).parent / "tiny.py")
    assert cli.main(["train", tiny, "--seeds", "1", "--no-progress"]) == 0
    first = sorted((tmp_path / "runs").iterdir())
    assert len(first) == 1 and first[0].name.startswith("tiny-")
    capsys.readouterr()
    assert cli.main(["train", tiny, "--seeds", "1", "--no-progress"]) == 0
    assert sorted((tmp_path / "runs").iterdir()) == first
    # (complete: it says so and names its directory; "training in" is for a run that trains)
    assert f"run directory: {pathlib.Path('runs') / first[0].name}" in capsys.readouterr().out
    one, two = (config.load_config(tiny, config.seed_overrides(n)) for n in (1, 2))
    assert cli._default_workdir(tiny, one) == pathlib.Path("runs") / first[0].name
    assert cli._default_workdir(tiny, two) != cli._default_workdir(tiny, one)


def test_config_previews_the_train_command_and_names_its_run_directory(tmp_path, monkeypatch,
                                                                        capsys):
    # `grokjax config` takes train's options: the config it prints is the one train would
    # train, and stderr names the directory that same train command would use.
    monkeypatch.chdir(tmp_path)
    tiny = str(pathlib.Path(__file__).parent / "tiny.py")
    assert cli.main(["config", tiny, "--seed-list", "2,4", "--steps", "30",
                     "--grid", "lr=0.001,0.003"]) == 0
    out, err = capsys.readouterr()
    cfg = json.loads(out)
    assert cfg["seed_list"] == [2, 4] and cfg["train"]["steps"] == 30
    assert cfg["grid"]["lr"] == [0.001, 0.003]
    want = cli._default_workdir(tiny, config.load_config(tiny, [
        *config.seed_overrides([2, 4]), "train.steps=30",
        config.grid_override("lr", "0.001,0.003")]))
    assert err.strip() == f"# grokjax train with these options starts {want}"
    assert cli.main(["config", tiny, "--out", "elsewhere"]) == 0
    assert capsys.readouterr().err.strip().endswith("starts elsewhere")


@pytest.mark.parametrize("seed_list,message", [
    ("1,1", "--seed-list 1,1: give distinct seeds >= 0"),
    ("a,b", "--seed-list 'a,b' is not a comma-separated list of integers"),
    ("-1,2", "--seed-list -1,2: give distinct seeds >= 0")])
def test_a_bad_seed_list_is_reported_as_the_user_typed_it(seed_list, message, capsys):
    assert cli.main(["config", TINY, f"--seed-list={seed_list}"]) == 2
    err = capsys.readouterr().err
    assert message in err and "(" not in err.split(":", 2)[2], err


def _options(ap):
    """Every (command, option) of the parser and its help text."""
    import argparse
    for action in ap._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                for a in sub._actions:
                    if not isinstance(a, argparse._HelpAction):
                        yield name, "/".join(a.option_strings) or a.dest, a.help
        elif not isinstance(action, argparse._HelpAction):
            yield "grokjax", "/".join(action.option_strings), action.help


def test_every_option_of_every_command_has_help_text():
    missing = [f"{c} {o}" for c, o, h in _options(cli.parser()) if not h]
    assert not missing, missing


@pytest.mark.parametrize("command,new,old,dest", [
    (["train", TINY], "--out", "--workdir", "workdir"),
    (["config", TINY], "--out", "--workdir", "workdir"),
    (["sweep", "s.py"], "--out", "--root", "root"),
    (["probe", "RUN"], "--checkpoint", "--step", "step"),
    (["plot", "RUN"], "--checkpoint", "--step", "step"),
    (["circuits", "RUN"], "--checkpoint", "--step", "step"),
    (["circuits", "RUN"], "--seed-list", "--seeds", "seed_list")])
def test_one_spelling_per_meaning_and_the_older_spellings_still_work(command, new, old, dest):
    value = "12" if dest == "step" else "x"
    for flag in (new, old):
        args = cli.parser().parse_args([*command, flag, value])
        assert str(getattr(args, dest)) == value


def test_the_resume_command_names_the_run_directory_once(tmp_path):
    run = tmp_path / "r"
    assert cli.resume_command(run, ["train", TINY]) == f"grokjax train {TINY} --out {run}"
    for flag in ("--out", "--workdir"):
        argv = ["train", TINY, flag, str(run)]
        assert cli.resume_command(run, argv) == " ".join(["grokjax", *argv])


def test_version_and_the_top_level_help_speak_to_users(capsys):
    with pytest.raises(SystemExit):
        cli.main(["--version"])
    assert capsys.readouterr().out.startswith("grokjax ")
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    out = capsys.readouterr().out
    assert "Thin" not in out and "grokjax train configs/quick.py" in out
    with pytest.raises(SystemExit):
        cli.main(["train", "--help"])
    assert "resumes the run" in capsys.readouterr().out


def test_another_steps_without_out_extends_the_same_run(tmp_path, monkeypatch, capsys):
    # The default run directory does not hash what a resume may change: `--steps 20` after
    # `--steps 10` finds the run of the first command and extends it (no new run from step 0),
    # and `grokjax config` names that same directory, as one to resume.
    monkeypatch.chdir(tmp_path)
    tiny = str(pathlib.Path(__file__).parent / "tiny.py")
    assert cli.main(["train", tiny, "--steps", "10", "--no-progress"]) == 0
    (first,) = (tmp_path / "runs").iterdir()
    assert capsys.readouterr().out.count("training in") == 1  # an accepted run says it once
    assert cli.main(["config", tiny, "--steps", "20"]) == 0
    err = capsys.readouterr().err
    assert err.strip() == f"# grokjax train with these options resumes runs/{first.name}"
    assert cli.main(["train", tiny, "--steps", "20", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert out.count("training in") == 1 and f"runs/{first.name}" in out
    assert list((tmp_path / "runs").iterdir()) == [first]
    history = rundir.read_npz(first / "history.npz")
    np.testing.assert_array_equal(history["step"], [0, 5, 10, 15, 20])
    assert json.loads((first / "summary.json").read_text())["steps"] == 20
    one = config.load_config(tiny, ["train.steps=10"])
    for extra in (["train.steps=40"], ["train.stop_when_grokked=true", "checkpoint.keep=5",
                                       "tensorboard.enabled=false"]):  # nor any resumable key
        two = config.load_config(tiny, extra)
        assert cli._default_workdir(tiny, one) == cli._default_workdir(tiny, two)
    other = config.load_config(tiny, ["optim.lr=0.003"])
    assert cli._default_workdir(tiny, other) != cli._default_workdir(tiny, one)


def test_a_refused_train_command_never_says_it_is_training(finished_run, capsys):
    # The "training in RUN" line comes once the run is accepted (run.train's announce), so a
    # command refused (here: the directory holds a run of another config) prints only why.
    assert cli.main(["train", TINY, "--out", str(finished_run), "--no-progress"]) == 2
    out, err = capsys.readouterr()
    assert "holds a run with another config" in err
    assert "training in" not in out + err


def _suggested(message: str) -> list[int]:
    """The step counts a 'give --steps A or B[, or C or D with --set probe.every=0]' names,
    each with the extra overrides it needs."""
    import re
    first, _, rest = message.partition(", or ")
    out = [(int(n), []) for n in re.findall(r"\d+", first.split("give --steps")[1])]
    if "with --set probe.every=0" in rest:
        out += [(int(n), ["probe.every=0"]) for n in re.findall(r"\d+", rest.split(" with")[0])]
    return out


@pytest.mark.parametrize("spec, sets, steps", [
    ("configs/add.py", [], 1234),  # eval_every 10, probe.every 100: 1230 and 1240 fit neither
    ("configs/add.py", [], 1230),
    ("configs/add.py", [], 55),
    ("configs/add.py", ["train.eval_every=20", "probe.every=500"], 7777),
    (TINY, ["train.eval_every=4", "train.chunk_steps=24", "checkpoint.save_every=48",
            "probe.every=12"], 50),
    (TINY, ["train.eval_every=4", "train.chunk_steps=24", "checkpoint.save_every=48",
            "probe.every=0"], 50),
])
def test_every_step_count_a_refusal_suggests_is_accepted(capsys, spec, sets, steps):
    overrides = [x for s in sets for x in ("--set", s)]
    assert cli.main(["config", spec, *overrides, "--steps", str(steps)]) == 2
    err = capsys.readouterr().err
    assert f"train.steps={steps} must be a multiple of" in err
    suggested = _suggested(err)
    assert suggested, err
    for n, extra in suggested:
        cfg = config.load_config(spec, [*sets, f"train.steps={n}", *extra])
        config.validate(cfg)  # raises if the suggestion is refused too
    if spec == "configs/add.py" and steps == 1234:
        assert ("give --steps 1200 or 1300, or 1230 or 1240 with --set probe.every=0"
                in err), err
