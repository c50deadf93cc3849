"""Load the published Puppet-Master checkpoint into :class:`DragUNetSpatioTemporalModel`.

Puppet-Master (Li, Zheng, Rupprecht, Vedaldi 2024) released its UNet as
``UNetDragSpatioTemporalConditionModel``: SVD's spatio-temporal UNet whose cross-attention
blocks carry, per ResNet layer ``j``, a drag map encoder ``flow_convs.j`` (``conv_in``,
``blocks.n``, zero-initialised ``conv_out`` giving scale and shift) and a token MLP
``drag_token_mlps.j``. Its checkpoint comes as a diffusers folder (``config.json`` +
weights) or as a bare state dict (their training script saves the EMA weights with
``torch.save``). The network is ``drag_variant="puppet_master"`` of our UNet
(``drag_modules.VARIANTS``); this module renames the keys, fills what their network does
not have, and reports every key.

- Their UNet has no ``add_embedding`` (it takes ``added_time_ids`` and ignores them):
  ours gets it with zero output weights, which ignores them exactly.
- Files are read with safetensors or ``torch.load(weights_only=True)`` only: a pickle
  holding anything but tensors and plain containers is refused.
"""

from __future__ import annotations

import inspect
import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

import torch
from diffusers.models import UNetSpatioTemporalConditionModel

from partdrag4d.generator.unet import DragUNetSpatioTemporalModel

logger = logging.getLogger(__name__)

WEIGHT_SUFFIXES = (".safetensors", ".pt", ".pth", ".bin", ".ckpt")
"""Checkpoint files this loader reads (safetensors, or a weights-only pickle)."""

_FLOW = re.compile(
    r"^(down|up)_blocks\.(\d+)\.flow_convs\.(\d+)\.(conv_in|blocks\.(\d+)|conv_out)\.(weight|bias)$"
)
_MLP = re.compile(r"^(down|up)_blocks\.(\d+)\.drag_token_mlps\.(\d+)\.(\d+)\.(weight|bias)$")
_DRAG_CONFIG = {
    "num_drags": "num_drags",
    "drag_embedder_out_channels": "drag_encoder_channels",
    "pos_embed_dim": "drag_pos_embed_dim",
}
_IGNORED_CONFIG = {"cond_dropout_prob"}  # a training setting of theirs, not the network
_SVD_PARAMS = set(inspect.signature(UNetSpatioTemporalConditionModel.__init__).parameters)


@dataclass
class ConversionReport:
    """What happened to every key of a converted checkpoint."""

    renamed: int = 0
    """Drag-module keys mapped onto ours."""
    kept: int = 0
    """SVD keys taken unchanged."""
    filled: list[str] = field(default_factory=list)
    """Our keys their network lacks, set so that they have no effect."""
    unused: list[str] = field(default_factory=list)
    """Their keys nothing of ours reads (an error unless ``strict=False``)."""

    def summary(self) -> str:
        lines = [f"{self.kept} SVD keys kept, {self.renamed} drag keys renamed"]
        if self.filled:
            lines.append(
                f"{len(self.filled)} keys absent from the checkpoint set to zero: "
                + ", ".join(self.filled)
            )
        if self.unused:
            lines.append(f"{len(self.unused)} checkpoint keys unused: " + ", ".join(self.unused))
        return "\n".join(lines)


def rename_key(key: str) -> tuple[str, bool]:
    """Our name of one of their state-dict keys, and whether it was a drag key."""
    key = key.removeprefix("module.")
    if m := _FLOW.match(key):
        prefix, block, layer, part, n, kind = m.groups()
        if part == "conv_out":
            return f"drag_modulations.{prefix}_{block}.{layer}.{kind}", True
        index = 0 if part == "conv_in" else 2 * (int(n) + 1)  # Conv, SiLU, Conv, SiLU, ...
        return f"drag_encoders.{prefix}_{block}.{layer}.net.{index}.{kind}", True
    if m := _MLP.match(key):
        prefix, block, layer, index, kind = m.groups()
        return f"drag_tokenizers.{prefix}_{block}.{layer}.mlp.{index}.{kind}", True
    return key, False


