"""Where runs train: sweep files planned into `grokjax train` commands, and the backends that
start them.

    sweep     sweep files (`Run`), planning, run states, the sweep's manifest
    command   `grokjax sweep`: plan, print a dry run, write the manifest, hand to a backend
    local     here, one after another or several at a time, stage by stage
    slurm     generated sbatch job arrays, one per stage
    tpu       one gcloud command per run on every worker of a TPU VM pod

Every backend runs the same thing, `python -m grokjax train CONFIG --workdir ROOT/NAME ...`,
which starts or resumes the run; only the launching differs. No backend starts a run while the
earlier runs it needs (`sweep.Planned.needs`) are neither finished nor part of the same launch.
"""
