"""Reconstruction stages: track (2D tracks of rest-surface points) and articulate
(parts, joints, per-frame poses). They never read ground truth (the honesty rule)."""
