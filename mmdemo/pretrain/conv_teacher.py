"""A convolutional teacher for BLIP's vision tower: EfficientNet-Lite0's stride-16 feature map.

A small vision transformer trained from scratch on a few thousand CPU steps learns the colour of a
shape anywhere, but the *kind* of a shape drawn at a free place and scale only slowly: it has no
notion of local edges and corners that a convolution has built in (issue 16; the README's probe
table). EfficientNet-Lite0 with ImageNet weights ships in a pip package (the offline preset's
classifier, :func:`mmdemo.backends.conse_backend.load_classifier`), and its early feature maps know
edges, corners and curves of any picture, the varied drawings included, which a CLIP trained on
the plain world does not. So the tower's patch tokens regress, through a linear map dropped after
training, the layer-normalised 112-channel map after the stem and the first five blocks (stride 16:
6x6 cells for a 96x96 input), pooled to the tower's patch grid.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
TEACHER_BLOCKS = 5  # stem + blocks[0..4]: stride 16, 112 channels
TEACHER_CHANNELS = 112


class ConvTeacher(nn.Module):
    """Frozen EfficientNet-Lite0 stem and first blocks: uint8 images [B, 3, S, S] -> targets [B, grid**2, 112].

    ``classifier``: a timm ``efficientnet_lite0`` (its weights are not changed; gradients never flow).
    """

    def __init__(self, classifier: nn.Module) -> None:
        super().__init__()
        self.stem = nn.Sequential(classifier.conv_stem, classifier.bn1)
        self.blocks = nn.Sequential(*list(classifier.blocks)[:TEACHER_BLOCKS])
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> ConvTeacher:
        return super().train(False)  # batch norm stays in inference mode

    @torch.no_grad()
    def forward(self, images: torch.Tensor, grid: int) -> torch.Tensor:
        """Targets for a tower with a ``grid`` x ``grid`` patch grid, row-major like its patch tokens."""
        x = (images.float() / 255.0 - self.mean) / self.std  # [B, 3, S, S]
        features = self.blocks(self.stem(x))  # [B, 112, S/16, S/16]
        features = F.adaptive_avg_pool2d(features, grid)  # [B, 112, grid, grid]
        tokens = features.flatten(2).transpose(1, 2)  # [B, grid * grid, 112]
        return F.layer_norm(tokens, tokens.shape[-1:])


def load_conv_teacher() -> ConvTeacher:
    """The teacher from the offline preset's EfficientNet-Lite0 weights (the pip package's, or the
    preset's local folder); raises :class:`~mmdemo.errors.ModelUnavailableError` when they are missing."""
    from mmdemo.backends.conse_backend import load_classifier
    from mmdemo.registry import get_model_spec

    return ConvTeacher(load_classifier(get_model_spec("offline-conse"), torch.device("cpu")))
