"""Explain BLIP's words: each word of a caption, and the answer to a question.

Three methods (:data:`BLIP_METHODS`):

- ``occlusion`` (the default for both; :mod:`~mmdemo.explain.occlusion`): the drop of the
  explained log-probability when a window around each patch is erased, added to every pixel the
  window covers, all windows in one batch; it reads only the model's output;
- ``gradcam``: the gradient-weighted cross-attention of BLIP's text side over the image's tokens,
  as LAVIS's ``compute_gradcam`` does: ``relu(grad * A)`` averaged over heads, where ``A`` is a text
  layer's cross-attention to the image and ``grad`` the gradient of the explained log-probability
  with respect to it;
- ``attention``: the raw cross-attention, the gradient-free baseline.

- Caption words: the caption is teacher-forced through the text decoder (``[DEC] words [SEP]``, as
  ``generate`` builds it); a word's score is ``log p(word | image, earlier words)``, and its
  cross-attention map is the row of the position that predicts it, summed over the decoder's layers.
- Answers: BLIP VQA reads the image only in its question encoder (the answer decoder attends to the
  question's tokens), so the cross-attention map is the question encoder's, every question token's
  row summed, weighted by the gradient of the answer's log-probability (its words, teacher-forced).

Everything runs on a float32 eager copy of the checkpoint (:mod:`~mmdemo.explain.copies`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from PIL import Image

from mmdemo.errors import ConfigError
from mmdemo.explain import attention as rules
from mmdemo.explain.copies import eager_copy, path_of
from mmdemo.explain.occlusion import occluded_batch, occlusion_relevance
from mmdemo.explain.result import Explanation, check_method
from mmdemo.loading import LoadedModel
from mmdemo.media import ImageInput, MediaLimits, clean_text, load_image
from mmdemo.registry import ModelSpec

BLIP_METHODS = ("occlusion", "gradcam", "attention")
# Chosen by localisation on held-out bundled scenes (README, "Explanations"; mmdemo.explain.benchmark).
DEFAULT_CAPTION_METHOD = "occlusion"
DEFAULT_ANSWER_METHOD = "occlusion"


@dataclass
class CaptionExplanation:
    """One map per word (token) of a caption.

    Attributes:
        caption: the caption explained (generated greedily by the explanation copy when not given).
        words: one :class:`Explanation` per token, in order (special tokens left out); each one's
            ``score`` is the token's log-probability given the image and the tokens before it.
        tokens: the tokens ``words`` explain, as the tokenizer spells them.
        score: the caption's mean log-probability per token (its final end token included).
        generated: True when the caption was generated here, False when it was given.
    """

    caption: str
    words: list[Explanation]
    tokens: list[str]
    score: float
    generated: bool


def _grid(loaded: LoadedModel) -> tuple[int, int]:
    config = loaded.model.config.vision_config
    side = config.image_size // config.patch_size
    return side, side


def _pixels(loaded: LoadedModel, image: Image.Image) -> torch.Tensor:
    return loaded.processor(images=[image], return_tensors="pt")["pixel_values"].to(loaded.device)  # [1, 3, S, S]


def _image_tokens(loaded: LoadedModel, image: Image.Image) -> tuple[torch.Tensor, tuple[int, int]]:
    pixels = _pixels(loaded, image)
    pixels.requires_grad_(True)
    embeds = loaded.model.vision_model(pixel_values=pixels).last_hidden_state  # [1, 1 + N, D]
    return embeds, _grid(loaded)


def _token_log_probs(loaded: LoadedModel, ids: torch.Tensor, mask: torch.Tensor, states: torch.Tensor, **kw):
    """``log p(token i + 1 | states, tokens up to i)`` ``[B, L - 1]`` for the decoder ids ``[1, L]``
    (repeated over the ``B`` rows of ``states``), and the decoder's output."""
    rows = states.shape[0]
    out = loaded.model.text_decoder(
        input_ids=ids.expand(rows, -1),
        attention_mask=mask.expand(rows, -1),
        encoder_hidden_states=states,
        encoder_attention_mask=torch.ones(states.shape[:-1], dtype=torch.long, device=loaded.device),
        return_dict=True,
        **kw,
    )
    log_probs = out.logits[:, :-1].float().log_softmax(dim=-1)  # position i predicts token i + 1
    return log_probs.gather(2, ids[:, 1:, None].expand(rows, -1, 1))[..., 0], out


