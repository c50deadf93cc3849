"""Assets: URDF loading, forward kinematics, static mesh loading, procedural objects.

- :mod:`partdrag4d.assets.urdf` — ``load_urdf`` (PartNet-Mobility-style URDF folders).
- :mod:`partdrag4d.assets.kinematics` — pure forward kinematics and posed meshes.
- :mod:`partdrag4d.assets.mesh` — ``load_mesh`` for static GLB/GLTF/OBJ/PLY/STL/DAE files.
- :mod:`partdrag4d.assets.procedural` — a seeded library of articulated objects written
  as URDF folders (``write_procedural``); :mod:`partdrag4d.assets.textures` makes their
  texture images.
"""

from partdrag4d.assets.kinematics import (
    forward_kinematics,
    link_poses_over_time,
    posed_mesh,
)
from partdrag4d.assets.mesh import load_mesh
from partdrag4d.assets.procedural import CATEGORIES, ProceduralConfig, write_procedural
from partdrag4d.assets.urdf import load_urdf

__all__ = [
    "CATEGORIES",
    "ProceduralConfig",
    "forward_kinematics",
    "link_poses_over_time",
    "load_mesh",
    "load_urdf",
    "posed_mesh",
    "write_procedural",
]
