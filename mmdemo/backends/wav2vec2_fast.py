"""A time-major wav2vec2 feature encoder: the same convolutions computed as matrix products.

transformers' ``Wav2Vec2FeatureEncoder`` runs seven ``Conv1d`` layers on channel-major activations
``[B, C, T]``. On CPU, oneDNN first copies each activation into a channel-last layout (a slow
strided transpose of up to 512 x 32,000 values) and runs the first layer (one input channel,
kernel 10) through a convolution kernel that is poor at a single channel. Together that was about
half of the encoder's time in bfloat16 (``python -m mmdemo bench``).

:class:`TimeMajorFeatureEncoder` keeps activations time-major ``[B, T, C]``. A convolution with
kernel ``k`` and stride ``s`` is then one matrix product: the ``k`` consecutive rows of a window
are contiguous in memory, so the windows are an ``as_strided`` view ``[B, T', k*C]`` and the
weight ``[C_out, C_in, k]`` becomes ``[C_out, k*C_in]``. The result equals the original to float
rounding (the tests check it), with the same parameters under the same names, so checkpoints load
and save unchanged. Only plain convolutions (no padding, dilation or groups) are supported:
:func:`supports_time_major` says whether a model qualifies.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


GRAM_LIMIT = 64  # a group-normed layer's k*C_in must not exceed this (wav2vec2: 10)


def _plain_conv(conv: nn.Module) -> bool:
    return (
        isinstance(conv, nn.Conv1d)
        and conv.padding == (0,)
        and conv.dilation == (1,)
        and conv.groups == 1
        and conv.padding_mode == "zeros"
    )


def _supported_layer(layer: nn.Module) -> bool:
    conv = getattr(layer, "conv", None)
    norm = getattr(layer, "layer_norm", None)
    if not _plain_conv(conv) or not callable(getattr(layer, "activation", None)):
        return False
    if norm is None or isinstance(norm, nn.LayerNorm):
        return True
    # wav2vec2's group norm has one group per channel (a per-channel norm over time), on the first
    # layer only, whose windows are short (kernel 10, one channel): its statistics come from the
    # windows' small covariance matrix.
    return (
        isinstance(norm, nn.GroupNorm)
        and norm.num_groups == norm.num_channels
        and norm.affine
        and conv.kernel_size[0] * conv.in_channels <= GRAM_LIMIT
    )


def supports_time_major(encoder: nn.Module) -> bool:
    """True when every layer of ``encoder`` (a Wav2Vec2FeatureEncoder) can run time-major."""
    layers = getattr(encoder, "conv_layers", None)
    if not isinstance(layers, nn.ModuleList) or len(layers) == 0:
        return False
    return all(_supported_layer(layer) for layer in layers)


def _window_blocks(x: torch.Tensor, kernel: int, stride: int) -> list[tuple[torch.Tensor, slice]]:
    """Time-major ``x`` [T, C] as windows of ``kernel`` rows every ``stride`` rows, in blocks.

    Returns (view [T', r*C], columns of the flattened [k*C] window it covers) pairs. Each block
    takes at most ``stride`` consecutive rows per window, so its rows never overlap and it is a
    plain strided view (leading dimension ``stride*C``) that matrix products read without a copy.
    """
    steps, channels = x.shape
    out_steps = (steps - kernel) // stride + 1
    blocks = []
    for first in range(0, kernel, stride):
        rows = min(stride, kernel - first)
        view = x.as_strided((out_steps, rows * channels), (stride * channels, 1), x.storage_offset() + first * channels)
        blocks.append((view, slice(first * channels, (first + rows) * channels)))
    return blocks


def _conv_row(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, kernel: int, stride: int) -> torch.Tensor:
    """One clip's convolution: ``x`` [T, C_in] (contiguous), ``weight`` [C_out, k*C_in] -> [T', C_out]."""
    out = None
    for view, columns in _window_blocks(x, kernel, stride):
        part = weight[:, columns].t()  # [r*C_in, C_out]
        if out is None:
            out = torch.addmm(bias, view, part) if bias is not None else torch.mm(view, part)
        else:
            out = torch.addmm(out, view, part)
    return out


def _flat_weight(conv: nn.Conv1d) -> torch.Tensor:
    """[C_out, C_in, k] -> [C_out, k*C_in], matching windows flattened time-major."""
    return conv.weight.permute(0, 2, 1).reshape(conv.out_channels, -1)


def conv1d_time_major(x: torch.Tensor, conv: nn.Conv1d) -> torch.Tensor:
    """``conv`` applied to time-major ``x`` [B, T, C_in] -> [B, T', C_out]."""
    kernel, stride = conv.kernel_size[0], conv.stride[0]
    if x.shape[1] < kernel:
        raise ValueError(f"Audio too short for the feature encoder: {x.shape[1]} steps, kernel {kernel}")
    x = x.contiguous()
    weight = _flat_weight(conv)
    rows = [_conv_row(x[i], weight, conv.bias, kernel, stride) for i in range(x.shape[0])]
    return rows[0].unsqueeze(0) if len(rows) == 1 else torch.stack(rows)  # [B, T', C_out]


def conv1d_group_norm_time_major(x: torch.Tensor, conv: nn.Conv1d, norm: nn.GroupNorm) -> torch.Tensor:
    """``norm(conv(x))`` for a per-channel GroupNorm, as one matrix product per clip.

    A channel's output is ``w.u + b`` over windows ``u``; its mean over time is ``w.mean(u) + b``
    and its variance ``w' Cov(u) w``, where ``Cov(u)`` is the windows' [k*C_in, k*C_in]
    covariance (10 x 10 for wav2vec2), computed in float32. The norm's scale and shift are then
    folded into the convolution's weight and bias, so the large activation is written once.
    """
    kernel, stride = conv.kernel_size[0], conv.stride[0]
    x = x.contiguous()
    dtype = conv.weight.dtype  # the product runs in the weights' dtype (autocast may lower it)
    weight = _flat_weight(conv).float()  # [C_out, k*C_in]
    bias = conv.bias.float() if conv.bias is not None else torch.zeros(conv.out_channels, device=x.device)
    rows = []
    for i in range(x.shape[0]):
        steps = (x.shape[1] - kernel) // stride + 1
        windows = x[i].as_strided((steps, kernel * x.shape[2]), (stride * x.shape[2], 1)).float()  # [T', k*C_in]
        mean_u = windows.mean(dim=0)  # [k*C_in]
        centred = windows - mean_u
        cov = centred.t() @ centred / steps  # [k*C_in, k*C_in]
        mean_y = weight @ mean_u + bias  # [C_out]
        var_y = ((weight @ cov) * weight).sum(dim=1).clamp(min=0.0)  # [C_out]
        scale = torch.rsqrt(var_y + norm.eps) * norm.weight.float()
        folded_bias = (bias - mean_y) * scale + norm.bias.float()
        folded_weight = (weight * scale[:, None]).t().to(dtype)  # [k*C_in, C_out]
        rows.append(torch.addmm(folded_bias.to(dtype), windows.to(dtype), folded_weight))  # [T', C_out]
    return rows[0].unsqueeze(0) if len(rows) == 1 else torch.stack(rows)  # [B, T', C_out]


class TimeMajorFeatureEncoder(nn.Module):
    """Drop-in replacement for a ``Wav2Vec2FeatureEncoder`` (same parameters and output).

    ``forward(input_values [B, S]) -> [B, C, T]`` like the original; the returned tensor is a
    transposed view of a time-major result, so the model's next ``transpose(1, 2)`` is free.
    """

    def __init__(self, encoder: nn.Module) -> None:
        super().__init__()
        if not supports_time_major(encoder):
            raise ValueError("This feature encoder has convolutions the time-major path does not support")
        self.conv_layers = encoder.conv_layers
        self.gradient_checkpointing = False
        self._requires_grad = getattr(encoder, "_requires_grad", True)

    def _freeze_parameters(self) -> None:
        for param in self.parameters():
            param.requires_grad = False
        self._requires_grad = False

    def forward(self, input_values: torch.Tensor) -> torch.Tensor:
        hidden = input_values[:, :, None]  # [B, S] -> [B, S, 1]
        for layer in self.conv_layers:
            norm = getattr(layer, "layer_norm", None)
            if isinstance(norm, nn.GroupNorm):
                hidden = conv1d_group_norm_time_major(hidden, layer.conv, norm)  # [B, T', C_out]
            else:
                hidden = conv1d_time_major(hidden, layer.conv)  # [B, T', C_out]
                if norm is not None:
                    hidden = norm(hidden)  # LayerNorm over channels: the last dim here
            hidden = layer.activation(hidden)
        return hidden.transpose(1, 2)  # [B, T, C] -> [B, C, T] (a view)


def use_time_major_encoder(model: nn.Module) -> bool:
    """Swap ``model.feature_extractor`` (a wav2vec2 model's) for the time-major one, if it qualifies.

    Works on ``Wav2Vec2Model`` and on models that wrap one as ``.wav2vec2`` (``Wav2Vec2ForCTC``).
    Returns whether the swap happened.
    """
    base = getattr(model, "wav2vec2", model)
    encoder = getattr(base, "feature_extractor", None)
    if isinstance(encoder, TimeMajorFeatureEncoder):
        return True
    if encoder is None or not supports_time_major(encoder):
        return False
    base.feature_extractor = TimeMajorFeatureEncoder(encoder)
    return True
