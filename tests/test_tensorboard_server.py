"""A run's TensorBoard as TensorBoard's own server shows it: a 2 x 2 grid of the tiny config
(lr x seed) behind `tensorboard --logdir RUN/tb`, read through the HTTP data API its dashboards
use (the runs, the tags, HPARAMS' experiment and session groups, the custom scalars' layout and
their per-run tag lookups, the histograms). Skipped where the `tensorboard` command is missing."""

import json
import os
import pathlib
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from grokjax import cli
from tests.conftest import TINY, optimised_env

MEMBERS = ["lr=0.001,seed_000", "lr=0.001,seed_001", "lr=0.003,seed_000", "lr=0.003,seed_001"]
AGGREGATES = ["lr=0.001,aggregate", "lr=0.003,aggregate"]  # one per grid setting
# HPARAMS' metric columns, the five TensorBoard shows first
SHOWN_METRICS = ["hparam/grok_step", "hparam/grokked_fraction", "hparam/test_acc",
                 "hparam/memorisation_step", "hparam/test_loss"]
STATUSES = ["STATUS_UNKNOWN", "STATUS_SUCCESS", "STATUS_FAILURE", "STATUS_RUNNING"]


def _tensorboard() -> str:
    """The `tensorboard` command: beside this Python (a venv's bin/), else on the PATH."""
    here = pathlib.Path(sys.executable).parent
    found = shutil.which("tensorboard", path=os.pathsep.join([str(here), os.environ["PATH"]]))
    if found is None:
        pytest.skip("the `tensorboard` command is not installed (pip install tensorboard)")
    return found


@pytest.fixture(scope="module")
def logdir(tmp_path_factory):
    """The tiny config, 2 seeds x lr 0.001, 0.003, checkpoints (and histograms) every 10 steps."""
    command = _tensorboard()
    workdir = tmp_path_factory.mktemp("tbserver") / "grid"
    assert cli.main(["train", TINY, "--workdir", str(workdir), "--no-progress", "--seeds", "2",
                     "--grid", "lr=0.001,0.003", "--set", "checkpoint.save_every=10"]) == 0
    return command, workdir / "tb"


