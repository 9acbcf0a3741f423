"""What finished runs show: figures, probe reports, circuits, a run's description, a sweep's
table, the papers' claims.

    draw          matplotlib figures (curves, measures, spectra, grok steps, heatmaps) as PNG
    circuit_draw  the circuit figures (graphs, threshold sweeps, patching heatmaps, over training)
    runs          a finished run opened and checked, its title, one member's params for a figure
    tables        the per-seed table, the grok-step matrix, phases from the progress measures
    plot          `grokjax plot RUN ...`
    probe         `grokjax probe RUN`: every measure per member, with the embedding ablation
    describe      `grokjax inspect RUN`
    circuits      `grokjax circuits RUN`: circuit discovery results, figures and TensorBoard
    collect       `grokjax collect SWEEP_DIR`: one table (CSV, markdown) of a sweep
    claims        the papers' claims as data, and the predicates that decide agreement
    reproduce     `grokjax report`: every claim beside our results, as REPRODUCTION.md

The commands (`plot`, `probe`, `describe`, `circuits`, `collect`, `reproduce`) are imported by
the CLI alone; they open runs with `grokjax.saved.open_run` (through `runs.read_finished` where
a finished run is needed) and draw through `draw` and `circuit_draw`.
"""