def config_from_puppet_master(config: dict) -> dict:
    """Our UNet config from theirs (their ``config.json``, or SVD's UNet config).

    Raises:
        ValueError: their variant without modulation or without drag tokens (the
            published model has both; the others were ablations).
    """
    for flag in ("use_modulate", "drag_token_cross_attn"):
        if not config.get(flag, True):
            raise ValueError(
                f"Puppet-Master config has {flag}=false: only the published "
                "network (modulation and drag tokens) is supported"
            )
    ours = {k: v for k, v in config.items() if k in _SVD_PARAMS and k != "self"}
    for theirs, name in _DRAG_CONFIG.items():
        if theirs in config:
            ours[name] = (
                tuple(config[theirs]) if isinstance(config[theirs], list) else config[theirs]
            )
    ours["drag_variant"] = "puppet_master"
    skipped = set(config) - _SVD_PARAMS - set(_DRAG_CONFIG) - _IGNORED_CONFIG
    skipped -= {"use_modulate", "drag_token_cross_attn"}
    skipped = {k for k in skipped if not k.startswith("_")}
    if skipped:
        logger.warning("Puppet-Master config keys not used: %s", ", ".join(sorted(skipped)))
    return ours


def infer_drag_config(state: dict[str, torch.Tensor]) -> dict:
    """Drag slots, encoder widths and position size read off the weight shapes (for a
    bare state dict without its config)."""
    renamed = {rename_key(k)[0]: v for k, v in state.items()}
    first = sorted(
        k for k in renamed if re.match(r"drag_encoders\.down_\d+\.0\.net\.\d+\.weight$", k)
    )
    if not first:
        raise ValueError("not a Puppet-Master checkpoint: no down_blocks.*.flow_convs weights")
    block = first[0].split(".")[1]
    convs = sorted(
        (k for k in first if k.split(".")[1] == block), key=lambda k: int(k.split(".")[4])
    )
    widths = [renamed[k].shape[0] for k in convs]
    in_channels = renamed[convs[0]].shape[1]
    mlp = renamed[f"drag_tokenizers.{block}.0.mlp.0.weight"]
    features = renamed[f"drag_modulations.{block}.0.weight"].shape[0] // 2
    return {
        "num_drags": in_channels // 6,
        "drag_encoder_channels": tuple(widths[0::2]),
        "drag_pos_embed_dim": (mlp.shape[1] - 2 * features) // 2,
        "drag_variant": "puppet_master",
    }


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """Tensors of one checkpoint file (safetensors, or a weights-only pickle)."""
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises UnpicklingError, RuntimeError, ... by version
        raise ValueError(f"{path}: not a weights-only checkpoint ({exc})") from exc
    for nested in ("state_dict", "ema", "model"):  # training wrappers
        if isinstance(state, dict) and isinstance(state.get(nested), dict):
            state = state[nested]
    if not isinstance(state, dict) or not all(torch.is_tensor(v) for v in state.values()):
        raise ValueError(f"{path}: expected a dict of tensors (a UNet state dict)")
    return state


def find_checkpoint(path: Path) -> tuple[Path, dict | None]:
    """The weights file and their config (or None) of a file or a diffusers folder."""
    if path.is_file():
        config = path.with_name("config.json")
        return path, json.loads(config.read_text()) if config.is_file() else None
    if (path / "unet").is_dir() and not (path / "config.json").is_file():
        path = path / "unet"
    files = sorted(p for p in path.iterdir() if p.suffix in WEIGHT_SUFFIXES)
    if len(files) != 1:
        names = [p.name for p in files] or "none"
        raise ValueError(
            f"{path}: expected one weights file ({'/'.join(WEIGHT_SUFFIXES)}), found {names}"
        )
    config = path / "config.json"
    return files[0], json.loads(config.read_text()) if config.is_file() else None


