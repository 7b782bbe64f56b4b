"""Augmentation for training: a default pipeline for industrial images, or one from a file.

Industrial images differ from photos: the part sits in a fixture, the camera
does not move and the light is controlled, so the variation worth teaching is
small (a mirrored part, a part shifted, scaled or turned by 2 %/2 degrees, a
little more or less light (5 %), a touch of blur or sensor noise). Large
rotations are only safe where the part looks the same turned, so they are off
unless asked for (``rotate``). Stronger settings measurably hurt on
magnetic-tile: with frozen features, shifts of 5 % with mirrored borders cost
3-4 points of good-vs-defect accuracy on a held-out split of its training
images, and brightness changes of 15 % blur a real cue (defective tiles there
are brighter than good ones).

A pipeline is a list of :class:`TransformSpec` (an albumentations transform
name and its arguments), so it can be written in a small JSON or TOML file,
stored in the model's metadata and rebuilt exactly. Masks given with an image
are transformed with it (albumentations moves them with the pixels).
"""

from __future__ import annotations

import difflib
import inspect
import json
import random
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import albumentations as A
import cv2
import numpy as np


@dataclass(frozen=True)
class TransformSpec:
    """One albumentations transform: its class name and keyword arguments."""

    name: str
    args: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The spec as written in an augmentation file: ``{"name": ..., **args}``."""
        return {"name": self.name, **self.args}


def default_augmentation(rotate: bool = False) -> list[TransformSpec]:
    """The default pipeline for images of parts in a fixture.

    Args:
        rotate: Add 90-degree rotations; only for parts that look the same turned.
    """
    specs = [
        TransformSpec("HorizontalFlip", {"p": 0.5}),
        TransformSpec("VerticalFlip", {"p": 0.5}),
    ]
    if rotate:
        specs.append(TransformSpec("RandomRotate90", {"p": 0.5}))
    specs += [
        TransformSpec(
            "Affine",
            {
                "translate_percent": [-0.02, 0.02],
                "scale": [0.98, 1.02],
                "rotate": [-2, 2],
                # Edges copied outwards: black corners or mirrored edges would be
                # cues no real part has (and look like broken or frayed edges).
                "border_mode": cv2.BORDER_REPLICATE,
                "p": 0.3,
            },
        ),
        TransformSpec(
            "RandomBrightnessContrast", {"brightness_limit": 0.05, "contrast_limit": 0.05, "p": 0.3}
        ),
        TransformSpec("GaussianBlur", {"blur_limit": [3, 3], "sigma_limit": [0.1, 0.6], "p": 0.1}),
        TransformSpec("GaussNoise", {"std_range": [0.004, 0.012], "p": 0.1}),
    ]
    return specs


def load_augmentation_file(path: str | Path) -> list[TransformSpec]:
    """Read a pipeline from a JSON or TOML file (by its extension).

    The file holds a ``transforms`` list, each entry a ``name`` (an
    albumentations transform class) and its arguments, e.g. in TOML::

        [[transforms]]
        name = "HorizontalFlip"
        p = 0.5

    or in JSON ``{"transforms": [{"name": "HorizontalFlip", "p": 0.5}]}``. An
    empty list means no augmentation. Names and arguments are checked by
    :func:`build_augmentation`.

    Raises:
        ValueError: the file is missing, unreadable, not JSON/TOML, or not of that shape.
    """
    file = Path(path)
    suffix = file.suffix.lower()
    if suffix not in (".json", ".toml"):
        msg = f"augmentation file {file} must end in .json or .toml"
        raise ValueError(msg)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        msg = f"cannot read augmentation file {file}: {exc}"
        raise ValueError(msg) from exc
    try:
        content = json.loads(text) if suffix == ".json" else tomllib.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        msg = f"augmentation file {file} is not valid {suffix[1:].upper()}: {exc}"
        raise ValueError(msg) from exc
    entries = content.get("transforms") if isinstance(content, dict) else None
    if not isinstance(entries, list):
        msg = (
            f"augmentation file {file} needs a 'transforms' list of {{name = ..., args...}} "
            "entries (an empty list for no augmentation)"
        )
        raise ValueError(msg)
    specs = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            msg = f"augmentation file {file}: transform {i} has no 'name' (got {entry!r})"
            raise ValueError(msg)
        args = {k: v for k, v in entry.items() if k != "name"}
        specs.append(TransformSpec(entry["name"], args))
    return specs


def _transform_class(name: str) -> type[A.BasicTransform]:
    candidate = getattr(A, name, None)
    if isinstance(candidate, type) and issubclass(candidate, A.BasicTransform):
        return candidate
    known = sorted(
        n
        for n in dir(A)
        if isinstance(getattr(A, n), type) and issubclass(getattr(A, n), A.BasicTransform)
    )
    close = difflib.get_close_matches(name, known, n=3)
    hint = f" (did you mean {', '.join(close)}?)" if close else ""
    msg = (
        f"unknown augmentation transform {name!r}{hint}: use the name of an albumentations "
        "transform class, e.g. HorizontalFlip, Affine, RandomBrightnessContrast"
    )
    raise ValueError(msg)


def _build_transform(spec: TransformSpec) -> A.BasicTransform:
    cls = _transform_class(spec.name)
    parameters = inspect.signature(cls.__init__).parameters
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
    valid = sorted(n for n in parameters if n not in ("self", "args", "kwargs"))
    unknown = sorted(set(spec.args) - set(valid))
    if unknown and not takes_any:
        msg = (
            f"augmentation transform {spec.name} has no argument(s) {', '.join(unknown)}: "
            f"it takes {', '.join(valid)}"
        )
        raise ValueError(msg)
    try:
        return cls(**spec.args)
    except (TypeError, ValueError) as exc:  # pydantic's ValidationError is a ValueError
        msg = f"augmentation transform {spec.name} refuses arguments {dict(spec.args)}: {exc}"
        raise ValueError(msg) from exc


def build_augmentation(specs: Sequence[TransformSpec], image_size: int) -> A.Compose:
    """Build and check a pipeline for square ``image_size`` RGB images (with masks).

    Each transform is tried once on a blank image and mask: a pipeline that
    needs inputs training does not give, or that changes the image's size or
    type (the model's input is fixed), is refused here rather than after
    minutes of training.

    Raises:
        ValueError: an unknown transform, a bad argument, or a transform that
            does not keep a ``(image_size, image_size, 3)`` ``uint8`` image.
    """
    transforms = [_build_transform(spec) for spec in specs]
    image = np.zeros((image_size, image_size, 3), np.uint8)
    mask = np.zeros((image_size, image_size), np.uint8)
    for spec, transform in zip(specs, transforms, strict=True):
        try:
            out = A.Compose([transform], p=1.0)(image=image, mask=mask)
        except Exception as exc:  # albumentations raises many types for missing inputs
            msg = f"augmentation transform {spec.name} cannot run in training: {exc}"
            raise ValueError(msg) from exc
        shown = out["image"]
        if shown.shape != image.shape or shown.dtype != np.uint8:
            msg = (
                f"augmentation transform {spec.name} turns a {image.shape} uint8 image into "
                f"{shown.shape} {shown.dtype}: the model input is fixed at {image_size} px, "
                "so use transforms that keep the size (crops with size=[image_size, image_size])"
            )
            raise ValueError(msg)
    return A.Compose(transforms, p=1.0)


def training_augmentation(
    augment_file: str | Path | None, rotate: bool, image_size: int
) -> tuple[A.Compose | None, list[TransformSpec]]:
    """The pipeline training uses: from ``augment_file``, else the default.

    Returns:
        The checked pipeline (``None`` when the file lists no transforms) and its specs.

    Raises:
        ValueError: as :func:`load_augmentation_file` and :func:`build_augmentation`.
    """
    specs = (
        load_augmentation_file(augment_file)
        if augment_file is not None
        else default_augmentation(rotate)
    )
    return (build_augmentation(specs, image_size) if specs else None), specs


def augment(
    pipeline: A.Compose, image: np.ndarray, seed: int, mask: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray | None]:
    """Apply ``pipeline`` with its random state set from ``seed``.

    Seeding per sample (rather than once per pipeline) makes what a sample
    looks like independent of the order samples are drawn in and of how many
    loader workers draw them: the same seed gives the same training. All
    transforms draw from one shared generator: albumentations'
    ``Compose.set_random_seed`` (2.0.8) gives every transform its own
    generator with the *same* seed, so their draws coincide (a horizontal
    flip would always come with a vertical one).

    Returns:
        The augmented image and, when one was given, the mask moved with it.
    """
    pipeline.set_random_state(np.random.default_rng(seed), random.Random(seed))
    if mask is None:
        return pipeline(image=image)["image"], None
    out = pipeline(image=image, mask=mask)
    return out["image"], out["mask"]