class Server:
    """`tensorboard --logdir DIR` on a free localhost port; `get(route[, body])` -> JSON (a
    body makes it a POST, as the frontend sends the hparams requests)."""

    def __init__(self, command: str, logdir: pathlib.Path, load_fast: str, *flags: str):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        self.process = subprocess.Popen(
            [command, "--logdir", str(logdir), "--host", "127.0.0.1", "--port", str(port),
             f"--load_fast={load_fast}", *flags], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

    def get(self, route: str, body: dict | None = None, **query):
        url = self.url + route + ("?" + urllib.parse.urlencode(query) if query else "")
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url, data, {"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def wait(self, ready, timeout: float = 30.0):
        """Polls until `ready(self)` (the data is read in the background, after start-up)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail("tensorboard exited:\n" + self.process.stdout.read().decode())
            try:
                if ready(self):
                    return
            except (urllib.error.URLError, ConnectionError):
                pass  # not listening yet
            time.sleep(0.2)
        pytest.fail(f"tensorboard at {self.url} did not show the run within {timeout} s")

    def stop(self):
        self.process.kill()
        self.process.communicate()


def _loaded(server) -> bool:
    """Every run listed, with its final hparams metrics (the last thing a run writes)."""
    tags = server.get("/data/plugin/scalars/tags")
    return (sorted(server.get("/data/runs")) == sorted(MEMBERS + AGGREGATES)
            and all("hparam/test_acc" in tags.get(run, {}) for run in MEMBERS + AGGREGATES))


@pytest.mark.parametrize("load_fast", ["false", "auto"])  # the Python reader; the default
def test_tensorboard_shows_the_grid_as_a_researcher_needs_it(logdir, load_fast):
    command, tb = logdir
    server = Server(command, tb, load_fast)
    try:
        server.wait(_loaded)
        scalars = server.get("/data/plugin/scalars/tags")

        # HPARAMS: a session per member, not the aggregate; what differs first (the grid axis
        # and the seed), then what a grokking researcher compares; the first five are ticked
        experiment = server.get("/data/plugin/hparams/experiment", {"experimentName": ""})
        infos = experiment["hparamInfos"]
        names = [h["name"] for h in infos]
        assert [h["name"] for h in infos if h.get("differs")] == ["4_lr", "7_seed"]
        assert names[:7] == ["4_lr", "7_seed", "1_task", "2_p", "3_r", "5_weight_decay",
                             "6_alpha"]
        assert [h["displayName"] for h in infos[:5]] == ["lr", "seed", "task", "p", "r"]
        for h in infos:  # a value filter for every hparam (no "cannot process domain type")
            assert "domainDiscrete" in h or h["type"] == "DATA_TYPE_FLOAT64", h
        assert not [n for n in names if n.startswith(("checkpoint.", "tensorboard.", "grid."))]
        metrics = [m["name"]["tag"] for m in experiment["metricInfos"]]
        assert metrics[:5] == SHOWN_METRICS
        groups = server.get("/data/plugin/hparams/session_groups", {
            "experimentName": "", "allowedStatuses": STATUSES, "colParams": [],
            "startIndex": 0, "sliceSize": 100})["sessionGroups"]
        assert sorted(g["name"] for g in groups) == MEMBERS  # no aggregate
        for g in groups:
            lr, seed = re.fullmatch(r"lr=([\d.]+),seed_(\d+)", g["name"]).groups()
            assert g["hparams"]["4_lr"] == float(lr) and g["hparams"]["7_seed"] == int(seed)
            assert "()" not in g["hparams"].values()
            # the tiny config never memorises nor groks: no such steps at all (-1 would sort
            # as the earliest)
            values = {m["name"]["tag"]: m["value"] for m in g["metricValues"]}
            assert set(values) == set(metrics) - {"hparam/grok_step", "hparam/memorisation_step"}
            assert values["hparam/grokked_fraction"] == 0

        # Time Series: tags grouped by their first part, groups by name, the first two open
        tags = {t for run in scalars.values() for t in run}
        tags |= {t for run in server.get("/data/plugin/histograms/tags").values() for t in run}
        tags |= {t for run in server.get("/data/plugin/images/tags").values() for t in run}
        assert sorted({t.split("/")[0] for t in tags})[:2] == ["curves", "event"]
        for run in MEMBERS:
            assert not [t for t in scalars[run] if t.startswith("spread/")]

        # Custom scalars: every chart finds its tags in the runs it draws, through the
        # plugin's own per-run lookup; a Margin chart finds all three or none (else its card
        # says "Missing Tags")
        layout = server.get("/data/plugin/custom_scalars/layout")
        charts = [c for category in layout["category"] for c in category["chart"]]
        assert [c for c in charts if "margin" in c] and [c for c in charts if "multiline" in c]
        for chart in charts:
            for run in MEMBERS + AGGREGATES:
                if "multiline" in chart:
                    for regex in chart["multiline"]["tag"]:
                        found = server.get("/data/plugin/custom_scalars/scalars", run=run,
                                           tag=regex)["tag_to_events"]
                        assert len(found) == 2, (chart["title"], run, regex)
                else:
                    want = [s[k] for s in chart["margin"]["series"]
                            for k in ("value", "lower", "upper")]
                    found = server.get("/data/plugin/custom_scalars/scalars", run=run, tag="|".join(
                        f"^{re.escape(t)}$" for t in want))["tag_to_events"]
                    assert sorted(found) == (sorted(want) if run in AGGREGATES else []), (
                        chart["title"], run)

        # Histograms at more than two steps
        for run in MEMBERS:
            points = server.get("/data/plugin/histograms/histograms", run=run,
                                tag="weights/embed.W_E")
            assert len({p[1] for p in points}) > 2, (run, [p[1] for p in points])
    finally:
        server.stop()


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    """Two runs under one directory, merged by `grokjax collect`: a weight-decay grid of the
    quick config (1 seed, 1,000 steps: weight decay 3 groks, 0 does not; 21 probes, more
    spectra images than TensorBoard keeps by default) and the tiny config on multiplication."""
    command = _tensorboard()
    root = tmp_path_factory.mktemp("tbcompare")
    # (in a process compiled with XLA's optimisations: 1,000 steps run 5x faster)
    subprocess.run([sys.executable, "-m", "grokjax", "train", "configs/quick.py", "--out",
                    str(root / "grid"), "--no-progress", "--seeds", "1", "--grid",
                    "weight_decay=0,3", "--steps", "1000"], env=optimised_env(), check=True,
                   capture_output=True, timeout=600)
    assert cli.main(["train", TINY, "--out", str(root / "mul"), "--no-progress",
                     "--set", "task=multiply"]) == 0
    return command, root


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


@pytest.mark.slow  # 50 s: a 1,000-step grid that groks (the grid test above runs by default)
def test_tensorboard_shows_the_transition_the_settings_and_never_as_never(two_runs, capsys):
    command, root = two_runs
    grid = json.loads((root / "grid" / "summary.json").read_text())["seeds"]
    assert [e["grok_step"] >= 0 for e in grid] == [False, True]  # the premise

    # `grokjax collect` merges the runs' HPARAMS experiments and prints the command to use
    assert cli.main(["collect", str(root)]) == 0
    line = [ln for ln in capsys.readouterr().out.splitlines() if "tensorboard --logdir" in ln]
    flags = line[0].split("tensorboard --logdir ")[1].split()
    assert flags[0] == str(root) and flags[1:] == ["--samples_per_plugin", "images=21"]

    server = Server(command, root, "auto", *flags[1:])
    plain = Server(command, root, "auto")  # TensorBoard's defaults, to show what the flag is for
    member, never = "grid/tb/weight_decay=3,seed_000", "grid/tb/weight_decay=0,seed_000"
    every = [str(s) for s in range(0, 1001, 50)]
    try:
        for s in (server, plain):
            s.wait(lambda s: "hparam/test_acc" in s.get("/data/plugin/scalars/tags").get(
                "mul/tb/seed_001", {}) and "hparam/test_acc" in s.get(
                "/data/plugin/scalars/tags").get(member, {}))

        # 1. The spectra slider holds every probe, the transition (memorised at 64, grokked at
        # 760) included; TensorBoard's default keeps 10 of the 21
        images = server.get("/data/plugin/images/images", run=member, tag="spectra")
        assert [str(i["step"]) for i in images] == every
        kept = plain.get("/data/plugin/images/images", run=member, tag="spectra")
        assert len(kept) == 10
        # an addition's image has one basis; a multiplication's the discrete log's beside it
        width = {}
        for run in (member, "mul/tb/seed_000"):
            query = server.get("/data/plugin/images/images", run=run, tag="spectra")[0]["query"]
            with urllib.request.urlopen(f"{server.url}/data/plugin/images/individualImage?"
                                        f"{query}", timeout=10) as response:
                width[run] = _png_size(response.read())[0]
        assert width["mul/tb/seed_000"] == 2 * width[member]

        # 2. One aggregate per grid setting: its mean is its own members' (grokked: 0 and 1)
        runs = server.get("/data/runs")
        assert sorted(r for r in runs if r.startswith("grid/")) == [
            "grid/tb/weight_decay=0,aggregate", never, "grid/tb/weight_decay=3,aggregate",
            member]
        assert "mul/tb/aggregate" in runs
        for wd, grokked in (("0", 0.0), ("3", 1.0)):
            points = server.get("/data/plugin/scalars/scalars",
                                run=f"grid/tb/weight_decay={wd},aggregate", tag="event/grokked")
            assert points[-1][2] == grokked

        # 3. A member that never grokked has no grok step (nothing that sorts as early); the
        # columns TensorBoard shows first are the grokking ones
        experiment = server.get("/data/plugin/hparams/experiment", {"experimentName": ""})
        assert [m["name"]["tag"] for m in experiment["metricInfos"]][:5] == SHOWN_METRICS
        groups = {g["name"]: {m["name"]["tag"]: m["value"] for m in g["metricValues"]}
                  for g in server.get("/data/plugin/hparams/session_groups", {
                      "experimentName": "", "allowedStatuses": STATUSES, "colParams": [],
                      "startIndex": 0, "sliceSize": 100})["sessionGroups"]}
        assert groups[member]["hparam/grok_step"] == grid[1]["grok_step"]
        assert groups[member]["hparam/grokked_fraction"] == 1
        assert "hparam/grok_step" not in groups[never]
        assert groups[never]["hparam/grokked_fraction"] == 0

        # 4. One experiment over both runs: every value of each, what differs marked
        assert sorted(groups) == [never, member, "mul/tb/seed_000", "mul/tb/seed_001"]
        infos = {h["name"]: h for h in experiment["hparamInfos"]}
        assert infos["1_task"]["domainDiscrete"] == ["add", "multiply"]
        assert infos["2_p"]["domainDiscrete"] == [11.0, 31.0]
        assert infos["5_weight_decay"]["domainDiscrete"] == [0.0, 1.0, 3.0]
        assert all(infos[n].get("differs") for n in ("1_task", "2_p", "5_weight_decay"))
    finally:
        server.stop()
        plain.stop()
