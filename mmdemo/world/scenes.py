"""Scenes of the bundled world: one to three flat shapes standing in three columns.

A scene is a left-to-right tuple of :class:`Shape` records. Each shape has four *attributes* that
captions, questions, sounds and labels talk about, and a little *nuisance* (jitter, rotation, the
background tint) that only changes pixels:

- ``kind``: one of :data:`KINDS` (circle, square, triangle, star);
- ``colour``: one of :data:`COLOURS` (six saturated colours);
- ``size``: one of :data:`SIZES` (small, large);
- ``position``: one of :data:`POSITIONS`, the column the shape stands in (left, middle, right).

:func:`sample_scene` draws the plain world (the data set's scenes: a 3x3 grid, little jitter);
:func:`sample_free_scene` a free layout (any place within the column, any radius within the size's
band :data:`SIZE_BANDS`, any rotation, any light tint), which pretraining mixes in.

No two shapes of a scene share both colour and kind, so "the red circle" always names one shape.
The *description* of a scene (:meth:`Scene.key`) is its attributes without nuisance: two scenes with
the same key get the same caption.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

KINDS: tuple[str, ...] = ("circle", "square", "triangle", "star")
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 38, 38),
    "orange": (245, 130, 20),
    "yellow": (230, 200, 20),
    "green": (34, 160, 60),
    "blue": (40, 90, 225),
    "purple": (140, 60, 190),
}
COLOUR_NAMES: tuple[str, ...] = tuple(COLOURS)
SIZES: tuple[str, ...] = ("small", "large")
POSITIONS: tuple[str, ...] = ("left", "middle", "right")
MAX_SHAPES = len(POSITIONS)

# Layout: the canvas is a 3x3 grid of cells. A shape stands in its column (an attribute) and in a
# random row (nuisance: captions do not mention it), near the cell's centre. Cells line up with the
# bundled models' image patches, which is what lets such small models learn the world in minutes.
ROWS = 3
JITTER = 0.015  # fraction of the canvas side, both directions
MAX_ROTATION = 10.0  # degrees, for the shapes that are not round


@dataclass(frozen=True)
class Shape:
    """One shape of a scene.

    Attributes:
        kind: one of :data:`KINDS`.
        colour: one of :data:`COLOUR_NAMES`.
        size: one of :data:`SIZES`.
        position: one of :data:`POSITIONS` (the column).
        dx: horizontal offset from the column centre, fraction of the canvas side.
        dy: vertical offset from the canvas centre, fraction of the canvas side.
        angle: rotation in degrees (ignored for circles).
        radius: radius as a fraction of the canvas's shorter side; None: the plain world's radius of
            ``size`` (:data:`mmdemo.world.render.RADIUS`). Free layouts draw it within
            :data:`SIZE_BANDS`, so the size label stays exact.
    """

    kind: str
    colour: str
    size: str
    position: str
    dx: float = 0.0
    dy: float = 0.0
    angle: float = 0.0
    radius: float | None = None

    def __post_init__(self) -> None:
        for value, valid, what in (
            (self.kind, KINDS, "kind"),
            (self.colour, COLOUR_NAMES, "colour"),
            (self.size, SIZES, "size"),
            (self.position, POSITIONS, "position"),
        ):
            if value not in valid:
                raise ValueError(f"Unknown shape {what} {value!r}; valid: {list(valid)}")

    @property
    def key(self) -> tuple[str, str, str, str]:
        """The attributes (kind, colour, size, position), without nuisance."""
        return (self.kind, self.colour, self.size, self.position)

    @property
    def name(self) -> str:
        """The referring expression, e.g. ``"red circle"``."""
        return f"{self.colour} {self.kind}"


@dataclass(frozen=True)
class Scene:
    """A scene: shapes in left-to-right order plus the background tint (RGB)."""

    shapes: tuple[Shape, ...]
    background: tuple[int, int, int] = (245, 245, 245)

    def __post_init__(self) -> None:
        if not 1 <= len(self.shapes) <= MAX_SHAPES:
            raise ValueError(f"A scene holds 1 to {MAX_SHAPES} shapes, got {len(self.shapes)}")
        columns = [POSITIONS.index(shape.position) for shape in self.shapes]
        if columns != sorted(set(columns)):
            raise ValueError(
                f"Shapes must stand in distinct columns, listed left to right; got {columns}"
            )
        names = [shape.name for shape in self.shapes]
        if len(set(names)) != len(names):
            raise ValueError(f"Two shapes share colour and kind: {names}")

    @property
    def count(self) -> int:
        return len(self.shapes)

    def key(self) -> tuple[tuple[str, str, str, str], ...]:
        """The scene's description: every shape's attributes, left to right."""
        return tuple(shape.key for shape in self.shapes)

    def sound_key(self) -> tuple[tuple[str, str], ...]:
        """What the scene's sound carries: (colour, kind) of every shape, left to right."""
        return tuple((shape.colour, shape.kind) for shape in self.shapes)

    def find(self, colour: str, kind: str) -> Shape | None:
        """The shape with this colour and kind, or None."""
        for shape in self.shapes:
            if shape.colour == colour and shape.kind == kind:
                return shape
        return None

    def at(self, position: str) -> Shape | None:
        """The shape standing in column ``position``, or None."""
        for shape in self.shapes:
            if shape.position == position:
                return shape
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "shapes": [
                {
                    "kind": s.kind,
                    "colour": s.colour,
                    "size": s.size,
                    "position": s.position,
                    "dx": round(s.dx, 6),
                    "dy": round(s.dy, 6),
                    "angle": round(s.angle, 4),
                    **({"radius": round(s.radius, 6)} if s.radius is not None else {}),
                }
                for s in self.shapes
            ],
            "background": list(self.background),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Scene:
        shapes = tuple(Shape(**shape) for shape in data["shapes"])
        background = tuple(int(v) for v in data.get("background", (245, 245, 245)))
        return cls(shapes=shapes, background=background)  # type: ignore[arg-type]


