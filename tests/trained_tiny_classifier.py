"""A tiny, really trained defect classifier for tests that need one (about 10 s on 1 CPU thread).

Three classes drawn by :mod:`tests.unit.training.synthetic_classes` (bare
texture, a dark scratch, a dark spot) at 192 px, so the classifier's last
stage is a 6 x 6 grid: coarse, but fine enough to tell where a spot is.
Trained with the project's own :func:`train_classifier` (frozen backbone, a
linear head), so the package is what ``inspector train`` would write.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import cv2
import numpy as np
import torch

from inspector.training.classifier_config import TrainConfig
from inspector.training.train_classifier import train_classifier
from tests.unit.training.synthetic_classes import CLASSES, part_image

T = TypeVar("T")
SIZE = 192
PER_CLASS = 8


def synthetic_part(kind: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A ``kind`` part (``good``, ``scratch``, ``spot``) at the tiny model's size and its mask."""
    return part_image(kind, seed, size=(SIZE, SIZE))


def write_parts(root: Path, per_class: int = PER_CLASS, seed: int = 0) -> Path:
    """``root/<class>/<stem>.png`` images (no masks), ``per_class`` of each class."""
    for c, kind in enumerate(CLASSES):
        (root / kind).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            image, _ = synthetic_part(kind, seed * 10_000 + c * 1000 + i)
            cv2.imwrite(str(root / kind / f"{kind}_{i:03d}.png"), image[..., ::-1])
    return root


def in_thread(work: Callable[[], T]) -> T:
    """Run ``work`` on a worker thread with 1 torch thread and return its result (or raise).

    On this machine torch's convolutions are several times slower on the main
    thread, and on a busy 2-core machine two torch threads mostly wait on each other.
    """
    out: dict[str, object] = {}

    def run() -> None:
        try:
            out["value"] = work()
        except BaseException as exc:  # noqa: BLE001 - re-raised on the test's thread
            out["error"] = exc

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    torch.set_num_threads(before)
    if "error" in out:
        raise out["error"]  # type: ignore[misc]
    return out["value"]  # type: ignore[return-value]


def train_tiny_classifier(workdir: Path) -> Path:
    """Train the tiny classifier under ``workdir``; returns its package folder."""
    data = write_parts(workdir / "data")
    config = TrainConfig(
        strategy="frozen", image_size=SIZE, head_epochs=40, batch_size=8, views=1, device="cpu"
    )
    result = in_thread(lambda: train_classifier(data, workdir / "tiny-classifier", config))
    return result.package_dir
