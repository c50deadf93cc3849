"""Drag-conditioned video generation (the Puppet-Master design on diffusers).

Modules: ``drag_maps`` (drag rasterisation and embeddings), ``drag_modules`` (drag
encoders, tokenizers and the two published layouts), ``drag_transformer``,
``attention`` (attention processors), ``unet`` (the drag-conditioned spatio-temporal
UNet), ``pipeline`` (the ``DiffusionPipeline``) and ``loaders`` (from SVD, from the
published Puppet-Master checkpoint: ``puppet_master``), ``dragamove`` (their test
batches, read safely), ``scoring`` (PSNR/SSIM/LPIPS/FVD/motion error of a model),
``training`` (EDM objective, checkpoints, drag sampling), ``data`` (the training data
engine: rendered procedural clips -> cached latents; ``tools/build_drag_dataset.py``),
``trainer`` (the training loop with validation; ``tools/train_drag_model.py``). The
``generate`` stage backend that runs a pipeline is ``generate.diffusion_backend``.
"""
