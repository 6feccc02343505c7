"""Optional inference runtimes behind the backends: OpenVINO for the CLIP towers, wav2vec2 and ConSE.

A backend that declares ``RUNTIMES`` (CLIP, OpenCLIP: image and text towers; wav2vec2 and
wav2vec2-ctc: the encoder, with its CTC head; ConSE, the offline preset: its ImageNet classifier,
pinned to float32, and its sentence encoder) can run them through a runtime instead of torch. The policy (:func:`mmdemo.loading.resolve_speedups`) gives a model the
runtime as a load-time speed-up named after it (``"openvino"``) where it was measured faster and
faithful (``python -m mmdemo bench --runtimes ov-bf16,ov-fp32``, with AMX and with ``--isa avx2``);
the backend then attaches an :class:`~mmdemo.runtimes.lazy.RuntimeTowers`
(:mod:`mmdemo.backends.runtime`; this package never imports the backends), which converts each tower
at its first encode, keeps the converted model on disk (:mod:`mmdemo.runtimes.model_cache`), and
falls back to torch, with one warning naming the model and the reason, where the runtime is
missing or the conversion fails. The torch model stays loaded beside it: explanations and anything
that needs gradients run it (:mod:`mmdemo.explain.copies` loads its own float32 copy).

The setting: :data:`RUNTIME_CHOICES`, from ``$MMDEMO_RUNTIME`` (default ``auto``) or
:func:`mmdemo.loading.configure_runtime`:

- ``auto``: the runtime where the policy measured it faster (CPU, the ``auto`` dtype policy);
- ``torch``: never a runtime;
- ``openvino``: the runtime for every model whose backend has it, on CPU, whatever the dtype
  policy (bfloat16 where the dtype is bfloat16 and OpenVINO's CPU plugin has it, else float32).
"""

from __future__ import annotations

RUNTIME_CHOICES = ("auto", "torch", "openvino")
OPENVINO = "openvino"  # the speed-up name a backend records when its towers run through OpenVINO

RUNTIME_SPEEDUPS = {
    OPENVINO: "the image and text towers (wav2vec2: the encoder; ConSE: its classifier, kept float32, and its sentence "
    "encoder) run through OpenVINO (bfloat16 where the CPU has it and the dtype "
    "is bfloat16, the text tower too: unlike torch's autocast it kept zero-shot top-1 over the 500-label bank; "
    "else float32), converted at the first encode and kept on disk beside the embedding cache (mmdemo.runtimes); "
    "torch, with one warning, where OpenVINO is missing or the conversion fails; text-float32 then applies",
}
"""The speed-up of the backends that declare ``RUNTIMES`` (CLIP, OpenCLIP, wav2vec2, ConSE), in their ``SPEEDUPS``."""
