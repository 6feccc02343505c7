"""The sound of a scene: one beep per shape, left to right, at 16 kHz.

The sound carries part of the scene, namely what :meth:`Scene.sound_key` returns:

- the number of beeps is the number of shapes;
- a beep's pitch is the shape's colour (:data:`PITCH_HZ`, half an octave apart, low = warm);
- a beep's timbre is the shape's kind: circle = pure sine, square = square wave,
  triangle = sawtooth, star = bell (inharmonic partials with a fast decay);
- beeps come in the shapes' left-to-right order.

Sizes and columns are *not* in the sound, only in the picture (and the caption). Each clip lasts
:data:`CLIP_SECONDS`; onsets, lengths and tuning jitter a little and a faint noise floor is added,
all drawn from the ``rng`` argument, so a sample's sound is reproducible from its seed.
"""

from __future__ import annotations

import numpy as np

from mmdemo.world.scenes import Scene

SAMPLE_RATE = 16_000
CLIP_SECONDS = 1.0
PITCH_HZ: dict[str, float] = {
    "red": 280.0,
    "orange": 396.0,
    "yellow": 560.0,
    "green": 792.0,
    "blue": 1120.0,
    "purple": 1584.0,
}
TIMBRE: dict[str, str] = {"circle": "sine", "square": "square", "triangle": "sawtooth", "star": "bell"}
BEEP_SECONDS = 0.2
SLOT_SECONDS = 0.3  # beep k starts near 0.08 + k * SLOT_SECONDS
FIRST_ONSET = 0.08
PEAK = 0.5


def _envelope(n: int, sample_rate: int, decay: bool) -> np.ndarray:
    """Short linear attack and release; exponential decay for bells."""
    t = np.arange(n) / sample_rate
    ramp = max(1, int(0.01 * sample_rate))
    env = np.ones(n)
    env[:ramp] = np.linspace(0.0, 1.0, ramp)
    env[-ramp:] = np.minimum(env[-ramp:], np.linspace(1.0, 0.0, ramp))
    if decay:
        env *= np.exp(-t / 0.06)
    return env


def beep(kind: str, frequency: float, seconds: float, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """One band-limited tone of ``seconds`` with the timbre of shape ``kind``."""
    if kind not in TIMBRE:
        raise ValueError(f"Unknown shape kind {kind!r}; valid: {sorted(TIMBRE)}")
    n = int(round(seconds * sample_rate))
    t = np.arange(n) / sample_rate
    nyquist = sample_rate / 2
    timbre = TIMBRE[kind]
    if timbre == "sine":
        wave = np.sin(2 * np.pi * frequency * t)
    elif timbre in ("square", "sawtooth"):
        step = 2 if timbre == "square" else 1
        wave = np.zeros(n)
        for h in range(1, int(nyquist // frequency) + 1, step):
            wave += np.sin(2 * np.pi * h * frequency * t) / h
    else:  # bell
        wave = np.zeros(n)
        for ratio, amp in ((1.0, 1.0), (2.76, 0.6), (5.40, 0.35)):
            if ratio * frequency < nyquist:
                wave += amp * np.sin(2 * np.pi * ratio * frequency * t)
    wave = wave / (np.abs(wave).max() + 1e-9)
    return wave * _envelope(n, sample_rate, decay=timbre == "bell")


def synthesize(
    scene: Scene,
    rng: np.random.Generator,
    sample_rate: int = SAMPLE_RATE,
    seconds: float = CLIP_SECONDS,
) -> np.ndarray:
    """The scene's sound: float32 mono samples in [-1, 1], ``seconds`` long."""
    if seconds < FIRST_ONSET + SLOT_SECONDS * (scene.count - 1) + BEEP_SECONDS + 0.05:
        raise ValueError(f"{seconds} s is too short for {scene.count} beeps")
    total = int(round(seconds * sample_rate))
    out = np.zeros(total)
    for k, shape in enumerate(scene.shapes):
        frequency = PITCH_HZ[shape.colour] * float(rng.uniform(0.985, 1.015))
        length = BEEP_SECONDS * float(rng.uniform(0.85, 1.15))
        onset = FIRST_ONSET + k * SLOT_SECONDS + float(rng.uniform(-0.03, 0.03))
        start = int(round(onset * sample_rate))
        tone = beep(shape.kind, frequency, length, sample_rate)[: total - start]
        out[start : start + len(tone)] += tone * float(rng.uniform(0.7, 1.0))
    out += rng.normal(0.0, 0.004, size=total)
    out *= PEAK / (np.abs(out).max() + 1e-9)
    return out.astype(np.float32)
