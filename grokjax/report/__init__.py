"""What finished runs show: figures, probe reports, a run's description, a sweep's table.

    draw       matplotlib figures (curves, measures, spectra, grok steps, heatmaps) as PNG
    runs       a finished run read and checked, its title, one member's params for a figure
    plot       `grokjax plot RUN ...`
    probe      `grokjax probe RUN`: every measure per member, with the embedding ablation
    describe   `grokjax inspect RUN`
    collect    `grokjax collect SWEEP_DIR`: one table (CSV, markdown) of a sweep
    claims     the papers' claims as data, and the predicates that decide agreement
    reproduce  `grokjax report`: every claim beside our results, as REPRODUCTION.md

The commands (`plot`, `probe`, `describe`, `collect`, `reproduce`) are imported by the CLI alone; they read
runs through `grokjax.run.load_state`, `grokjax.store` and `runs`, and draw through `draw`.
"""
