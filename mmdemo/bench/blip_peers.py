"""Runtime peers of BLIP captioning and VQA: greedy decoding with every model part in the runtime.

BLIP's ``generate`` is a Python loop around model parts; a runtime peer converts the parts as
float32 towers (:mod:`mmdemo.bench.runtimes`) and runs the same greedy loop around them:

- :class:`VisionTower`: pixel values -> the vision encoder's tokens [B, P, H];
- :class:`QuestionTower` (VQA): question ids and mask, image tokens -> the question read against
  the image [B, Q, H] (the decoder's memory);
- :class:`CrossKeysValues`: the memory -> every decoder layer's cross-attention keys and values,
  stacked [L, 2, B, heads, M, head_dim] (computed once per input, as ``generate``'s cache does);
- :class:`DecoderStep`: one token, its position, the self-attention keys and values so far
  [L, 2, B, heads, T, head_dim] and the cross ones -> the next token's logits and the new token's
  keys and values, packed in one row [B, vocab + L * 2 * heads * head_dim] (the converted towers
  return one tensor).

So the decoder runs with its KV cache as explicit inputs and outputs. :class:`DecoderStep`
drives BLIP's own layers (its Linear, LayerNorm and embedding modules) in eager attention's
arithmetic; the tests check it against transformers' ``text_decoder`` step by step.

Fidelity (:func:`peer_fidelity`) as for mmdemo's own generation paths: float32 torch's greedy
tokens teacher-forced through the peer (step by step with its cache), the largest per-step
log-probability error and clear-margin top-1 agreement (:mod:`mmdemo.bench.fidelity`), identical
greedy tokens (reported), and the vision tokens' centred cosine on textures.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from PIL import Image

from mmdemo.bench.config import centred_cosine_bar
from mmdemo.bench.fidelity import (
    Fidelity,
    centred_cosine,
    clear_margin_agreement,
    identical_sequences,
    max_logprob_error,
)
from mmdemo.bench.peer_sets import PeerSet, Say, Towers, convert_all
from mmdemo.bench.runtimes import Run

KV_AXIS = 4  # the token axis of the stacked keys and values [L, 2, B, heads, T, head_dim]


class VisionTower(torch.nn.Module):
    """BLIP's vision encoder tokens [B, P, H] from pixel values."""

    input_names = ("pixel_values",)
    dynamic_axes = {"pixel_values": {0: "batch"}}

    def __init__(self, blip: torch.nn.Module) -> None:
        super().__init__()
        self.vision_model = blip.vision_model

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        return self.vision_model(pixel_values=pixel_values)[0]


class QuestionTower(torch.nn.Module):
    """BLIP VQA's question states [B, Q, H]: the question encoded against the image tokens."""

    input_names = ("input_ids", "attention_mask", "image_embeds")
    dynamic_axes = {"input_ids": {0: "batch", 1: "tokens"}, "attention_mask": {0: "batch", 1: "tokens"},
                    "image_embeds": {0: "batch", 1: "patches"}}

    def __init__(self, blip: torch.nn.Module) -> None:
        super().__init__()
        self.text_encoder = blip.text_encoder

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, image_embeds: torch.Tensor) -> torch.Tensor:
        image_mask = torch.ones(image_embeds.shape[:-1], dtype=torch.long, device=image_embeds.device)
        return self.text_encoder(input_ids=input_ids, attention_mask=attention_mask, encoder_hidden_states=image_embeds,
                                 encoder_attention_mask=image_mask, return_dict=False)[0]


