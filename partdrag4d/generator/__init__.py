"""Drag-conditioned video generation (the Puppet-Master design on diffusers).

Modules: ``drag_maps`` (drag rasterisation and embeddings), ``attention`` (attention
processors), ``unet`` (the drag-conditioned spatio-temporal UNet), ``pipeline`` (the
``DiffusionPipeline``), ``backend`` (the ``generate`` stage backend), ``training``
(EDM objective, checkpoints, drag sampling, motion error), ``data`` (the training data
engine: rendered procedural clips -> cached latents; ``tools/build_drag_dataset.py``),
``trainer`` (the training loop with validation; ``tools/train_drag_model.py``).
"""
