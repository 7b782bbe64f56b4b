"""What every supervised training run shares: seeding, progress with cancel, the cancel error.

Classifier and segmenter training both promise the same things: the same
data, options and seed give the same weights on the same machine, progress
is reported as ``progress(epoch, step, total, metrics)``, and a cancel at any
step raises :class:`TrainingCancelled` before anything is written.
"""

from __future__ import annotations

import contextlib
import random
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np
import torch

from inspector.core.errors import InspectorError

Progress = Callable[[int, int, int, Mapping[str, Any]], None]
"""``progress(epoch, step, total, metrics)``; ``metrics["stage"]`` says what is counted:
``"read"`` and ``"cache"`` (epoch 0, before training), ``"train"`` (each step, with the
running ``train_loss``), ``"epoch"`` (an epoch's end: ``step == total``, with its
``phase``, ``train_loss``, ``val_loss``, ``best_epoch`` and the task's validation figures:
``train_accuracy``, ``val_accuracy``, ``val_macro_f1`` for a classifier, ``val_miou``
for a segmenter) and ``"evaluate"`` (the kept weights, through the inference path)."""
Cancel = threading.Event | Callable[[], bool]


class TrainingCancelled(InspectorError):
    """Training was cancelled; nothing was saved."""


@contextlib.contextmanager
def repeatable(seed: int, device: torch.device) -> Iterator[None]:
    """Seed every generator and ask torch for deterministic algorithms, restoring after.

    On the CPU every algorithm training uses has a deterministic version; on
    CUDA some do not, so there torch only warns.
    """
    previous = (
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
        torch.backends.cudnn.deterministic,
        torch.backends.cudnn.benchmark,
    )
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=device.type != "cpu")
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(previous[0], warn_only=previous[1])
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = previous[2:]


def reporter(progress: Progress | None, cancel: Cancel | None) -> Progress:
    """A progress function that first raises :class:`TrainingCancelled` when asked to stop."""
    is_cancelled = cancel.is_set if isinstance(cancel, threading.Event) else cancel

    def report(epoch: int, step: int, total: int, metrics: Mapping[str, Any]) -> None:
        if is_cancelled is not None and is_cancelled():
            msg = f"training cancelled ({metrics.get('stage')}, epoch {epoch}): nothing was saved"
            raise TrainingCancelled(msg)
        if progress is not None:
            progress(epoch, step, total, metrics)

    return report