def _unused_kind_and_colour(rng: np.random.Generator, used: set[tuple[str, str]]) -> tuple[str, str]:
    """A (kind, colour) drawn uniformly, kind first, until its (colour, kind) is not in ``used``
    (no two shapes of a scene alike); the caller records it."""
    while True:
        kind = KINDS[int(rng.integers(len(KINDS)))]
        colour = COLOUR_NAMES[int(rng.integers(len(COLOUR_NAMES)))]
        if (colour, kind) not in used:
            return kind, colour


def sample_scene(rng: np.random.Generator, count: int | None = None) -> Scene:
    """Draw a scene: 1-3 shapes (uniform unless ``count`` is given) in random distinct columns."""
    if count is None:
        count = int(rng.integers(1, MAX_SHAPES + 1))
    if not 1 <= count <= MAX_SHAPES:
        raise ValueError(f"count must be between 1 and {MAX_SHAPES}, got {count}")
    columns = sorted(rng.choice(len(POSITIONS), size=count, replace=False).tolist())
    shapes: list[Shape] = []
    used: set[tuple[str, str]] = set()
    for column in columns:
        kind, colour = _unused_kind_and_colour(rng, used)
        used.add((colour, kind))
        shapes.append(
            Shape(
                kind=kind,
                colour=colour,
                size=SIZES[int(rng.integers(len(SIZES)))],
                position=POSITIONS[column],
                dx=float(rng.uniform(-JITTER, JITTER)),
                dy=(int(rng.integers(ROWS)) - (ROWS - 1) / 2) / ROWS + float(rng.uniform(-JITTER, JITTER)),
                angle=float(rng.uniform(-MAX_ROTATION, MAX_ROTATION)),
            )
        )
    background = tuple(int(v) for v in rng.integers(228, 256, size=3))
    return Scene(shapes=tuple(shapes), background=background)  # type: ignore[arg-type]


# Free layouts (:func:`sample_free_scene`): any place within the shape's column, any size within its
# band, any rotation. Bands of radii (fractions of the canvas's shorter side) with a gap between them.
SIZE_BANDS: dict[str, tuple[float, float]] = {"small": (0.06, 0.1), "large": (0.13, 0.25)}
MULTI_LARGE_MAX = 0.17  # the largest radius when a scene holds more than one shape
COLUMN_MARGIN = 0.03  # a centre keeps this far (canvas fraction) from its column's borders
_EXTENT = 1.3  # a shape's reach from its centre, in radii (the star and triangle tips reach 1.25)


def _free_shape(rng: np.random.Generator, kind: str, colour: str, column: int, crowded: bool) -> Shape | None:
    size = SIZES[int(rng.integers(len(SIZES)))]
    low, high = SIZE_BANDS[size]
    if crowded and size == "large":
        high = MULTI_LARGE_MAX
    radius = float(rng.uniform(low, high))
    reach = _EXTENT * radius
    left = max(column / len(POSITIONS) + COLUMN_MARGIN, reach)
    right = min((column + 1) / len(POSITIONS) - COLUMN_MARGIN, 1.0 - reach)
    if left >= right:
        return None
    x = float(rng.uniform(left, right))
    y = float(rng.uniform(reach, 1.0 - reach))
    return Shape(
        kind=kind, colour=colour, size=size, position=POSITIONS[column],
        dx=x - (column + 0.5) / len(POSITIONS), dy=y - 0.5,
        angle=float(rng.uniform(-180.0, 180.0)), radius=radius,
    )


