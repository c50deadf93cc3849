"""Drag-conditioned video generation (the Puppet-Master design on diffusers).

Modules: ``drag_maps`` (drag rasterisation and embeddings), ``attention`` (attention
processors), ``unet`` (the drag-conditioned spatio-temporal UNet), ``pipeline`` (the
``DiffusionPipeline``), ``backend`` (the ``generate`` stage backend), ``training``
(EDM training core used by ``tools/train_drag_model.py``).
"""
