"""The SLURM backend: one generated sbatch script per stage, ROOT/slurm/stage-K.sbatch,
submitted with `sbatch --parsable`; array task i trains run i.

Generated scripts rather than submitit: the script is the whole truth of what runs (`--dry-run`
prints it; it can be read, kept and resubmitted by hand), nothing is pickled, and the compute
nodes need grokjax and nothing else. Resources (partition, account, time, GPUs, CPUs, memory,
...) come from the options or a TOML profile (configs/slurm_profile.toml). Stage k depends on
stage k-1 (afterok; a stage whose predecessor failed is cancelled, not left pending). Each task
is requeued on pre-emption (`--requeue`; SLURM's SIGTERM stops the run as Ctrl-C does, with a
checkpoint at the chunk it finishes) and, warned shortly before its time limit (`--signal`),
stops its run the same way and requeues itself: its run resumes from that checkpoint. Runs
already finished are left out of the array; a sweep whose jobs (ROOT/sweep.json) are still
queued is not submitted again.
"""

from __future__ import annotations

import dataclasses
import pathlib
import shlex
import shutil
import subprocess
import sys
import tomllib

from grokjax.errors import GrokjaxError
from grokjax.launch import sweep as sweep_lib
from grokjax.launch.sweep import Print


@dataclasses.dataclass
class SlurmProfile:
    """sbatch resources of one array task (one run). None: the cluster's default."""

    partition: str | None = None
    account: str | None = None
    qos: str | None = None
    time: str = "24:00:00"  # per task; a task near its limit requeues itself and resumes
    cpus_per_task: int = 2
    gpus_per_task: int | None = None  # a one-process run's GPUs
    gpus_per_node: int | None = None  # a multi-process run: one process per GPU, as JAX on
                                      # SLURM gives process i the node's GPU SLURM_LOCALID
    mem: str | None = None  # e.g. '16G'
    tasks_per_run: int = 1  # > 1: a multi-process run under srun (--distributed)
    max_parallel: int | None = None  # array tasks running at once (--array=...%N)
    signal_seconds: int = 120  # warning before the time limit, to requeue
    setup: str = ""  # shell lines run first on the node, e.g. 'module load cuda'
    python: str = sys.executable  # the Python with grokjax, as the nodes see it
    extra: tuple[str, ...] = ()  # further '#SBATCH' options, e.g. ('--constraint=a100',)

    @classmethod
    def load(cls, path: str | None, **overrides) -> "SlurmProfile":
        values = {}
        if path:
            try:
                text = pathlib.Path(path).read_text()
            except OSError as e:
                raise GrokjaxError(f"--profile {path}: {e.strerror}; give a TOML file such as "
                                   "configs/slurm_profile.toml") from None
            try:
                values = tomllib.loads(text).get("slurm", {})
            except tomllib.TOMLDecodeError as e:
                raise GrokjaxError(f"--profile {path} is not valid TOML: {e}") from None
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - fields)
        if unknown:
            raise GrokjaxError(f"--profile {path}: unknown [slurm] key(s) {', '.join(unknown)}; "
                               f"known: {', '.join(sorted(fields))}")
        values.update({k: v for k, v in overrides.items() if v is not None})
        if "extra" in values:
            values["extra"] = tuple(values["extra"])
        return cls(**values)


