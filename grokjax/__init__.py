"""grokjax: grokking experiments on modular arithmetic and polynomials, many seeds as one JAX program.

The layout, from the bottom up; a module imports only from its own layer or those above it in
this list (tests/test_layout.py reads every import and checks it):

    errors, modular, numerics,  leaves: the error type, arithmetic mod p, the loss dtype and
    compilation, signals        the cross entropy, JAX's persistent compilation cache, the
                                handling of SIGINT and SIGTERM
    store/          what a run keeps on disk: run-directory files and lock, orbax checkpoints
    models/         init / apply / run_with_cache: the transformer, the MLP, their matmul
    probes/         what a model learned, from its weights: Fourier tools and measures
    core            tasks, data (tokens and splits), config/ (defaults, files, overrides,
                    validation, resume policy), optim, transfer, sharding, grid (members),
                    program (the pure step and the many-member program), experiment (a config
                    built), summary, saved (a run directory opened: `open_run`), memory (what
                    a run's programs need, from XLA's analysis, checked before it allocates)
    monitor/        what a run shows while it trains: progress line, TensorBoard
    circuits/       which parts of a trained model compute its answer: the graph, one patched
                    forward pass, edge and activation patching, EAP, EAP-IG, ACDC
    run             the training loop: start or resume, loop, finish (only the CLI imports it)
    launch/         sweep files and the local, SLURM and TPU backends
    report/         what finished runs show: plot, probe, describe (inspect), collect, draw
    cli             the `grokjax` command; the only importer of the command modules

A member is one entry of a run's leading axis: a seed, or a grid setting times a seed.

A saved run in a notebook, in one line (see grokjax.saved):

    import grokjax
    run = grokjax.open_run("runs/quick-1a2b3c4d")
    logits, cache = run.model().run_with_cache(tokens)
"""

__version__ = "0.1.0"


def __getattr__(name: str):
    """`grokjax.open_run`, imported when first used: `import grokjax` stays cheap (no JAX)."""
    if name == "open_run":
        from grokjax.saved import open_run  # pylint: disable=import-outside-toplevel
        return open_run
    raise AttributeError(f"module 'grokjax' has no attribute {name!r}")
