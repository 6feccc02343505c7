"""Relevance rules over a transformer's attention maps (pure tensor functions, no model code).

Self-attention (a ViT image tower, token 0 the class token the embedding is read from):

- :func:`chefer`: Chefer, Gur & Wolf, "Generic Attention-model Explainability for Interpreting
  Bi-Modal and Encoder-Decoder Transformers" (ICCV 2021): ``R = I``, then for every layer
  ``R += mean_heads(relu(grad * A)) @ R``; the class token's row over the patches.
- :func:`rollout`: Abnar & Zuidema, "Quantifying Attention Flow in Transformers" (ACL 2020), the
  gradient-free baseline: ``R = prod_layers norm_rows(0.5 * mean_heads(A) + 0.5 * I)``.
- :func:`token_gradcam`: Grad-CAM (Selvaraju et al., ICCV 2017) on the last block's patch tokens:
  channel weights are the gradients averaged over the patches, ``relu(sum_c w_c * h_c)``.

Cross-attention (BLIP's text side reading the image's tokens, token 0 the image's class token):

- :func:`cross_gradcam`: ``relu(grad * A)`` averaged over heads, summed over the chosen text rows
  and layers (LAVIS's ``compute_gradcam`` for BLIP);
- :func:`cross_attention`: the same without gradients (the raw attention), the baseline.

Every function takes per-layer tensors for one example (``[heads, rows, tokens]``) and returns a
1-D relevance over the patches (token 0 dropped).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch


def chefer(attentions: Sequence[torch.Tensor], grads: Sequence[torch.Tensor]) -> torch.Tensor:
    """Gradient-weighted attention relevance of the patches for the class token ``[N]``."""
    tokens = attentions[0].shape[-1]
    relevance = torch.eye(tokens, dtype=torch.float32, device=attentions[0].device)
    for attention, grad in zip(attentions, grads):
        cam = (grad.float() * attention.float()).clamp(min=0).mean(dim=0)  # [T, T]
        relevance = relevance + cam @ relevance
    return relevance[0, 1:]


def rollout(attentions: Sequence[torch.Tensor]) -> torch.Tensor:
    """Attention rollout: how much the class token draws on each patch through all layers ``[N]``."""
    tokens = attentions[0].shape[-1]
    identity = torch.eye(tokens, dtype=torch.float32, device=attentions[0].device)
    relevance = identity
    for attention in attentions:
        mixed = 0.5 * attention.float().mean(dim=0) + 0.5 * identity
        mixed = mixed / mixed.sum(dim=-1, keepdim=True)
        relevance = mixed @ relevance
    return relevance[0, 1:]


def token_gradcam(tokens: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
    """Grad-CAM over the patch tokens ``[T, C]`` of one block (token 0 dropped) ``[N]``."""
    patches, patch_grads = tokens[1:].float(), grad[1:].float()
    weights = patch_grads.mean(dim=0)  # [C]
    return (patches * weights).sum(dim=-1).clamp(min=0)


def cross_gradcam(
    attentions: Sequence[torch.Tensor], grads: Sequence[torch.Tensor], rows: torch.Tensor
) -> torch.Tensor:
    """Gradient-weighted cross-attention ``[N]`` of the text ``rows`` (a bool mask or indices)."""
    total = None
    for attention, grad in zip(attentions, grads):
        cam = (grad.float() * attention.float()).clamp(min=0).mean(dim=0)[rows].sum(dim=0)[1:]
        total = cam if total is None else total + cam
    return total


def cross_attention(attentions: Sequence[torch.Tensor], rows: torch.Tensor) -> torch.Tensor:
    """Raw cross-attention ``[N]`` of the text ``rows``, averaged over heads, summed over layers."""
    total = None
    for attention in attentions:
        cam = attention.float().mean(dim=0)[rows].sum(dim=0)[1:]
        total = cam if total is None else total + cam
    return total