def _heads(states: torch.Tensor, heads: int) -> torch.Tensor:
    """[B, T, H] -> [B, heads, T, H / heads]."""
    batch, tokens, width = states.shape
    return states.view(batch, tokens, heads, width // heads).transpose(1, 2)


def _layers(decoder: torch.nn.Module) -> torch.nn.ModuleList:
    return decoder.bert.encoder.layer


class CrossKeysValues(torch.nn.Module):
    """Every decoder layer's cross-attention keys and values of the memory [B, M, H]:
    [L, 2, B, heads, M, head_dim]."""

    input_names = ("memory",)
    dynamic_axes = {"memory": {0: "batch", 1: "memory"}}

    def __init__(self, decoder: torch.nn.Module) -> None:
        super().__init__()
        self.decoder = decoder
        self.heads = decoder.config.num_attention_heads

    def forward(self, memory: torch.Tensor) -> torch.Tensor:
        rows = []
        for layer in _layers(self.decoder):
            cross = layer.crossattention.self
            rows.append(torch.stack([_heads(cross.key(memory), self.heads), _heads(cross.value(memory), self.heads)]))
        return torch.stack(rows)


class DecoderStep(torch.nn.Module):
    """One greedy step of BLIP's text decoder with its KV cache as tensors.

    Inputs: ``input_ids`` [B, 1] (the newest token), ``position_ids`` [B, 1] (its position),
    ``past`` [L, 2, B, heads, T, head_dim] (self-attention keys and values of the T tokens
    before it; T may be 0) and ``cross`` [L, 2, B, heads, M, head_dim] (:class:`CrossKeysValues`).
    Output [B, vocab + L * 2 * heads * head_dim]: the next token's logits, then the newest
    token's keys and values (:func:`unpack_step` splits them).
    """

    input_names = ("input_ids", "position_ids", "past", "cross")
    dynamic_axes = {"input_ids": {0: "batch"}, "position_ids": {0: "batch"},
                    "past": {2: "batch", KV_AXIS: "past"}, "cross": {2: "batch", KV_AXIS: "memory"}}

    def __init__(self, decoder: torch.nn.Module) -> None:
        super().__init__()
        self.decoder = decoder
        self.heads = decoder.config.num_attention_heads
        self.scale = math.sqrt(decoder.config.hidden_size // self.heads)

    def _attend(self, query: torch.Tensor, keys: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
        """Eager attention of [B, heads, 1, d] queries (no mask: one new token sees every key) -> [B, 1, H]."""
        scores = torch.matmul(query, keys.transpose(-1, -2)) / self.scale
        context = torch.matmul(scores.softmax(dim=-1), values)  # [B, heads, 1, d]
        return context.transpose(1, 2).flatten(2)

    def forward(self, input_ids: torch.Tensor, position_ids: torch.Tensor, past: torch.Tensor,
                cross: torch.Tensor) -> torch.Tensor:
        embeddings = self.decoder.bert.embeddings
        hidden = embeddings.LayerNorm(embeddings.word_embeddings(input_ids) + embeddings.position_embeddings(position_ids))
        new = []
        for index, layer in enumerate(_layers(self.decoder)):
            attention = layer.attention
            key = _heads(attention.self.key(hidden), self.heads)
            value = _heads(attention.self.value(hidden), self.heads)
            new.append(torch.stack([key, value]))
            keys = torch.cat([past[index, 0], key], dim=2)
            values = torch.cat([past[index, 1], value], dim=2)
            context = self._attend(_heads(attention.self.query(hidden), self.heads), keys, values)
            hidden = attention.output.LayerNorm(attention.output.dense(context) + hidden)
            crossing = layer.crossattention
            context = self._attend(_heads(crossing.self.query(hidden), self.heads), cross[index, 0], cross[index, 1])
            hidden = crossing.output.LayerNorm(crossing.output.dense(context) + hidden)
            inner = layer.intermediate(hidden)
            hidden = layer.output.LayerNorm(layer.output.dense(inner) + hidden)
        logits = self.decoder.cls(hidden)[:, -1]  # [B, vocab]
        fresh = torch.stack(new)  # [L, 2, B, heads, 1, d]
        return torch.cat([logits, fresh.permute(2, 0, 1, 3, 4, 5).flatten(1)], dim=1)


def unpack_step(packed: torch.Tensor, vocab: int, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """:class:`DecoderStep`'s output -> (logits [B, vocab], the new keys and values
    [L, 2, B, heads, 1, d] shaped like ``like`` [L, 2, B, heads, *, d])."""
    layers, two, batch, heads, _, width = like.shape
    fresh = packed[:, vocab:].reshape(batch, layers, two, heads, 1, width).permute(1, 2, 0, 3, 4, 5)
    return packed[:, :vocab], fresh


@dataclass
class BlipParts:
    """What a greedy loop needs of one BLIP model: its processor, decoder shapes and start token."""

    processor: object
    vqa: bool
    vocab: int
    layers: int
    heads: int
    head_dim: int
    start: int
    eos: int

    @classmethod
    def of(cls, model: torch.nn.Module, processor, *, vqa: bool) -> BlipParts:
        text = model.config.text_config
        start = model.decoder_start_token_id if vqa else model.decoder_input_ids
        return cls(processor, vqa, text.vocab_size, text.num_hidden_layers, text.num_attention_heads,
                   text.hidden_size // text.num_attention_heads, start, text.sep_token_id)


def make_towers(model: torch.nn.Module, parts: BlipParts, image: Image.Image, question: str | None) -> Towers:
    """The float32 towers of ``model`` with example inputs made from ``image`` (and ``question``)."""
    model = model.eval()
    inputs = parts.processor(images=image, text=question, return_tensors="pt")
    with torch.no_grad():
        image_embeds = model.vision_model(pixel_values=inputs["pixel_values"])[0]
        towers: Towers = {"vision": (VisionTower(model), (inputs["pixel_values"],))}
        memory = image_embeds
        if parts.vqa:
            question_tower = QuestionTower(model)
            example = (inputs["input_ids"], inputs["attention_mask"], image_embeds)
            towers["question"] = (question_tower, example)
            memory = question_tower(*example)
        cross_tower = CrossKeysValues(model.text_decoder)
        cross = cross_tower(memory)
    towers["cross"] = (cross_tower, (memory,))
    ids = torch.tensor([[parts.start]])
    past = torch.zeros(parts.layers, 2, 1, parts.heads, 2, parts.head_dim)  # two cached tokens: a generic example
    towers["step"] = (DecoderStep(model.text_decoder), (ids, torch.tensor([[2]]), past, cross))
    return towers


class PeerDecoder:
    """Greedy decoding and teacher forcing on one peer's converted BLIP towers (or on the
    float32 towers themselves: any tower-name -> callable mapping)."""

    def __init__(self, runs: dict[str, Run | Callable[..., torch.Tensor]], parts: BlipParts) -> None:
        self.runs = runs
        self.parts = parts

    def _memory(self, image: Image.Image, question: str | None) -> torch.Tensor:
        inputs = self.parts.processor(images=image, text=question, return_tensors="pt")
        memory = self.runs["vision"](inputs["pixel_values"])
        if self.parts.vqa:
            memory = self.runs["question"](inputs["input_ids"], inputs["attention_mask"], memory)
        return self.runs["cross"](memory)

    def _steps(self, cross: torch.Tensor, tokens: list[int] | None, count: int, stop_at_eos: bool):
        """Yield the logits [vocab] of each step; feed ``tokens`` (teacher forcing) or the argmax."""
        p = self.parts
        past = torch.zeros(p.layers, 2, 1, p.heads, 0, p.head_dim)
        token = p.start
        for step in range(count):
            packed = self.runs["step"](torch.tensor([[token]]), torch.tensor([[step]]), past, cross)
            logits, fresh = unpack_step(packed, p.vocab, past)
            past = torch.cat([past, fresh], dim=KV_AXIS)
            yield logits[0]
            token = tokens[step + 1] if tokens is not None else int(logits[0].argmax())
            if tokens is None and stop_at_eos and token == p.eos:
                return

    def generate(self, image: Image.Image, question: str | None, max_new_tokens: int, *,
                 stop_at_eos: bool = True) -> list[int]:
        """Greedy token ids, start token first (as ``model.generate``); ``stop_at_eos=False`` runs
        exactly ``max_new_tokens`` steps (the timed case: the same number of steps as the baseline)."""
        tokens = [self.parts.start]
        for logits in self._steps(self._memory(image, question), None, max_new_tokens, stop_at_eos):
            tokens.append(int(logits.argmax()))
        return tokens

    def step_logprobs(self, image: Image.Image, tokens: list[int], question: str | None = None) -> torch.Tensor:
        """Log-probabilities [len(tokens) - 1, vocab] teacher-forced on ``tokens`` through the
        peer's cache, step by step (as :func:`mmdemo.bench.teacher_forcing.blip_step_logprobs`)."""
        cross = self._memory(image, question)
        rows = list(self._steps(cross, tokens, len(tokens) - 1, stop_at_eos=False))
        return torch.stack(rows).float().log_softmax(dim=-1)

    def vision_tokens(self, images: list[Image.Image]) -> torch.Tensor:
        """The vision tower's tokens of each image, flattened [N, P * H] (as the project's check)."""
        rows = [self.runs["vision"](self.parts.processor(images=image, return_tensors="pt")["pixel_values"])
                for image in images]
        return torch.cat([row.float().reshape(1, -1) for row in rows])


def convert_blip_peers(peers: tuple[str, ...], model: torch.nn.Module, parts: BlipParts, image: Image.Image,
                       question: str | None, say: Say | None = None) -> dict[str, PeerSet]:
    """Every peer of ``peers`` converted from ``model``'s towers (vision, question for VQA, cross, step)."""
    return convert_all(peers, lambda: make_towers(model, parts, image, question), say)


def peer_fidelity(decoder: PeerDecoder, reference: list[torch.Tensor], tokens: list[list[int]], pairs: list,
                  ref_vision: torch.Tensor | None, textures: list, vision_layers: int) -> list[Fidelity]:
    """One peer's checks against float32 torch: ``reference[i]`` are float32's teacher-forced
    log-probabilities of its greedy ``tokens[i]`` on ``pairs[i]`` (image, question)."""
    candidate = [decoder.step_logprobs(image, ids, question) for (image, question), ids in zip(pairs, tokens)]
    checks = [max_logprob_error(reference, candidate, [ids[1:] for ids in tokens]),
              clear_margin_agreement(reference, candidate)]
    if ref_vision is not None:
        checks.append(_named(centred_cosine(ref_vision, decoder.vision_tokens(textures),
                                            threshold=centred_cosine_bar(vision_layers)),
                             "vision tokens centred cosine (textures)"))
    greedy = [decoder.generate(image, question, len(ids) - 1) for (image, question), ids in zip(pairs, tokens)]
    checks.append(identical_sequences(tokens, greedy, what="greedy tokens (reported: near-ties may flip)", threshold=0.0))
    return checks


def _named(check: Fidelity, metric: str) -> Fidelity:
    check.metric = metric
    return check


@dataclass
class WorkloadPeers:
    """The runtime peers of one generation workload: their timed cases, and their checks (after timing).

    The peers are converted from the timed stand-in's architecture with its logits sharpened
    (:func:`mmdemo.bench.models.sharpened_folder`: the same shapes and work, only the LM head's last
    layer norm scaled), so the same converted towers are timed and checked; the checks need the
    sharpened model's clear margins. Each timed case runs exactly as many greedy steps as the
    baseline generated, whatever tokens come out.
    """

    cases: dict[str, tuple[Callable[[], object], str]]
    peer_sets: dict[str, PeerSet]
    model: torch.nn.Module | None = None
    parts: BlipParts | None = None

    def results(self, pairs: list, textures: list, max_new_tokens: int) -> list:
        """Each peer's :class:`~mmdemo.bench.results.RuntimeResult` with its checks on ``pairs``."""
        if not self.peer_sets:
            return []
        from mmdemo.bench.teacher_forcing import blip_step_logprobs

        model, parts = self.model, self.parts
        reference_decoder = PeerDecoder({"vision": lambda pixels: model.vision_model(pixel_values=pixels)[0]}, parts)
        with torch.no_grad():
            tokens = [_generate(model, parts.processor, image, question, max_new_tokens) for image, question in pairs]
            reference = [blip_step_logprobs(model, parts.processor, image, ids, question)
                         for (image, question), ids in zip(pairs, tokens)]
            ref_vision = reference_decoder.vision_tokens(textures) if len(textures) > 1 else None
        layers = model.config.vision_config.num_hidden_layers
        for peer_set in self.peer_sets.values():
            if peer_set.ok:
                decoder = PeerDecoder(peer_set.runs, parts)
                peer_set.result.fidelity = peer_fidelity(decoder, reference, tokens, pairs, ref_vision, textures, layers)
        return [peer_set.result for peer_set in self.peer_sets.values()]


def _generate(model: torch.nn.Module, processor, image: Image.Image, question: str | None, max_new_tokens: int) -> list[int]:
    inputs = processor(images=image, text=question, return_tensors="pt")
    return model.generate(**inputs, max_new_tokens=max_new_tokens)[0].tolist()


def workload_peers(peers: tuple[str, ...], folder, *, vqa: bool, image: Image.Image, question: str | None,
                   steps: int, say: Say | None = None) -> WorkloadPeers:
    """Convert ``peers`` from the float32 BLIP in ``folder`` and make their timed cases: greedy
    decoding of ``image`` (and ``question``) for exactly ``steps`` steps."""
    if not peers:
        return WorkloadPeers({}, {})
    from mmdemo.bench.baselines import BlipBaseline
    from mmdemo.bench.runtimes import DESCRIPTIONS

    base = BlipBaseline(folder, vqa=vqa)
    model = base.variants.model
    parts = BlipParts.of(model, base.processor, vqa=vqa)
    peer_sets = convert_blip_peers(peers, model, parts, image, question, say)
    cases = {
        peer: (lambda decoder=PeerDecoder(s.runs, parts): decoder.generate(image, question, steps, stop_at_eos=False),
               f"{DESCRIPTIONS[peer]}: {', '.join(s.runs)} converted, greedy with the KV cache as tensors, {steps} steps")
        for peer, s in peer_sets.items() if s.ok
    }
    return WorkloadPeers(cases, peer_sets, model, parts)
