"""Choosing where models run, and the numeric mode they run in there.

A station configured for ``cuda`` must still start on a machine whose GPU or
driver is missing (a spare PC, a broken update): it falls back to the CPU with
a warning in the log rather than refusing to inspect.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

import torch

log = logging.getLogger(__name__)


def select_device(request: str = "auto") -> torch.device:
    """Resolve a device request to a usable ``torch.device``.

    Args:
        request: ``"auto"`` (CUDA if available, else CPU), ``"cpu"``, ``"cuda"``
            or ``"cuda:N"``.

    Returns:
        The device to use. A CUDA request on a machine without a usable GPU
        (or without GPU ``N``) returns the CPU and logs a warning.

    Raises:
        ValueError: ``request`` is none of the forms above.
    """
    text = request.strip().lower()
    if text == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if text == "cpu":
        return torch.device("cpu")
    if text == "cuda" or text.startswith("cuda:"):
        try:
            device = torch.device(text)
        except RuntimeError as exc:
            msg = f"device {request!r} is not valid: use 'auto', 'cpu', 'cuda' or 'cuda:N'"
            raise ValueError(msg) from exc
        if not torch.cuda.is_available():
            log.warning("device %r requested but CUDA is not available: running on the CPU", text)
            return torch.device("cpu")
        index = device.index or 0
        if index >= torch.cuda.device_count():
            log.warning(
                "device %r requested but only %d GPU(s) found: running on the CPU",
                text,
                torch.cuda.device_count(),
            )
            return torch.device("cpu")
        return torch.device("cuda", index)
    msg = f"device {request!r} is not valid: use 'auto', 'cpu', 'cuda' or 'cuda:N'"
    raise ValueError(msg)


def device_name(device: torch.device) -> str:
    """Name a device for people: the GPU's name, or ``"CPU (N threads)"``."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"CPU ({torch.get_num_threads()} threads)"


@contextlib.contextmanager
def inference_context(device: torch.device) -> Iterator[None]:
    """No autograd, plus float16 autocast on CUDA (float32 on the CPU).

    Fitting and inference both run their forward passes in this context, so the
    features stored in a memory bank and the features compared with it are
    computed with the same numerics.
    """
    with torch.inference_mode():
        if device.type == "cuda":
            with torch.autocast("cuda", dtype=torch.float16):
                yield
        else:
            yield
