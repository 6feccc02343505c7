"""Grad-CAM (Selvaraju et al., ICCV 2017) for any CNN: an ``nn.Module``, a target layer, a class.

The target layer's output feature maps ``A_k`` ``[K, h, w]`` are weighted by the class logit's
gradient averaged over space, ``w_k = mean(d logit / d A_k)``; the map is ``relu(sum_k w_k A_k)``.
Works with torchvision and timm CNNs (e.g. the last convolutional stage: ``model.layer4`` of a
ResNet, ``model.conv_head`` or ``model.blocks[-1]`` of a timm EfficientNet). The module is run as
it is (its mode and weights untouched); only the activation's gradient is computed.
"""

from __future__ import annotations

import torch
from PIL import Image
from torch import nn

from mmdemo.errors import ConfigError
from mmdemo.explain.result import Box, Explanation
from mmdemo.media import ImageInput, load_image

CNN_METHODS = ("gradcam",)


def grad_cam(
    module: nn.Module,
    target_layer: nn.Module,
    inputs: torch.Tensor,
    class_index: int | None = None,
    *,
    image: ImageInput | None = None,
    box: Box | None = None,
    label: str | None = None,
    model_name: str | None = None,
) -> Explanation:
    """Grad-CAM of ``module``'s logit ``class_index`` (None: the top class) for ``inputs``.

    Args:
        module: the classifier, returning logits ``[1, classes]``.
        target_layer: a submodule of ``module`` whose output is a ``[1, K, h, w]`` feature map.
        inputs: the preprocessed image batch of one ``[1, C, H, W]``.
        image: the picture ``inputs`` came from (the map gets its size; :meth:`overlay` draws on
            it); None: a grey picture of the input's size.
        box: the region of ``image`` the transform kept (a centre crop); None: all of it.
        label: the class's name, for the target description.
        model_name: a name for the model in the result.
    """
    if not any(part is target_layer for part in module.modules()):
        raise ConfigError(f"target_layer {type(target_layer).__name__} is not a submodule of {type(module).__name__}")
    if inputs.dim() != 4 or inputs.shape[0] != 1:
        raise ConfigError(f"inputs must be one image batch [1, C, H, W], got shape {list(inputs.shape)}")
    picture = load_image(image) if image is not None else Image.new("RGB", (inputs.shape[-1], inputs.shape[-2]), (128, 128, 128))
    captured: dict[str, torch.Tensor] = {}
    hook = target_layer.register_forward_hook(lambda _m, _i, output: captured.__setitem__("maps", output))
    try:
        with torch.enable_grad():
            logits = module(inputs.detach().clone().requires_grad_(True))
            if logits.dim() != 2 or logits.shape[0] != 1:
                raise ConfigError(f"module must return logits [1, classes], got shape {list(logits.shape)}")
            classes = logits.shape[1]
            chosen = int(logits[0].argmax()) if class_index is None else int(class_index)
            if not 0 <= chosen < classes:
                raise ConfigError(f"class_index {class_index} is out of range; valid: 0 to {classes - 1}")
            maps = captured.get("maps")
            if not isinstance(maps, torch.Tensor) or maps.dim() != 4:
                raise ConfigError(
                    f"target_layer {type(target_layer).__name__} must output a [1, K, h, w] feature map"
                )
            score = logits[0, chosen]
            (grad,) = torch.autograd.grad(score, [maps])
    finally:
        hook.remove()
    weights = grad[0].float().mean(dim=(1, 2))  # [K]
    patches = (weights[:, None, None] * maps.detach()[0].float()).sum(dim=0).clamp(min=0)  # [h, w]
    return Explanation.from_patches(
        patches, picture, box=box, score=score, method="gradcam",
        target=f"class {chosen}" + (f" ({label})" if label else ""), score_kind="logit",
        model=model_name or type(module).__name__,
        path=f"the module as given ({type(module).__name__}), {inputs.dtype}".replace("torch.", ""),
    )
