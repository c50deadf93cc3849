"""The drag-conditioned spatio-temporal UNet (Puppet-Master on diffusers' SVD UNet).

:class:`DragUNetSpatioTemporalModel` is diffusers' ``UNetSpatioTemporalConditionModel``
(same modules, same state-dict keys, so SVD weights load unchanged) plus three drag
injections (README.md, "Generators"):

1. **Modulation.** In every down/up block with cross-attention, after each ResNet,
   ``h = h * (1 + scale) + shift`` where (scale, shift) come from the drag maps at that
   resolution through a conv encoder and a per-ResNet zero-initialised conv.
   The mid block is not modulated.
2. **Drag tokens.** Before every spatial transformer with cross-attention the detached
   features at each drag's start and current position, with sin-cos embeddings of both
   points, go through an MLP to one token per drag, appended to the CLIP token.
3. **All-to-first attention** in every spatial self-attention (temporal attention is
   unchanged).

``drag_variant`` picks between this project's layout and the published Puppet-Master
network (``drag_modules.VARIANTS``: per-block or per-ResNet encoders, how positions are
embedded, masked or zero empty tokens, mid-block tokens, what the temporal
cross-attention reads). Drags enter ``forward`` as normalised trajectories (see
``drag_maps``) with a slot mask.
"""

# The UNet's blocks are reached through nn.Module attributes, which torch types as
# ``Tensor | Module``, and through diffusers' untyped config: pyright cannot follow them.
# pyright: reportAttributeAccessIssue=false, reportIndexIssue=false
# pyright: reportGeneralTypeIssues=false, reportArgumentType=false, reportCallIssue=false
# pyright: reportReturnType=false

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence

import torch
import torch.nn as nn
from diffusers.configuration_utils import register_to_config

# Imported for diffusers' loader: DiffusionPipeline.from_pretrained finds a custom
# component's load method by looking up base classes (ModelMixin) in its module.
from diffusers.models.modeling_utils import ModelMixin  # noqa: F401
from diffusers.models.transformers.transformer_temporal import TransformerSpatioTemporalModel
from diffusers.models.unets.unet_spatio_temporal_condition import (
    UNetSpatioTemporalConditionModel,
    UNetSpatioTemporalConditionOutput,
)
from diffusers.utils.torch_utils import maybe_adjust_dtype_for_device

from partdrag4d.generator.attention import AllToFirstAttnProcessor, DragCrossAttnProcessor
from partdrag4d.generator.drag_maps import CHANNELS_PER_DRAG
from partdrag4d.generator.drag_modules import (
    DragMapEncoder,
    DragTokenizer,
    drag_inputs,
    encoder_channels,
    variant_named,
    zero_conv,
)
from partdrag4d.generator.drag_transformer import transformer_forward


