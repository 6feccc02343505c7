"""ImageNet-1k class names and coarse parent names, for label-based models (ConSE, label captions).

The 1000 names are torchvision's (one name per class, in class-index order). WordNet's hypernyms
need nltk's WordNet data, which is not installed; the parents here are a hand-written table of
coarse groups by index range, checked against the names (``151..268`` are dog breeds, ``281..285``
domestic cats, ...). Classes outside every group have no parent.
"""

from __future__ import annotations

from functools import lru_cache

NUM_CLASSES = 1000

# (first index, last index inclusive, parent name), or single indices listed as (i, i, name).
_PARENT_RANGES: tuple[tuple[int, int, str], ...] = (
    (0, 6, "fish"),
    (7, 24, "bird"),
    (25, 32, "amphibian"),
    (33, 37, "turtle"),
    (38, 48, "lizard"),
    (49, 50, "crocodile"),
    (52, 68, "snake"),
    (72, 77, "spider"),
    (80, 100, "bird"),
    (101, 101, "elephant"),
    (118, 121, "crab"),
    (122, 124, "lobster"),
    (125, 125, "crab"),
    (127, 146, "bird"),
    (147, 148, "whale"),
    (151, 268, "dog"),
    (269, 271, "wolf"),
    (277, 280, "fox"),
    (281, 285, "cat"),
    (286, 293, "big cat"),
    (294, 297, "bear"),
    (300, 320, "insect"),
    (321, 326, "butterfly"),
    (330, 332, "rabbit"),
    (333, 338, "rodent"),
    (341, 343, "pig"),
    (345, 347, "cattle"),
    (365, 369, "ape"),
    (370, 382, "monkey"),
    (383, 384, "lemur"),
    (385, 386, "elephant"),
    (389, 397, "fish"),
    (404, 404, "airplane"),
    (895, 895, "airplane"),
    (409, 409, "clock"),
    (530, 530, "clock"),
    (892, 892, "clock"),
    (402, 402, "guitar"),
    (546, 546, "guitar"),
    (444, 444, "bicycle"),
    (671, 671, "bicycle"),
    (665, 665, "motorcycle"),
    (670, 670, "motorcycle"),
    (657, 657, "rocket"),  # WordNet: a missile is "a rocket carrying a warhead"
    (744, 744, "rocket"),
    (812, 812, "spacecraft"),
    (732, 732, "camera"),
    (759, 759, "camera"),
    (504, 504, "cup"),
    (968, 968, "cup"),
    (967, 967, "cup of coffee"),
    (527, 527, "computer"),
    (590, 590, "computer"),
    (620, 620, "computer"),
    (487, 487, "telephone"),
    (528, 528, "telephone"),
    (707, 707, "telephone"),
    (466, 466, "train"),
    (547, 547, "train"),
    (565, 565, "train"),
    (705, 705, "train"),
    (820, 820, "train"),
    (829, 829, "train"),
    (654, 654, "bus"),
    (779, 779, "bus"),
    (874, 874, "bus"),
    (555, 555, "truck"),
    (569, 569, "truck"),
    (675, 675, "truck"),
    (717, 717, "truck"),
    (864, 864, "truck"),
    (867, 867, "truck"),
    (936, 946, "vegetable"),
    (948, 957, "fruit"),
    (947, 947, "mushroom"),
    (991, 997, "mushroom"),
    (985, 986, "flower"),
    (981, 983, "person"),
)
_CAR_CLASSES = (407, 436, 468, 511, 609, 627, 656, 661, 751, 817)
_BOAT_CLASSES = (403, 472, 484, 510, 554, 576, 625, 628, 780, 814, 833, 871, 914)


@lru_cache(maxsize=1)
def class_names() -> tuple[str, ...]:
    """The 1000 ImageNet-1k class names, in class-index order (torchvision's list)."""
    from torchvision.models import EfficientNet_B0_Weights

    names = tuple(EfficientNet_B0_Weights.DEFAULT.meta["categories"])
    if len(names) != NUM_CLASSES:  # a torchvision that changed its list: a programming error
        raise RuntimeError(f"Expected {NUM_CLASSES} ImageNet class names, got {len(names)}")
    return names


@lru_cache(maxsize=1)
def parents() -> tuple[str | None, ...]:
    """Each class's coarse parent name (``"dog"`` for ``"Labrador retriever"``), or None."""
    table: list[str | None] = [None] * NUM_CLASSES
    for first, last, parent in _PARENT_RANGES:
        for index in range(first, last + 1):
            table[index] = parent
    for index in _CAR_CLASSES:
        table[index] = "car"
    for index in _BOAT_CLASSES:
        table[index] = "boat"
    return tuple(table)

