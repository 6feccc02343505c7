"""Explain an image-text model's image embedding: toward a text, or toward another image.

Both targets are one number on one forward pass of the image tower (float32, eager attention; see
:mod:`~mmdemo.explain.copies`): the cosine similarity between the image's embedding and a fixed
target embedding (a text's, or a query image's for an image-to-image retrieval hit). The methods
read the tower's attention maps and their gradients with respect to that similarity
(:mod:`~mmdemo.explain.attention`). transformers CLIP and open_clip run through one adapter each.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from mmdemo.errors import ConfigError, IncompatibleError
from mmdemo.explain import attention as rules
from mmdemo.explain.copies import eager_copy, path_of
from mmdemo.explain.result import Box, Explanation, centre_crop_box, check_method
from mmdemo.loading import LoadedModel
from mmdemo.media import ImageInput, MediaLimits, clean_text, load_image
from mmdemo.registry import ModelSpec, resolve_spec

TOWER_METHODS = ("chefer", "rollout", "gradcam")
DEFAULT_TOWER_METHOD = "chefer"  # best localisation on the bundled scenes (README, "Explanations")


@dataclass
class TowerPass:
    """One differentiable pass of an image tower, for one image."""

    embedding: torch.Tensor  # [D], not normalised
    attentions: list[torch.Tensor]  # per layer [1, heads, T, T] (the graph's own tensors)
    tokens: torch.Tensor  # [1, T, C]: the tokens entering the last block (its output's patch tokens do not reach the class token)
    grid: tuple[int, int]  # (rows, columns) of patches


# ------------------------------------------------------------------------------------ adapters


def _transformers_box(processor, size: tuple[int, int]) -> Box | None:
    image_processor = getattr(processor, "image_processor", processor)
    resize = getattr(image_processor, "size", None) or {}
    crop = getattr(image_processor, "crop_size", None) or {}
    if getattr(image_processor, "do_center_crop", False) and "shortest_edge" in resize and crop:
        return centre_crop_box(size, int(resize["shortest_edge"]), (int(crop["height"]), int(crop["width"])))
    return None


def _transformers_pass(loaded: LoadedModel, image: Image.Image) -> TowerPass:
    pixels = loaded.processor(images=[image], return_tensors="pt")["pixel_values"].to(loaded.device)
    pixels.requires_grad_(True)
    out = loaded.model.vision_model(pixel_values=pixels, output_attentions=True, output_hidden_states=True)
    embedding = loaded.model.visual_projection(out.pooler_output)[0]
    config = loaded.model.config.vision_config
    side = config.image_size // config.patch_size
    return TowerPass(embedding, list(out.attentions), out.hidden_states[-2], (side, side))


def _transformers_text(loaded: LoadedModel, text: str) -> torch.Tensor:
    from mmdemo.backends.clip_backend import text_max_length

    tokens = loaded.tokenizer(
        [text], padding=True, truncation=True, max_length=text_max_length(loaded), return_tensors="pt"
    ).to(loaded.device)
    out = loaded.model.text_model(input_ids=tokens["input_ids"], attention_mask=tokens["attention_mask"])
    return loaded.model.text_projection(out.pooler_output)[0]


class _RecordingAttention(nn.Module):
    """open_clip's ``nn.MultiheadAttention`` computed step by step (same weights, same result), so
    its per-head attention probabilities are a tensor of the graph that gradients can be taken of."""

    def __init__(self, inner: nn.MultiheadAttention) -> None:
        super().__init__()
        if not inner.batch_first or inner.in_proj_weight is None:
            raise ConfigError("explaining open_clip needs batch-first attention with one in-projection")
        self.inner = inner
        self.weights: torch.Tensor | None = None

    def forward(self, query, key, value, need_weights: bool = False, attn_mask=None, **_: object):
        inner = self.inner
        batch, length, width = query.shape
        heads = inner.num_heads
        q, k, v = F.linear(query, inner.in_proj_weight, inner.in_proj_bias).chunk(3, dim=-1)
        q, k, v = (t.reshape(batch, length, heads, width // heads).transpose(1, 2) for t in (q, k, v))
        scores = q @ k.transpose(-2, -1) / (width // heads) ** 0.5
        if attn_mask is not None:
            scores = scores + attn_mask
        self.weights = scores.softmax(dim=-1)  # [B, heads, T, T]
        out = (self.weights @ v).transpose(1, 2).reshape(batch, length, width)
        return inner.out_proj(out), self.weights


def _open_clip_blocks(loaded: LoadedModel) -> list[nn.Module]:
    """The vision tower's blocks, their attention wrapped for recording (once, on the copy)."""
    blocks = list(loaded.model.visual.transformer.resblocks)
    for block in blocks:
        if not isinstance(block.attn, nn.MultiheadAttention | _RecordingAttention):
            raise ConfigError(
                f"open_clip block {type(block).__name__} has no nn.MultiheadAttention to read maps from; "
                "explanations support open_clip ViTs with standard attention blocks"
            )
        if isinstance(block.attn, nn.MultiheadAttention):
            block.attn = _RecordingAttention(block.attn)
    return blocks


def transform_box(preprocess, size: tuple[int, int]) -> Box | None:
    """The centre crop of a torchvision eval transform (Resize(shortest edge) + CenterCrop, as
    open_clip's and timm's are), if it has one."""
    from torchvision import transforms

    resize = crop = None
    for step in getattr(preprocess, "transforms", ()):
        if isinstance(step, transforms.Resize):
            edge = step.size if isinstance(step.size, int) else list(step.size)
            resize = edge if isinstance(edge, int) else (edge[0] if len(edge) == 1 else None)
        if isinstance(step, transforms.CenterCrop):
            crop = tuple(step.size)
    if resize is None or crop is None:
        return None
    return centre_crop_box(size, int(resize), (int(crop[0]), int(crop[-1])))