def _decoder_ids(loaded: LoadedModel, text: str) -> tuple[torch.Tensor, torch.Tensor]:
    """``[DEC] tokens [SEP]`` ids and mask ``[1, L]``, as BLIP's decoder sees them."""
    batch = loaded.tokenizer([text], return_tensors="pt")
    ids = batch["input_ids"].clone()
    ids[:, 0] = loaded.model.config.text_config.bos_token_id
    return ids.to(loaded.device), batch["attention_mask"].to(loaded.device)


def _word_rows(method: str, index: int) -> list[int]:
    """The decoder rows whose cross-attention explains the token at ``index``: the position that
    predicts it (its log-probability's gradient lives there); the gradient-free ``attention``
    also reads the position that holds it (where the decoder looks while reading the word)."""
    return [index - 1, index] if method == "attention" else [index - 1]


def _relevance(method: str, score: torch.Tensor, attentions, rows) -> torch.Tensor:
    maps = [a.detach()[0] for a in attentions]
    if method == "attention":
        return rules.cross_attention(maps, rows)
    grads = torch.autograd.grad(score, list(attentions), retain_graph=True)
    return rules.cross_gradcam(maps, [g[0] for g in grads], rows)


def _explanation(
    loaded: LoadedModel, image: Image.Image, patches: torch.Tensor, method: str, target: str, score: torch.Tensor
) -> Explanation:
    return Explanation.from_patches(  # no box: BLIP's processor resizes the whole image
        patches, image, score=score, method=method, target=target, score_kind="log-prob",
        model=loaded.spec.name, path=path_of(loaded),
    )


def _generate(loaded: LoadedModel, inputs: dict, max_new_tokens: int) -> str:
    if not 1 <= max_new_tokens <= 100:
        raise ConfigError(f"max_new_tokens must be between 1 and 100, got {max_new_tokens}")
    with torch.no_grad():
        output = loaded.model.generate(**inputs, max_new_tokens=max_new_tokens, num_beams=1, do_sample=False)
    sequences = output.sequences if hasattr(output, "sequences") else output
    return " ".join(loaded.processor.batch_decode(sequences, skip_special_tokens=True)[0].split())


def _encode_question(loaded: LoadedModel, embeds: torch.Tensor, question: dict):
    """The question ``[1, Q]`` encoded over the image tokens ``embeds`` ``[B, 1 + N, D]`` (what the
    answer decoder reads, ``[B, Q, D]``), and the encoder's output (its cross-attentions)."""
    rows = embeds.shape[0]
    encoded = loaded.model.text_encoder(
        input_ids=question["input_ids"].expand(rows, -1),
        attention_mask=question["attention_mask"].expand(rows, -1),
        encoder_hidden_states=embeds,
        encoder_attention_mask=torch.ones(embeds.shape[:-1], dtype=torch.long, device=loaded.device),
        output_attentions=True,
        return_dict=True,
    )
    return encoded.last_hidden_state, encoded


def _occlusion_scores(loaded, picture, ids, mask, question: dict | None) -> tuple[torch.Tensor, tuple[int, int], tuple[int, int]]:
    """Token log-probabilities ``[1 + gh * gw, L - 1]`` on the image and on each occluded copy,
    the patch grid and the model input's size (H, W)."""
    grid = _grid(loaded)
    with torch.no_grad():
        batch = occluded_batch(_pixels(loaded, picture), grid)  # [1 + gh * gw, 3, S, S]
        states = loaded.model.vision_model(pixel_values=batch).last_hidden_state  # [1 + gh * gw, 1 + N, D]
        if question is not None:
            states, _ = _encode_question(loaded, states, question)
        scores, _ = _token_log_probs(loaded, ids, mask, states)
    return scores, grid, tuple(batch.shape[2:])


