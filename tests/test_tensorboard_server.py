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
from tests.conftest import TINY

MEMBERS = ["lr=0.001,seed_000", "lr=0.001,seed_001", "lr=0.003,seed_000", "lr=0.003,seed_001"]
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

    def __init__(self, command: str, logdir: pathlib.Path, load_fast: str):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        self.process = subprocess.Popen(
            [command, "--logdir", str(logdir), "--host", "127.0.0.1", "--port", str(port),
             f"--load_fast={load_fast}"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

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
    return (sorted(server.get("/data/runs")) == sorted(MEMBERS + ["aggregate"])
            and all("hparam/test_acc" in tags.get(run, {}) for run in MEMBERS + ["aggregate"]))


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
        assert metrics[:2] == ["hparam/grok_step", "hparam/memorisation_step"]
        groups = server.get("/data/plugin/hparams/session_groups", {
            "experimentName": "", "allowedStatuses": STATUSES, "colParams": [],
            "startIndex": 0, "sliceSize": 100})["sessionGroups"]
        assert sorted(g["name"] for g in groups) == MEMBERS  # no "aggregate"
        for g in groups:
            lr, seed = re.fullmatch(r"lr=([\d.]+),seed_(\d+)", g["name"]).groups()
            assert g["hparams"]["4_lr"] == float(lr) and g["hparams"]["7_seed"] == int(seed)
            assert "()" not in g["hparams"].values()
            assert {m["name"]["tag"] for m in g["metricValues"]} == set(metrics)

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
            for run in MEMBERS + ["aggregate"]:
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
                    assert sorted(found) == (sorted(want) if run == "aggregate" else []), (
                        chart["title"], run)

        # Histograms at more than two steps
        for run in MEMBERS:
            points = server.get("/data/plugin/histograms/histograms", run=run,
                                tag="weights/embed.W_E")
            assert len({p[1] for p in points}) > 2, (run, [p[1] for p in points])
    finally:
        server.stop()
