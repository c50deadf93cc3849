"""The geometry base layer: rotations and rigid motions (``se3``), 3D lines (``lines``)
and pinhole cameras (``camera``). Pure numpy functions that every stage uses; this
package imports nothing else from partdrag4d."""
