"""The TPU backend: for a TPU VM pod, one `gcloud compute tpus tpu-vm ssh NAME --worker=all
--command '...'` per run, in order, each starting the same `grokjax train ... --distributed` on
every worker (jax.distributed.initialize finds the pod's workers itself). Written to
ROOT/tpu/launch.sh, printed by `--dry-run`, and run with `--submit` where gcloud is installed.
The sweep root must be a filesystem every worker sees (the checkpoints are written by all);
finished runs are skipped there by `grokjax train` itself.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
import shlex
import shutil
import subprocess

from grokjax.errors import BUSY_EXIT, GrokjaxError
from grokjax.launch import sweep as sweep_lib
from grokjax.launch.sweep import Print


@dataclasses.dataclass
class TpuTarget:
    """The TPU VM pod the runs start on."""

    name: str
    zone: str
    project: str | None = None
    repo_dir: str = "~/grokjax"  # where grokjax is checked out on every worker
    python: str = "python3"
    setup: str = ""  # shell run first on every worker, e.g. 'source ~/venv/bin/activate'


def tpu_commands(planned: list[sweep_lib.Planned], tpu: TpuTarget) -> list[str]:
    """One gcloud command per run, in stage order: the same `grokjax train --distributed`
    on every worker of the pod."""
    out = []
    for p in planned:
        inner = " && ".join(s for s in (f"cd {tpu.repo_dir}", tpu.setup,
                                         shlex.join(p.command(tpu.python) + ["--distributed"]))
                            if s)
        cmd = ["gcloud", "compute", "tpus", "tpu-vm", "ssh", tpu.name, f"--zone={tpu.zone}",
               *([f"--project={tpu.project}"] if tpu.project else []), "--worker=all",
               f"--command={inner}"]
        out.append(shlex.join(cmd) + f" || [ $? -eq {BUSY_EXIT} ]")
    return out


def launch_tpu(everything: list[sweep_lib.Planned], planned: list[sweep_lib.Planned],
               root: pathlib.Path, tpu: TpuTarget, dry_run: bool, submit: bool,
               echo: Print = print) -> dict:
    """Writes ROOT/tpu/launch.sh (every run's command, in stage order) and prints it; runs it
    with submit (needs gcloud). The runs' directories live on the pod's shared filesystem,
    which this machine usually does not see: finished runs are skipped there, by `grokjax
    train` itself (it returns at once on a finished run; exit 3, a run trained elsewhere, lets
    the script go on)."""
    sweep_lib.check_order(everything, planned)
    lines = ["#!/bin/bash", "# Written by grokjax sweep --backend tpu: one command per run, "
             "each on every worker of the pod.", "set -euo pipefail",
             *tpu_commands(planned, tpu), ""]
    script = "\n".join(lines)
    echo(script)
    if dry_run:
        return {"runs": [p.name for p in planned]}
    path = root / "tpu" / "launch.sh"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(script)
    os.chmod(path, 0o755)
    echo(f"wrote {path}")
    if submit:
        if shutil.which("gcloud") is None:
            raise GrokjaxError(f"gcloud not found: run {path} where the Google Cloud SDK is "
                               "installed and authorised")
        rc = subprocess.run(["bash", str(path)]).returncode
        if rc:
            raise GrokjaxError(f"{path} failed (exit {rc}); fix the cause and run the sweep "
                               "again: finished runs return at once")
    return {"runs": [p.name for p in planned], "script": str(path)}