def sbatch_script(stage: list[sweep_lib.Planned], root: pathlib.Path, job_name: str,
                  prof: SlurmProfile, cwd: pathlib.Path) -> str:
    """The sbatch script of one stage: array task i trains run i."""
    opts = [f"--job-name={job_name}", f"--array=0-{len(stage) - 1}"
            + (f"%{prof.max_parallel}" if prof.max_parallel else ""),
            f"--output={root}/slurm/%x-%A_%a.out", "--open-mode=append", f"--time={prof.time}",
            f"--ntasks={prof.tasks_per_run}", f"--cpus-per-task={prof.cpus_per_task}",
            "--requeue", f"--signal=B:USR1@{prof.signal_seconds}"]
    for key in ("partition", "account", "qos", "mem"):
        if getattr(prof, key):
            opts.append(f"--{key}={getattr(prof, key)}")
    if prof.gpus_per_task:
        opts.append(f"--gpus-per-task={prof.gpus_per_task}")
    if prof.gpus_per_node:
        opts.append(f"--gpus-per-node={prof.gpus_per_node}")
    opts += list(prof.extra)
    distributed = prof.tasks_per_run > 1
    lines = ["#!/bin/bash", *(f"#SBATCH {o}" for o in opts),
             f"# Written by grokjax sweep: {len(stage)} run(s), one per array task. Array task i",
             "# trains (or resumes) run i; running it again resumes it. Exit 3: the run was",
             "# being trained by another process, so nothing was done (and no later stage starts).",
             "set -o pipefail", f"cd {shlex.quote(str(cwd))}"]
    if prof.setup:
        lines.append(prof.setup)
    # Near the time limit the run is stopped as Ctrl-C stops it (SIGTERM: it finishes its
    # chunk and saves a checkpoint), then the task requeues itself and resumes from there.
    lines += ["set -u", "requeue() {",
              '  echo "grokjax: time limit near; stopping the run with a checkpoint and '
              'requeueing to resume from the last checkpoint"',
              '  kill -TERM "$pid" 2>/dev/null; wait "$pid"',
              '  scontrol requeue "${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}"',
              "}", "trap requeue USR1", 'case "$SLURM_ARRAY_TASK_ID" in']
    for i, p in enumerate(stage):
        cmd = p.command(prof.python) + (["--distributed"] if distributed else [])
        launch = (["srun", f"--ntasks={prof.tasks_per_run}", "--kill-on-bad-exit=1"]
                  if distributed else [])
        lines.append(f"  {i}) {shlex.join(launch + cmd)} & ;;  # {p.name}")
    lines += ["esac", "pid=$!", 'wait "$pid"; rc=$?',
              '# a trap ends the wait early (rc > 128): wait on for the run itself',
              'while [ "$rc" -gt 128 ] && kill -0 "$pid" 2>/dev/null; do wait "$pid"; rc=$?; done',
              'exit "$rc"', ""]
    return "\n".join(lines)


def _still_queued(job_ids: list[str]) -> list[str]:
    """Those of `job_ids` (array job ids) that this user still has queued or running."""
    out = subprocess.run(["squeue", "-h", "--me", "-o", "%F"], capture_output=True, text=True)
    if out.returncode != 0:
        raise GrokjaxError(f"squeue failed ({out.stderr.strip()}); cannot tell whether this "
                           "sweep is still queued")
    return sorted(set(job_ids) & set(out.stdout.split()))


def submit_slurm(everything: list[sweep_lib.Planned], planned: list[sweep_lib.Planned],
                 root: pathlib.Path, sweep_name: str, prof: SlurmProfile, dry_run: bool,
                 echo: Print = print) -> dict:
    """Writes (or with dry_run, prints) one sbatch script per stage of the unfinished runs of
    `planned` and submits them, each stage after the previous one (afterok), recording each
    job id in ROOT/sweep.json as soon as it exists. Refuses while jobs of this sweep are still
    queued, and stages whose earlier runs are neither finished nor submitted now."""
    todo = [p for p in planned if sweep_lib.state(p) not in ("finished", "running")]
    echo(f"{len(planned) - len(todo)} of {len(planned)} runs finished or running; "
         f"{len(todo)} to submit")
    if not todo:
        return {"job_ids": [], "runs": []}
    sweep_lib.check_order(everything, todo)
    if not dry_run:
        if shutil.which("sbatch") is None:
            raise GrokjaxError("sbatch not found: run this on a SLURM login node, use --dry-run "
                               "to see the scripts, or --backend local")
        busy = _still_queued(sweep_lib.submitted_jobs(root))
        if busy:
            raise GrokjaxError(f"this sweep is already queued or running as job(s) "
                               f"{', '.join(busy)}; wait for them (or scancel them) before "
                               "submitting it again")
    job_ids: list[str] = []
    for k, stage in enumerate(sweep_lib.stages(todo)):
        name = f"grokjax-{sweep_name}-stage{stage[0].stage}"
        script = sbatch_script(stage, root, name, prof, pathlib.Path.cwd())
        path = root / "slurm" / f"stage-{stage[0].stage}.sbatch"
        after = f"$JOB{k - 1}" if dry_run else (job_ids[-1] if job_ids else "")
        cmd = ["sbatch", "--parsable",
               *([f"--dependency=afterok:{after}", "--kill-on-invalid-dep=yes"] if k else []),
               str(path)]
        if dry_run:
            echo(f"# ---- {path}\n{script}# ---- submitted with:\nJOB{k}=$({' '.join(cmd)})\n")
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(script)
        out = subprocess.run(cmd, capture_output=True, text=True)
        if out.returncode != 0:
            raise GrokjaxError(f"sbatch refused {path}: {out.stderr.strip()}")
        job_ids.append(out.stdout.strip().split(";")[0])
        sweep_lib.record_job(root, job_ids[-1])
        echo(f"stage {stage[0].stage}: {len(stage)} runs submitted as job array {job_ids[-1]} "
             f"({path})")
    return {"job_ids": job_ids, "runs": [p.name for p in todo]}