def resolve(checkpoint: str | Path, filename: str | None, repo_type: str) -> Path:
    """A local path, or a file/snapshot downloaded from the hub (on the user's machine)."""
    path = Path(checkpoint).expanduser()
    if path.exists():
        return path / filename if filename else path
    if not re.fullmatch(r"[\w.-]+/[\w.-]+", str(checkpoint)):
        raise FileNotFoundError(f"Puppet-Master checkpoint {checkpoint}: no such file or folder")
    import huggingface_hub

    if filename:
        return Path(huggingface_hub.hf_hub_download(str(checkpoint), filename, repo_type=repo_type))
    return Path(huggingface_hub.snapshot_download(str(checkpoint), repo_type=repo_type))


def convert_state_dict(
    state: dict[str, torch.Tensor], model: DragUNetSpatioTemporalModel, strict: bool = True
) -> tuple[dict[str, torch.Tensor], ConversionReport]:
    """Their state dict in our names, checked against ``model``'s keys and shapes."""
    report = ConversionReport()
    expected = {k: (v.shape, v.dtype) for k, v in model.state_dict().items()}
    ours: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        name, drag = rename_key(key)
        if name not in expected:
            report.unused.append(key)
            continue
        if tuple(value.shape) != tuple(expected[name][0]):
            raise ValueError(
                f"checkpoint key {key}: shape {tuple(value.shape)}, our {name} "
                f"expects {tuple(expected[name][0])}"
            )
        ours[name] = value
        report.renamed += drag
        report.kept += not drag
    for name in expected.keys() - ours.keys():
        if not name.startswith("add_embedding."):
            raise ValueError(f"checkpoint lacks {name} (and maybe more): not this network")
        ours[name] = torch.zeros(expected[name][0], dtype=expected[name][1])
        report.filled.append(name)
    report.filled.sort()
    if report.unused and strict:
        raise ValueError("checkpoint keys not consumed: " + ", ".join(report.unused[:10]))
    return ours, report


def load_puppet_master_unet(
    checkpoint: str | Path,
    base_config: dict | None = None,
    filename: str | None = None,
    repo_type: str = "model",
    torch_dtype: torch.dtype | None = None,
    strict: bool = True,
) -> tuple[DragUNetSpatioTemporalModel, ConversionReport]:
    """Our UNet holding the published Puppet-Master weights.

    Args:
        checkpoint: a weights file, a diffusers folder (``config.json`` + one weights
            file, or such a folder's parent with ``unet/``), or a hub id.
        base_config: SVD's UNet config, used when the checkpoint has no config of its
            own (a bare EMA state dict); the drag settings are then read off the shapes.
        filename: a file inside ``checkpoint`` (a folder or hub repository).
        repo_type: the hub repository type ("model" or "space").
        torch_dtype: dtype of the returned model (default: the checkpoint's).
        strict: refuse checkpoint keys that nothing consumes (else only report them).

    Returns:
        The model (in eval mode) and the :class:`ConversionReport`.
    """
    weights, config = find_checkpoint(resolve(checkpoint, filename, repo_type))
    state = read_state_dict(weights)
    if config is None:
        if base_config is None:
            raise ValueError(f"{weights}: no config.json beside it; give SVD's UNet config")
        config = {**config_from_puppet_master(base_config), **infer_drag_config(state)}
    else:
        config = config_from_puppet_master(config)
    with torch.device("meta"):
        model = DragUNetSpatioTemporalModel(**config)
    ours, report = convert_state_dict(state, model, strict)
    model.load_state_dict(ours, assign=True)
    model.set_drag_attn_processors()
    dtype = torch_dtype or next(iter(state.values())).dtype
    if model.dtype != dtype:
        model = model.to(dtype=dtype)  # pyright: ignore[reportCallIssue]
    model.eval()
    logger.info("Puppet-Master checkpoint %s: %s", weights, report.summary())
    return model, report
