"""Absurd fits never leave articulate, and no articulation makes an exporter unbounded."""

import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parents[1] / "export"))
from export_cases import chain_case  # noqa: E402

from partdrag4d.containers import JointType  # noqa: E402
from partdrag4d.export.glb import write_glb  # noqa: E402
from partdrag4d.reconstruct.sanity import SanityConfig, sane_articulation  # noqa: E402


def _with_values(art, index, values):
    joints = list(art.joints)
    joints[index] = replace(joints[index], values=values, limits=(0.0, float(values.max())))
    return replace(art, joints=tuple(joints))


def test_a_joint_of_2e10_rad_is_made_fixed_and_its_part_follows_the_parent():
    mesh, art = chain_case()  # base -> door -> flap
    bad = _with_values(art, 0, np.linspace(0.0, 2.5e10, art.T_world_part.shape[0]))
    out = sane_articulation(bad, mesh, SanityConfig())
    assert out.joints[0].type is JointType.FIXED and np.all(out.joints[0].values == 0)
    np.testing.assert_allclose(out.T_world_part[:, 1], out.T_world_part[:, 0])
    assert out.joints[1] == art.joints[1]  # the flap keeps its own joint
    assert out.extras["repaired_joints"][0]["joint"] == art.joints[0].name


def test_plausible_joints_are_left_alone():
    mesh, art = chain_case()
    assert sane_articulation(art, mesh, SanityConfig()) is art


def test_non_finite_and_far_pivots_are_caught():
    mesh, art = chain_case()
    nan = _with_values(art, 1, np.full(art.T_world_part.shape[0], np.nan))
    assert sane_articulation(nan, mesh, SanityConfig()).joints[1].type is JointType.FIXED
    far = replace(art, joints=(replace(art.joints[0], origin=np.array([1e6, 0, 0])), art.joints[1]))
    assert sane_articulation(far, mesh, SanityConfig()).joints[0].type is JointType.FIXED


def test_glb_sweep_is_bounded_for_any_range(tmp_path):
    mesh, art = chain_case()
    huge = _with_values(art, 0, np.linspace(0.0, 2.5e10, art.T_world_part.shape[0]))
    path = write_glb(huge, mesh, tmp_path / "model.glb")
    assert path.stat().st_size < 5_000_000
