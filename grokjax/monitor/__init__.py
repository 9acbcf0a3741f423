"""What a run shows while it trains.

    progress         the progress bar on a terminal, plain lines elsewhere
    tensorboard      the run's TensorBoard event files, written from the host records
    spectrum_image   the small spectrum picture TensorBoard shows at every probe point

Both writers read only what the training loop already brought to the host (no device sync).
They sit below `grokjax.run`, which drives them, and above the core they display.
"""