def explain_caption(
    image: ImageInput,
    caption: str | None = None,
    *,
    model: str | ModelSpec | None = None,
    method: str | None = None,
    device: str | None = None,
    max_new_tokens: int = 30,
    limits: MediaLimits | None = None,
) -> CaptionExplanation:
    """One map per word of ``caption`` on ``image`` (None: the caption the model generates)."""
    method = check_method(method, BLIP_METHODS, DEFAULT_CAPTION_METHOD)
    given = clean_text(caption, limits, what="caption") if caption is not None else None
    picture = load_image(image, limits)
    loaded = eager_copy(model, "caption", device)
    with loaded.run_lock:
        if given is None:
            given = _generate(loaded, {"pixel_values": _pixels(loaded, picture)}, max_new_tokens)
        ids, mask = _decoder_ids(loaded, given)
        special = set(loaded.tokenizer.all_special_ids)
        words: list[Explanation] = []
        tokens: list[str] = []
        if method == "occlusion":
            scores, grid, size = _occlusion_scores(loaded, picture, ids, mask, None)
            maps, token_scores = occlusion_relevance(scores, grid, size), scores[0]  # [L - 1, gh, gw], [L - 1]
        with torch.enable_grad():
            if method != "occlusion":
                embeds, grid = _image_tokens(loaded, picture)
                scores, out = _token_log_probs(loaded, ids, mask, embeds, output_attentions=True)
                token_scores = scores[0]  # [L - 1]
            for index in range(1, ids.shape[1]):
                token = int(ids[0, index])
                if token in special:
                    continue
                score = token_scores[index - 1]
                if method == "occlusion":
                    patches = maps[index - 1]
                else:
                    rows = torch.tensor(_word_rows(method, index), device=loaded.device)
                    patches = _relevance(method, score, out.cross_attentions, rows).reshape(grid)
                word = loaded.tokenizer.convert_ids_to_tokens(token)
                words.append(_explanation(loaded, picture, patches, method, f'word "{word}" of "{given}"', score))
                tokens.append(word)
    return CaptionExplanation(given, words, tokens, float(token_scores.detach().mean()), caption is None)


def explain_answer(
    image: ImageInput,
    question: str,
    answer: str | None = None,
    *,
    model: str | ModelSpec | None = None,
    method: str | None = None,
    device: str | None = None,
    max_new_tokens: int = 10,
    limits: MediaLimits | None = None,
) -> Explanation:
    """The map of the answer to ``question`` on ``image`` (None: the answer the model gives).

    The score is the answer's log-probability (its word tokens, teacher-forced) given the image
    and the question.
    """
    method = check_method(method, BLIP_METHODS, DEFAULT_ANSWER_METHOD)
    question = clean_text(question, limits, what="question")
    given = clean_text(answer, limits, what="answer") if answer is not None else None
    picture = load_image(image, limits)
    loaded = eager_copy(model, "vqa", device)
    with loaded.run_lock:
        asked = loaded.tokenizer([question], return_tensors="pt", truncation=True).to(loaded.device)
        if given is None:
            given = _generate(loaded, {"pixel_values": _pixels(loaded, picture), **asked}, max_new_tokens)
        ids, mask = _decoder_ids(loaded, given)  # "" (the model ended at once): its end token is explained
        special = set(loaded.tokenizer.all_special_ids)
        words = torch.tensor([int(t) not in special for t in ids[0, 1:]], device=loaded.device)
        if not bool(words.any()):
            words = torch.ones_like(words)
        if method == "occlusion":
            scores, grid, size = _occlusion_scores(loaded, picture, ids, mask, asked)
            answer_scores = scores[:, words].sum(dim=1)  # [1 + gh * gw]
            score, patches = answer_scores[0], occlusion_relevance(answer_scores, grid, size)
        else:
            with torch.enable_grad():
                embeds, grid = _image_tokens(loaded, picture)
                states, encoded = _encode_question(loaded, embeds, asked)
                scores, _ = _token_log_probs(loaded, ids, mask, states)
                score = scores[0, words].sum()
                rows = asked["attention_mask"][0].bool()
                patches = _relevance(method, score, encoded.cross_attentions, rows).reshape(grid)
    return _explanation(loaded, picture, patches, method, f'answer "{given}" to "{question}"', score)
