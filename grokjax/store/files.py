"""The names of a run directory's files: the one place they are spelled.

    config.json            the resolved config
    run.json               seeds, split seeds, tasks, vocabulary, numerics, versions, command
    splits.npz             operands and each member's exact train_idx / test_idx
    history.npz            every metric at every log point
    summary.json           per member: final metrics, memorisation and grok steps
    .lock                  held by the process that trains the run
    checkpoints/<step>/    orbax checkpoints (grokjax.store.checkpoint)
    corrupt_checkpoints/   unreadable checkpoints, moved aside (never deleted)
    .replaced-<step>/      a checkpoint set aside while a same-step one replaces it
    tb/                    TensorBoard event files (tb/<member>/ per member shown)
    probes/                `grokjax probe` reports (report-step<N>.json, final-keys.json)
    plots/                 `grokjax plot` figures
    circuits/              `grokjax circuits` results
    comparison.md, .json   `grokjax compare`: a comparison's arms against its baseline

`RunFiles(root)` gives each as a path. It imports nothing, not even JAX, so the command line
can ask where things are before it loads anything heavy.
"""

from __future__ import annotations

import dataclasses
import pathlib

CONFIG = "config.json"
RUN_INFO = "run.json"
SPLITS = "splits.npz"
HISTORY = "history.npz"
SUMMARY = "summary.json"
LOCK = ".lock"
CHECKPOINTS = "checkpoints"
CORRUPT = "corrupt_checkpoints"
REPLACED = ".replaced-"
TENSORBOARD = "tb"
# in the first member's TensorBoard run: HPARAMS' experiment, in a file of its own (rewritten
# by `grokjax collect`); it sorts before the writer's files, which name their creation time
TB_EXPERIMENT = "events.out.tfevents.0.grokjax-experiment"
PROBES = "probes"
PLOTS = "plots"
CIRCUITS = "circuits"
COMPARISON = "comparison"  # .md and .json
FINAL_KEYS = "final-keys.json"  # in PROBES (and beside a run's files in committed results)
PROBE_REPORT = "report-step{step}.json"  # in PROBES

FINISHED = (CONFIG, HISTORY, SUMMARY)  # what a finished run has


@dataclasses.dataclass(frozen=True)
class RunFiles:
    """Where each file of the run directory `root` is (whether or not it exists yet)."""

    root: pathlib.Path

    def __init__(self, root: str | pathlib.Path):
        object.__setattr__(self, "root", pathlib.Path(root))

    @property
    def config(self) -> pathlib.Path:
        return self.root / CONFIG

    @property
    def run_info(self) -> pathlib.Path:
        return self.root / RUN_INFO

    @property
    def splits(self) -> pathlib.Path:
        return self.root / SPLITS

    @property
    def history(self) -> pathlib.Path:
        return self.root / HISTORY

    @property
    def summary(self) -> pathlib.Path:
        return self.root / SUMMARY

    @property
    def lock(self) -> pathlib.Path:
        return self.root / LOCK

    def comparison(self, suffix: str) -> pathlib.Path:
        """comparison.md or comparison.json (`suffix`: 'md', 'json')."""
        return self.root / f"{COMPARISON}.{suffix}"

    @property
    def checkpoints(self) -> pathlib.Path:
        return self.root / CHECKPOINTS

    @property
    def corrupt(self) -> pathlib.Path:
        return self.root / CORRUPT

    def replaced(self, step: int | str = "*") -> pathlib.Path:
        """Where a checkpoint of `step` waits while it is replaced ('*': a glob pattern)."""
        return self.root / f"{REPLACED}{step}"

    @property
    def tensorboard(self) -> pathlib.Path:
        return self.root / TENSORBOARD

    def experiment_events(self, member: str) -> pathlib.Path:
        """HPARAMS' experiment, in the TensorBoard run of the member named `member`."""
        return self.root / TENSORBOARD / member / TB_EXPERIMENT

    @property
    def probes(self) -> pathlib.Path:
        return self.root / PROBES

    @property
    def plots(self) -> pathlib.Path:
        return self.root / PLOTS

    @property
    def circuits(self) -> pathlib.Path:
        return self.root / CIRCUITS

    @property
    def final_keys(self) -> pathlib.Path:
        """`grokjax probe --final-keys`'s output; committed results keep it beside the run's
        files, so a reader looks there first."""
        beside = self.root / FINAL_KEYS
        return beside if beside.exists() else self.probes / FINAL_KEYS

    def is_run(self) -> bool:
        """Whether `root` holds a run (its config.json)."""
        return self.config.is_file()


def replaced_step(path: pathlib.Path) -> str:
    """The step of a `RunFiles.replaced` directory, from its name."""
    return path.name[len(REPLACED):]


def probe_report_name(step: int) -> str:
    return PROBE_REPORT.format(step=step)


def probe_report_step(path: pathlib.Path) -> int | None:
    """The step of a probe report's file name (report-step<N>.json); None if it is not one."""
    head, _, tail = PROBE_REPORT.partition("{step}")
    name = path.name
    if name.startswith(head) and name.endswith(tail):
        middle = name[len(head):len(name) - len(tail)]
        return int(middle) if middle.isdigit() else None
    return None
