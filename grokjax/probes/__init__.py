"""What a model has learned, read from its weights: pure functions of one seed's params.

    fourier    the real Fourier basis over Z/p, its jnp.fft path, the discrete-log basis
    measures   Furuta's FFD and FCR, the Gini coefficient, Nanda's key frequencies and
               restricted / excluded loss, the embedding ablation, and what the training
               program probes every `probe.every` steps (`ProbeSpec`, `probe_record`)
    representations  the irreducible representations of S_n (Young's orthogonal form), the
               Peter-Weyl basis of matrix elements, and each irrep's share of an embedding's
               variance: the probe for the group tasks (S5), after Chughtai et al. 2023

Everything here takes one member's params and is pure, so `jax.vmap` lifts it to a run's
member axis. The probes import only the models and the leaves (`modular`, `numerics`); the training
program imports them. `grokjax probe RUN` (grokjax.report.probe) is the command.
"""
