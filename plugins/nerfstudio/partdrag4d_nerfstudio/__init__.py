"""nerfstudio plugin of partdrag4d: a run folder as a dataset, its articulation as a method.

- dataparser ``partdrag4d-run``: reads ``RUN_DIR/export/nerfstudio/transforms.json``
  exactly as written (world frame of the input asset kept: no re-orientation, centring
  or scaling), every (view, frame) image with its ``time`` (``includes_time=True``).
- method ``partdrag4d-articulation``: the reconstructed parts (``export/model.glb``)
  posed by the joints of ``export/articulation.json`` at the ray's time, ray-cast, with
  one colour per part and a background colour fitted to the videos; nerfstudio's Time
  slider drives the parts and one slider per joint poses it by hand.

This package runs in nerfstudio's own environment and never imports ``partdrag4d``
(the two environments cannot share numpy).
"""
