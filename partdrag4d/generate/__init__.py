"""The `generate` stage: SceneInput -> VideoSet, with swappable backends (``_target_``)."""
