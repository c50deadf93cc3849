"""Evaluation against ground truth: the only reader of GT besides the render backend."""
