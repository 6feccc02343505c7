"""Classification tasks of the bundled world, built so that no single modality suffices.

A world sample shows three things, each in its own modality:

- **image**: the scene (every shape's kind, colour, size and column);
- **audio**: the sound of the *sound scene*, which is the scene itself for half of the samples and,
  for the other half, the scene with one shape's colour or kind changed (a near miss);
- **text**: a *claim* about the scene ("the red circle is large."), true for half of the samples.

The labels compare modalities, so a model has to look at (at least) two of them and relate them:

==============  =========================================  ====================  =================
task            label                                      classes               needs
==============  =========================================  ====================  =================
``claim``       is the text's claim true of the image?     false, true           text + image
``sound_match`` is the audio the sound of the image?        different, same       audio + image
``verdict``     both answers together                      neither, claim_only,  text + image +
                                                           sound_only, both      audio
``exactly_one`` claim XOR sound_match                      no, yes               text + image +
                                                                                 audio
==============  =========================================  ====================  =================

Every label is balanced by construction (claim truth and sound match are independent fair coins),
so any single modality alone scores chance level: the text alone does not say whether its claim
holds, the image alone does not know the claim or the sound, the audio alone does not know the
picture. Fusion strategies differ on them: late fusion of per-modality predictions cannot beat
chance; concatenation must learn a comparison; multiplicative and attention fusion compare
directly; ``exactly_one`` is an XOR that no linear head over the modalities can fit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from mmdemo.world.scenes import Scene
from mmdemo.world.text import Claim


@dataclass(frozen=True)
class WorldContent:
    """What the three modalities of one sample carry: the image's scene, the audio's scene, the claim."""

    scene: Scene
    sound_scene: Scene
    claim: Claim

    @property
    def sound_matches(self) -> bool:
        return self.sound_scene.sound_key() == self.scene.sound_key()


@dataclass(frozen=True)
class TaskSpec:
    """A classification task: its classes, the modalities it needs, and its labelling rule."""

    name: str
    classes: tuple[str, ...]
    modalities: tuple[str, ...]
    description: str
    rule: Callable[[WorldContent], str]

    def label(self, content: WorldContent) -> str:
        return self.rule(content)


def _verdict(content: WorldContent) -> str:
    if content.claim.true and content.sound_matches:
        return "both"
    if content.claim.true:
        return "claim_only"
    if content.sound_matches:
        return "sound_only"
    return "neither"


TASKS: dict[str, TaskSpec] = {
    spec.name: spec
    for spec in (
        TaskSpec(
            "claim",
            ("false", "true"),
            ("text", "image"),
            "Is the text's claim true of the picture?",
            lambda c: "true" if c.claim.true else "false",
        ),
        TaskSpec(
            "sound_match",
            ("different", "same"),
            ("audio", "image"),
            "Is the audio the sound of the picture (same colours and kinds, left to right)?",
            lambda c: "same" if c.sound_matches else "different",
        ),
        TaskSpec(
            "verdict",
            ("neither", "claim_only", "sound_only", "both"),
            ("text", "image", "audio"),
            "Which of the text and the audio agree with the picture?",
            _verdict,
        ),
        TaskSpec(
            "exactly_one",
            ("no", "yes"),
            ("text", "image", "audio"),
            "Does exactly one of the text and the audio agree with the picture (an XOR)?",
            lambda c: "yes" if c.claim.true != c.sound_matches else "no",
        ),
    )
}


def get_task(name: str) -> TaskSpec:
    """The task called ``name``; an unknown name raises ``ValueError`` listing the valid ones."""
    if name not in TASKS:
        raise ValueError(f"Unknown world task {name!r}; valid tasks: {list(TASKS)}")
    return TASKS[name]


def labels_of(content: WorldContent) -> dict[str, str]:
    """Every task's label for one sample, in :data:`TASKS` order."""
    return {name: spec.label(content) for name, spec in TASKS.items()}
