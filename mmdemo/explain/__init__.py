"""See why: relevance maps for what a model says about an image, one call per target.

Each call returns an :class:`Explanation` (a float32 map at the image's size, normalised to [0, 1]
with the most relevant patch at 1; the score it explains; the method, model and computation path;
``overlay()`` for a picture):

- :func:`explain_text`: an image-text model's similarity with a text (a zero-shot label, a
  retrieval query); transformers CLIP and open_clip;
- :func:`explain_image_match`: a retrieval hit's similarity with a query image;
- :func:`explain_caption`: each word of a BLIP caption (a :class:`CaptionExplanation`);
- :func:`explain_answer`: a BLIP VQA answer;
- :func:`grad_cam`: a CNN's class score (any ``nn.Module`` and target layer);
- :func:`explain_class`: the offline preset's ConSE model (``offline-conse``): Grad-CAM of an
  ImageNet class (an index, the class nearest a text, or the top class).

Methods (:data:`METHODS`): image towers: ``chefer`` (gradient-weighted attention, Chefer et al.
2021; the default), ``rollout`` (attention rollout, Abnar & Zuidema 2020; gradient-free) and
``gradcam`` (Grad-CAM on the last block's input tokens); BLIP: ``occlusion`` (occlusion
sensitivity, :mod:`~mmdemo.explain.occlusion`; the default for caption words and answers),
``gradcam`` (gradient-weighted cross-attention, as LAVIS) and ``attention`` (raw cross-attention);
CNNs: ``gradcam``. Defaults were chosen by
:mod:`~mmdemo.explain.benchmark` (README, "Explanations"). Models run as a float32 eager-attention copy (:mod:`~mmdemo.explain.copies`); the
app's cached models are not touched. :mod:`~mmdemo.explain.benchmark` measures them.
"""

from mmdemo.explain.blip import BLIP_METHODS, CaptionExplanation, explain_answer, explain_caption
from mmdemo.explain.clip import TOWER_METHODS, explain_image_match, explain_text
from mmdemo.explain.conse import explain_class, top_class
from mmdemo.explain.gradcam import CNN_METHODS, grad_cam
from mmdemo.explain.result import Explanation, overlay

METHODS = {"image-text": TOWER_METHODS, "caption": BLIP_METHODS, "vqa": BLIP_METHODS, "cnn": CNN_METHODS}

__all__ = [
    "BLIP_METHODS",
    "CNN_METHODS",
    "METHODS",
    "TOWER_METHODS",
    "CaptionExplanation",
    "Explanation",
    "explain_answer",
    "explain_caption",
    "explain_class",
    "explain_image_match",
    "explain_text",
    "grad_cam",
    "overlay",
    "top_class",
]