def _open_clip_pass(loaded: LoadedModel, image: Image.Image) -> TowerPass:
    blocks = _open_clip_blocks(loaded)
    captured: dict[str, torch.Tensor] = {}
    hook = blocks[-1].register_forward_pre_hook(lambda _m, args: captured.__setitem__("tokens", args[0]))
    try:
        pixels = loaded.processor(image).unsqueeze(0).to(loaded.device).requires_grad_(True)
        embedding = loaded.model.encode_image(pixels)[0]
    finally:
        hook.remove()
    grid = tuple(int(v) for v in loaded.model.visual.grid_size)
    attentions = [block.attn.weights for block in blocks]
    return TowerPass(embedding, attentions, captured["tokens"], grid)  # type: ignore[arg-type]


def _open_clip_text(loaded: LoadedModel, text: str) -> torch.Tensor:
    return loaded.model.encode_text(loaded.tokenizer([text]).to(loaded.device))[0]


def tower_pass(loaded: LoadedModel, image: Image.Image) -> TowerPass:
    if loaded.spec.backend == "open_clip":
        return _open_clip_pass(loaded, image)
    return _transformers_pass(loaded, image)


def text_embedding(loaded: LoadedModel, text: str) -> torch.Tensor:
    with torch.no_grad():
        if loaded.spec.backend == "open_clip":
            return _open_clip_text(loaded, text)
        return _transformers_text(loaded, text)


def image_box(loaded: LoadedModel, size: tuple[int, int]) -> Box | None:
    if loaded.spec.backend == "open_clip":
        return transform_box(loaded.processor, size)
    return _transformers_box(loaded.processor, size)


# ------------------------------------------------------------------------------------- methods


def _relevance(method: str, run: TowerPass, score: torch.Tensor) -> torch.Tensor:
    attentions = [a.detach()[0] for a in run.attentions]
    if method == "rollout":
        return rules.rollout(attentions)
    if method == "chefer":
        grads = torch.autograd.grad(score, run.attentions)
        return rules.chefer(attentions, [g[0] for g in grads])
    (grad,) = torch.autograd.grad(score, [run.tokens])
    return rules.token_gradcam(run.tokens.detach()[0], grad[0])


def explain_embedding(
    loaded: LoadedModel, image: Image.Image, target: torch.Tensor, method: str, description: str
) -> Explanation:
    """The map of ``image`` for the cosine similarity of its embedding with ``target`` ``[D]``."""
    with loaded.run_lock, torch.enable_grad():
        run = tower_pass(loaded, image)
        score = F.cosine_similarity(run.embedding, target.detach(), dim=0)
        patches = _relevance(method, run, score).reshape(run.grid)
    return Explanation.from_patches(
        patches, image, box=image_box(loaded, image.size), score=score, method=method, target=description,
        score_kind="cosine", model=loaded.spec.name, path=path_of(loaded),
    )


# ---------------------------------------------------------------------------------- public calls


TOWER_BACKENDS = ("clip", "open_clip")


def require_tower(model: str | ModelSpec | None) -> ModelSpec:
    """The image-text spec of ``model`` if its image tower is a CLIP-style ViT these methods read;
    else IncompatibleError naming what is covered (SigLIP's attention-pooling head is not yet)."""
    spec = resolve_spec(model, "image-text")
    if spec.backend not in TOWER_BACKENDS:
        hint = " (explain_class explains its ImageNet classes)" if spec.backend == "conse" else ""
        raise IncompatibleError(
            f"Model {spec.name!r} (backend {spec.backend!r}) has no CLIP-style image tower to explain"
            f"{hint}; explain_text and explain_image_match cover the backends {list(TOWER_BACKENDS)}"
        )
    return spec


def explain_text(
    image: ImageInput,
    text: str,
    *,
    model: str | ModelSpec | None = None,
    method: str | None = None,
    device: str | None = None,
    limits: MediaLimits | None = None,
) -> Explanation:
    """Where in ``image`` the image-text ``model`` finds ``text`` (a zero-shot label; or, with the
    hit as ``image``, a retrieval hit for a text query).

    The score is the cosine similarity of the image's and the text's embeddings.
    """
    method = check_method(method, TOWER_METHODS, DEFAULT_TOWER_METHOD)
    require_tower(model)
    text = clean_text(text, limits, what="text")
    picture = load_image(image, limits)
    loaded = eager_copy(model, "image-text", device)
    return explain_embedding(loaded, picture, text_embedding(loaded, text), method, f'text "{text}"')


def explain_image_match(
    hit: ImageInput,
    query: ImageInput,
    *,
    model: str | ModelSpec | None = None,
    method: str | None = None,
    device: str | None = None,
    limits: MediaLimits | None = None,
) -> Explanation:
    """Where in the retrieval ``hit`` the image-text ``model`` finds what matches the ``query`` image.

    The score is the cosine similarity of the two images' embeddings; the query's is held fixed.
    """
    method = check_method(method, TOWER_METHODS, DEFAULT_TOWER_METHOD)
    require_tower(model)
    picture, query_picture = load_image(hit, limits), load_image(query, limits)
    loaded = eager_copy(model, "image-text", device)
    with loaded.run_lock, torch.no_grad():
        target = tower_pass(loaded, query_picture).embedding
    return explain_embedding(loaded, picture, target, method, "the query image")