def _overlap(a: Shape, b: Shape) -> bool:
    ax, bx = a.dx + (POSITIONS.index(a.position) + 0.5) / len(POSITIONS), b.dx + (POSITIONS.index(b.position) + 0.5) / len(POSITIONS)
    distance = float(np.hypot(ax - bx, a.dy - b.dy))
    return distance < _EXTENT * ((a.radius or 0.0) + (b.radius or 0.0))


def light_tint(rng: np.random.Generator) -> tuple[int, int, int]:
    """A light background: white, grey or a pale tint of any hue."""
    import colorsys

    rgb = colorsys.hsv_to_rgb(float(rng.random()), float(rng.uniform(0.0, 0.12)), float(rng.uniform(0.86, 1.0)))
    return tuple(int(round(255 * c)) for c in rgb)  # type: ignore[return-value]


def sample_free_scene(rng: np.random.Generator, count: int | None = None) -> Scene:
    """A scene in a free layout: 1-3 shapes (one half of the time unless ``count`` is given) anywhere
    in distinct columns, at any size within their size's band and any rotation, not overlapping,
    on a light background of any tint. Every label (kind, colour, size, column) stays exact."""
    if count is None:
        count = 1 if rng.random() < 0.5 else int(rng.integers(2, MAX_SHAPES + 1))
    if not 1 <= count <= MAX_SHAPES:
        raise ValueError(f"count must be between 1 and {MAX_SHAPES}, got {count}")
    while True:
        columns = sorted(rng.choice(len(POSITIONS), size=count, replace=False).tolist())
        shapes: list[Shape] = []
        used: set[tuple[str, str]] = set()
        for column in columns:
            kind, colour = _unused_kind_and_colour(rng, used)
            for _ in range(50):
                shape = _free_shape(rng, kind, colour, column, crowded=count > 1)
                if shape is not None and not any(_overlap(shape, other) for other in shapes):
                    break
            else:
                shape = None
            if shape is None:
                break
            used.add((colour, kind))
            shapes.append(shape)
        if len(shapes) == count:
            return Scene(shapes=tuple(shapes), background=light_tint(rng))


def perturb_scene(scene: Scene, rng: np.random.Generator) -> Scene:
    """The scene with one shape's colour or kind changed, so its sound differs from the original's.

    Used for the classification tasks: a sound that *almost* matches the picture.
    """
    index = int(rng.integers(scene.count))
    taken = {shape.name for i, shape in enumerate(scene.shapes) if i != index}
    old = scene.shapes[index]
    while True:
        if rng.random() < 0.5:
            new = replace(old, colour=COLOUR_NAMES[int(rng.integers(len(COLOUR_NAMES)))])
        else:
            new = replace(old, kind=KINDS[int(rng.integers(len(KINDS)))])
        if new.name != old.name and new.name not in taken:
            break
    shapes = list(scene.shapes)
    shapes[index] = new
    return replace(scene, shapes=tuple(shapes))


def vary_scene(scene: Scene, rng: np.random.Generator) -> Scene:
    """A near miss: the scene with one attribute of one shape changed (kind, colour, size or column).

    Pretraining puts such pairs in the same batch as hard negatives, so fine distinctions (a star
    or a triangle, left or middle) are learnt early instead of waiting for rare chance pairs.
    """
    index = int(rng.integers(scene.count))
    old = scene.shapes[index]
    taken = {shape.name for i, shape in enumerate(scene.shapes) if i != index}
    free = [p for p in POSITIONS if scene.at(p) is None]
    attributes = ["kind", "colour", "size"] + (["position"] if free else [])
    attribute = attributes[int(rng.integers(len(attributes)))]
    while True:
        if attribute == "kind":
            new = replace(old, kind=KINDS[int(rng.integers(len(KINDS)))])
        elif attribute == "colour":
            new = replace(old, colour=COLOUR_NAMES[int(rng.integers(len(COLOUR_NAMES)))])
        elif attribute == "size":
            new = replace(old, size="large" if old.size == "small" else "small")
        else:
            new = replace(old, position=free[int(rng.integers(len(free)))])
        if old.radius is not None and new.size != old.size:  # a free shape: a radius of its new size
            new = replace(new, radius=float(rng.uniform(*SIZE_BANDS[new.size])))
        if new.key != old.key and new.name not in taken:
            break
    shapes = sorted(
        (new if i == index else shape for i, shape in enumerate(scene.shapes)),
        key=lambda shape: POSITIONS.index(shape.position),
    )
    return replace(scene, shapes=tuple(shapes))
