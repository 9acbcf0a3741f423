"""What a run keeps on disk, and how it is written and read.

    files        the run directory's file names, the one place they are spelled (RunFiles)
    rundir       the run directory's files (config.json, run.json, splits.npz, history.npz,
                 summary.json), written atomically, read without pickle; the run lock; the
                 library versions a run records; `require`, the check every reader makes
    checkpoint   orbax checkpoints of the stacked state, its history, splits and meta

The store knows files, not experiments: it imports nothing from grokjax but the error type.
Loading a run's state into this machine's devices needs the experiment its config builds, so
that is `grokjax.saved` (`open_run`).
"""
