"""Training and scoring the drag-conditioned video model, above the pipeline stages.

``data`` is the data engine: it renders training and validation clips by running the
pipeline's ``prepare`` and ``generate`` stages (``runner.run_stages``, as any user of
the pipeline would). ``trainer`` is the training loop with validation, ``scoring``
scores a generator on held-out clips. The model itself, its losses and checkpoints
live in :mod:`partdrag4d.generator`, which imports nothing from here or the stages.
"""