class DragUNetSpatioTemporalModel(UNetSpatioTemporalConditionModel):
    r"""SVD's spatio-temporal UNet with drag modulation, drag tokens and all-to-first attention.

    Parameters (in addition to ``UNetSpatioTemporalConditionModel``'s):
        num_drags (`int`, defaults to 5): K, drag slots per clip.
        drag_encoder_channels (`tuple[int]`, defaults to `(256, 320, 320)`): channels of
            the 3x3 conv stack reading the drag maps in each modulated block.
        drag_pos_embed_dim (`int`, defaults to 64): sin-cos embedding size per point.
        drag_variant (`str`, defaults to `"partdrag4d"`): the layout of the drag modules,
            `"partdrag4d"` or `"puppet_master"` (the published checkpoint's network).
    """

    @register_to_config
    def __init__(
        self,
        sample_size: int | None = None,
        in_channels: int = 8,
        out_channels: int = 4,
        down_block_types: Sequence[str] = (
            "CrossAttnDownBlockSpatioTemporal",
            "CrossAttnDownBlockSpatioTemporal",
            "CrossAttnDownBlockSpatioTemporal",
            "DownBlockSpatioTemporal",
        ),
        up_block_types: Sequence[str] = (
            "UpBlockSpatioTemporal",
            "CrossAttnUpBlockSpatioTemporal",
            "CrossAttnUpBlockSpatioTemporal",
            "CrossAttnUpBlockSpatioTemporal",
        ),
        block_out_channels: Sequence[int] = (320, 640, 1280, 1280),
        addition_time_embed_dim: int = 256,
        projection_class_embeddings_input_dim: int = 768,
        layers_per_block: int | Sequence[int] = 2,
        cross_attention_dim: int | Sequence[int] = 1024,
        transformer_layers_per_block: int | Sequence = 1,
        num_attention_heads: int | Sequence[int] = (5, 10, 20, 20),
        num_frames: int = 25,
        num_drags: int = 5,
        drag_encoder_channels: Sequence[int] = (256, 320, 320),
        drag_pos_embed_dim: int = 64,
        drag_variant: str = "partdrag4d",
    ):
        super().__init__(
            sample_size=sample_size,
            in_channels=in_channels,
            out_channels=out_channels,
            down_block_types=tuple(down_block_types),
            up_block_types=tuple(up_block_types),
            block_out_channels=tuple(block_out_channels),
            addition_time_embed_dim=addition_time_embed_dim,
            projection_class_embeddings_input_dim=projection_class_embeddings_input_dim,
            layers_per_block=layers_per_block,
            cross_attention_dim=cross_attention_dim,
            transformer_layers_per_block=transformer_layers_per_block,
            num_attention_heads=num_attention_heads,
            num_frames=num_frames,
        )
        self.variant = variant = variant_named(drag_variant)
        map_channels = CHANNELS_PER_DRAG * num_drags
        widths = encoder_channels(drag_encoder_channels, variant.encoder_per_layer)
        self.drag_encoders = nn.ModuleDict()
        self.drag_modulations = nn.ModuleDict()
        self.drag_tokenizers = nn.ModuleDict()

        def token_dim(transformer: TransformerSpatioTemporalModel) -> int:
            return transformer.transformer_blocks[0].attn2.to_k.in_features

        def tokenizers(attentions: nn.ModuleList) -> nn.ModuleList:
            return nn.ModuleList(
                DragTokenizer(
                    a.in_channels, drag_pos_embed_dim, token_dim(a), variant.feature_padding
                )
                for a in attentions
            )

        for prefix, blocks in (("down", self.down_blocks), ("up", self.up_blocks)):
            for i, block in enumerate(blocks):
                if not getattr(block, "has_cross_attention", False):
                    continue
                key = f"{prefix}_{i}"
                if variant.encoder_per_layer:
                    self.drag_encoders[key] = nn.ModuleList(
                        DragMapEncoder(map_channels, widths) for _ in block.resnets
                    )
                else:
                    self.drag_encoders[key] = DragMapEncoder(map_channels, widths)
                self.drag_modulations[key] = nn.ModuleList(
                    zero_conv(widths[-1], 2 * r.spatial_res_block.conv2.out_channels)
                    for r in block.resnets
                )
                self.drag_tokenizers[key] = tokenizers(block.attentions)
        if variant.mid_block_tokens:
            self.drag_tokenizers["mid"] = tokenizers(self.mid_block.attentions)
        self.set_drag_attn_processors()

    # ------------------------------------------------------------------ construction

    def set_drag_attn_processors(self) -> None:
        """All-to-first on spatial attn1, masked cross-attention on spatial attn2."""
        processors = {}
        for name, proc in self.attn_processors.items():
            spatial = ".transformer_blocks." in name
            if spatial and name.endswith("attn1.processor"):
                processors[name] = AllToFirstAttnProcessor()
            elif spatial and name.endswith("attn2.processor"):
                processors[name] = DragCrossAttnProcessor()
            else:
                processors[name] = proc
        self.set_attn_processor(processors)

    @classmethod
    def from_unet(
        cls,
        unet: UNetSpatioTemporalConditionModel,
        num_drags: int = 5,
        drag_encoder_channels: Sequence[int] = (256, 320, 320),
        drag_pos_embed_dim: int = 64,
    ) -> DragUNetSpatioTemporalModel:
        """A drag UNet holding ``unet``'s weights and zero-initialised drag modulation.

        The fine-tuning starting point: with no drags its output equals ``unet``'s with
        all-to-first spatial attention.

        Args:
            unet: a (pretrained) SVD UNet.
            num_drags: K, drag slots.
            drag_encoder_channels: drag map encoder channels.
            drag_pos_embed_dim: sin-cos embedding size per point.

        Returns:
            The drag UNet on ``unet``'s device and dtype.
        """
        params = inspect.signature(UNetSpatioTemporalConditionModel.__init__).parameters
        config = {k: v for k, v in unet.config.items() if k in params and k != "self"}
        model = cls(
            **config,
            num_drags=num_drags,
            drag_encoder_channels=tuple(drag_encoder_channels),
            drag_pos_embed_dim=drag_pos_embed_dim,
        )
        missing, unexpected = model.load_state_dict(unet.state_dict(), strict=False)
        not_drag = [k for k in missing if not k.startswith("drag_")]
        if unexpected or not_drag:
            raise ValueError(
                f"from_unet: state dicts do not match (unexpected {unexpected[:5]}, "
                f"missing non-drag {not_drag[:5]})"
            )
        model = model.to(device=unet.device)
        if unet.dtype != model.dtype:
            model = model.to(dtype=unet.dtype)
        return model

    # ------------------------------------------------------------------ forward pieces

    def _modulate(
        self,
        key: str,
        index: int,
        hidden_states: torch.Tensor,
        encoded: dict,
        cache: dict,
        maps_at: Callable[[int, int], torch.Tensor],
    ) -> torch.Tensor:
        """``h * (1 + scale) + shift``; (1 + scale, shift) depend on the drags only, so they
        are kept in ``cache`` (reused by later denoising steps when the caller keeps it)."""
        mod = cache.get((key, index))
        if mod is None:
            per_layer = self.variant.encoder_per_layer
            enc_key = (key, index) if per_layer else key
            if enc_key not in encoded:
                encoder = self.drag_encoders[key][index] if per_layer else self.drag_encoders[key]
                encoded[enc_key] = encoder(maps_at(*hidden_states.shape[-2:]))
            scale, shift = self.drag_modulations[key][index](encoded[enc_key]).chunk(2, dim=1)
            mod = cache[(key, index)] = (1 + scale, shift)
        return torch.addcmul(mod[1], hidden_states, mod[0])

    def _transformer(
        self,
        transformer: TransformerSpatioTemporalModel,
        tokenizer: DragTokenizer | None,
        hidden_states: torch.Tensor,
        clip_context: torch.Tensor,
        tokens_at: Callable[[DragTokenizer, torch.Tensor], tuple] | None,
        image_only_indicator: torch.Tensor,
    ) -> torch.Tensor:
        """One spatio-temporal transformer; with a tokenizer (and drags) its spatial
        cross-attention reads [CLIP token, drag tokens]."""
        if tokenizer is None or tokens_at is None:
            context, bias = clip_context, None
        else:
            tokens, bias = tokens_at(tokenizer, hidden_states)
            context = torch.cat([clip_context, tokens.to(clip_context.dtype)], dim=1)
        # SVD's temporal cross-attention reads the first frame's CLIP token; Puppet-Master's
        # reads that frame's whole context, its drag tokens included.
        temporal = context if self.variant.temporal_drag_tokens else clip_context
        return transformer_forward(
            transformer, hidden_states, context, bias, temporal, image_only_indicator
        )

    def _resnet(self, block: nn.Module, resnet: nn.Module, h, emb, indicator) -> torch.Tensor:
        if torch.is_grad_enabled() and block.gradient_checkpointing:
            return block._gradient_checkpointing_func(resnet, h, emb, indicator)
        return resnet(h, emb, image_only_indicator=indicator)

    # ------------------------------------------------------------------ forward

    def forward(
        self,
        sample: torch.Tensor,
        timestep: torch.Tensor | float | int,
        encoder_hidden_states: torch.Tensor,
        added_time_ids: torch.Tensor,
        drags: torch.Tensor | None = None,
        drag_mask: torch.Tensor | None = None,
        return_dict: bool = True,
        drag_cache: dict | None = None,
    ) -> UNetSpatioTemporalConditionOutput | tuple:
        r"""Denoise a clip given the first-frame conditioning and drags.

        Args:
            sample: (B, T, C_in, h, w) noisy latents concatenated with the first-frame latent.
            timestep: the noise level conditioning (SVD: c_noise = log(sigma) / 4).
            encoder_hidden_states: (B, 1, cross_attention_dim) CLIP image embedding.
            added_time_ids: (B, 3) fps, motion bucket, noise augmentation.
            drags: (B, T, K, 2) normalised drag trajectories (K = ``num_drags``), or None
                for no drag tokens (drag maps all -1).
            drag_mask: (B, K) bool, which slots hold a drag (required with ``drags``).
            return_dict: return a ``UNetSpatioTemporalConditionOutput``.
            drag_cache: a dict kept by the caller across calls with the *same* drags,
                mask and sample shape (the denoising steps of one sampling run, under
                ``torch.no_grad``): the drag modulation (scale, shift) and the token
                position embeddings, which depend on the drags only, are computed on the
                first call and reused. Not for training (the weights change between
                calls). None: nothing is kept.

        Returns:
            The (B, T, C_out, h, w) prediction.
        """
        batch_size, num_frames = sample.shape[:2]
        K = self.config.num_drags
        if drags is not None:
            if drag_mask is None:
                raise ValueError("drags given without drag_mask")
            if tuple(drags.shape) != (batch_size, num_frames, K, 2):
                raise ValueError(
                    f"drags must have shape {(batch_size, num_frames, K, 2)}, "
                    f"got {tuple(drags.shape)}"
                )
            if tuple(drag_mask.shape) != (batch_size, K):
                raise ValueError(f"drag_mask must have shape {(batch_size, K)}")
            drag_mask = drag_mask.bool()
        if drags is None and not self.variant.mask_empty_tokens:
            # Puppet-Master's network always reads K tokens: no drags = K empty slots.
            drags = sample.new_zeros(batch_size, num_frames, K, 2)
            drag_mask = torch.zeros(batch_size, K, dtype=torch.bool, device=sample.device)

        default_overall_up_factor = 2**self.num_upsamplers
        forward_upsample_size = any(s % default_overall_up_factor != 0 for s in sample.shape[-2:])
        upsample_size = None

        # 1. time (as UNetSpatioTemporalConditionModel.forward)
        timesteps = timestep
        if not torch.is_tensor(timesteps):
            dtype = maybe_adjust_dtype_for_device(
                torch.float64 if isinstance(timestep, float) else torch.int64, sample.device
            )
            timesteps = torch.tensor([timesteps], dtype=dtype, device=sample.device)
        elif len(timesteps.shape) == 0:
            timesteps = timesteps[None].to(sample.device)
        timesteps = timesteps.expand(batch_size)
        emb = self.time_embedding(self.time_proj(timesteps).to(dtype=sample.dtype))
        time_embeds = self.add_time_proj(added_time_ids.flatten()).reshape((batch_size, -1))
        emb = emb + self.add_embedding(time_embeds.to(emb.dtype))

        sample = sample.flatten(0, 1)
        emb = emb.repeat_interleave(num_frames, dim=0, output_size=emb.shape[0] * num_frames)
        clip_context = encoder_hidden_states.repeat_interleave(
            num_frames, dim=0, output_size=encoder_hidden_states.shape[0] * num_frames
        )

        # Every drag-only quantity lives in `cache` (the caller's when given, see drag_cache).
        cache = drag_cache if drag_cache is not None else {}
        signature = (tuple(sample.shape), num_frames, drags is not None)
        if cache.setdefault("signature", signature) != signature:
            raise ValueError("drag_cache was filled by a call with other inputs; use a new dict")
        maps_at, tokens_at = drag_inputs(
            self.variant,
            K,
            self.config.drag_pos_embed_dim,
            drags,
            drag_mask,
            sample,
            batch_size,
            cache,
        )
        encoded: dict = {}

        def transformer(tokenizer, attn, h):
            return self._transformer(
                attn, tokenizer, h, clip_context, tokens_at, image_only_indicator
            )

        # 2. pre-process
        sample = self.conv_in(sample)
        image_only_indicator = torch.zeros(
            batch_size, num_frames, dtype=sample.dtype, device=sample.device
        )

        # 3. down
        down_block_res_samples = (sample,)
        for i, block in enumerate(self.down_blocks):
            if not getattr(block, "has_cross_attention", False):
                sample, res = block(
                    hidden_states=sample, temb=emb, image_only_indicator=image_only_indicator
                )
                down_block_res_samples += res
                continue
            key = f"down_{i}"
            for j, (resnet, attn) in enumerate(zip(block.resnets, block.attentions, strict=True)):
                sample = self._resnet(block, resnet, sample, emb, image_only_indicator)
                sample = self._modulate(key, j, sample, encoded, cache, maps_at)
                sample = transformer(self.drag_tokenizers[key][j], attn, sample)
                down_block_res_samples += (sample,)
            if block.downsamplers is not None:
                for downsampler in block.downsamplers:
                    sample = downsampler(sample)
                down_block_res_samples += (sample,)

        # 4. mid (not modulated; drag tokens and all-to-first still apply)
        mid = self.mid_block
        sample = self._resnet(mid, mid.resnets[0], sample, emb, image_only_indicator)
        for j, (attn, resnet) in enumerate(zip(mid.attentions, mid.resnets[1:], strict=True)):
            tokenizer = self.drag_tokenizers["mid"][j] if "mid" in self.drag_tokenizers else None
            sample = transformer(tokenizer, attn, sample)
            sample = self._resnet(mid, resnet, sample, emb, image_only_indicator)

        # 5. up
        for i, block in enumerate(self.up_blocks):
            is_final_block = i == len(self.up_blocks) - 1
            res_samples = down_block_res_samples[-len(block.resnets) :]
            down_block_res_samples = down_block_res_samples[: -len(block.resnets)]
            if not is_final_block and forward_upsample_size:
                upsample_size = down_block_res_samples[-1].shape[2:]
            if not getattr(block, "has_cross_attention", False):
                sample = block(
                    hidden_states=sample,
                    temb=emb,
                    res_hidden_states_tuple=res_samples,
                    upsample_size=upsample_size,
                    image_only_indicator=image_only_indicator,
                )
                continue
            key = f"up_{i}"
            for j, (resnet, attn) in enumerate(zip(block.resnets, block.attentions, strict=True)):
                sample = torch.cat([sample, res_samples[-1]], dim=1)
                res_samples = res_samples[:-1]
                sample = self._resnet(block, resnet, sample, emb, image_only_indicator)
                sample = self._modulate(key, j, sample, encoded, cache, maps_at)
                sample = transformer(self.drag_tokenizers[key][j], attn, sample)
            if block.upsamplers is not None:
                for upsampler in block.upsamplers:
                    sample = upsampler(sample, upsample_size)

        # 6. post-process
        sample = self.conv_out(self.conv_act(self.conv_norm_out(sample)))
        sample = sample.reshape(batch_size, num_frames, *sample.shape[1:])
        if not return_dict:
            return (sample,)
        return UNetSpatioTemporalConditionOutput(sample=sample)
