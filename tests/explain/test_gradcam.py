"""Grad-CAM over any CNN module: it must find the evidence for the class it is asked about."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from mmdemo.errors import ConfigError
from mmdemo.explain import grad_cam


class ColourNet(nn.Module):
    """Class 0 "red" and class 1 "blue": a 1x1 convolution that detects each colour, averaged."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Conv2d(3, 2, kernel_size=1)
        with torch.no_grad():
            self.features.weight.copy_(torch.tensor([[1.0, -1.0, -1.0], [-1.0, -1.0, 1.0]])[:, :, None, None])
            self.features.bias.zero_()
        self.pool = nn.AdaptiveAvgPool2d(1)

    def forward(self, x):
        return self.pool(torch.relu(self.features(x))).flatten(1)


def _picture():
    pixels = np.zeros((32, 48, 3), dtype=np.uint8)
    pixels[4:12, 4:12] = (255, 0, 0)  # red, top left
    pixels[20:28, 36:44] = (0, 0, 255)  # blue, bottom right
    return Image.fromarray(pixels)


def _inputs(picture):
    return torch.from_numpy(np.asarray(picture, dtype=np.float32) / 255).permute(2, 0, 1)[None]


@pytest.mark.parametrize(("class_index", "inside"), [(0, (4, 12, 4, 12)), (1, (20, 28, 36, 44))])
def test_grad_cam_peaks_on_the_class_evidence(class_index, inside):
    net = ColourNet().eval()
    picture = _picture()
    result = grad_cam(net, net.features, _inputs(picture), class_index, image=picture, label="colour")
    assert result.relevance.shape == (32, 48) and result.relevance.dtype == np.float32
    x, y = result.peak
    top, bottom, left, right = inside
    assert left <= x < right and top <= y < bottom
    with torch.no_grad():
        assert result.score == pytest.approx(float(net(_inputs(picture))[0, class_index]))
    assert result.method == "gradcam" and result.score_kind == "logit"
    assert all(p.grad is None for p in net.parameters())  # the module's own state is untouched


def test_grad_cam_defaults_to_the_top_class_on_a_torchvision_cnn():
    from torchvision.models import resnet18

    torch.manual_seed(0)
    net = resnet18(num_classes=5).eval()
    inputs = torch.rand(1, 3, 64, 64)
    result = grad_cam(net, net.layer4, inputs)
    assert result.relevance.shape == (64, 64) and result.grid.shape == (2, 2)
    assert result.target == f"class {int(net(inputs)[0].argmax())}"


def test_grad_cam_failure_paths():
    net = ColourNet().eval()
    inputs = _inputs(_picture())
    with pytest.raises(ConfigError, match="out of range; valid: 0 to 1"):
        grad_cam(net, net.features, inputs, 7)
    with pytest.raises(ConfigError, match="not a submodule"):
        grad_cam(net, nn.Conv2d(3, 2, 1), inputs, 0)
    flat = nn.Sequential(nn.Conv2d(3, 2, 1), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2, 2))
    with pytest.raises(ConfigError, match=r"\[1, K, h, w\] feature map"):
        grad_cam(flat, flat[2], inputs, 0)
    with pytest.raises(ConfigError, match=r"one image batch"):
        grad_cam(net, net.features, torch.cat([inputs, inputs]), 0)


def test_grad_cam_on_a_timm_efficientnet_lite0():
    timm = pytest.importorskip("timm")
    torch.manual_seed(0)
    net = timm.create_model("efficientnet_lite0", pretrained=False, num_classes=4).eval()
    inputs = torch.rand(1, 3, 64, 64)
    result = grad_cam(net, net.conv_head, inputs, 2, label="third")
    assert result.relevance.shape == (64, 64) and result.grid.shape == (2, 2)
    assert result.target == "class 2 (third)" and result.model == "EfficientNet"
