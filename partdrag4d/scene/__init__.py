"""Building a SceneInput: assets, the camera rig and the drags (the `prepare` stage)."""
