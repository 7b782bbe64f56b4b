"""Finding and decoding image files, with errors that name the file."""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np

from inspector.core.errors import SourceError

IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"})
LOW_BITS_LIMIT = 1 << 12
"""A 16-bit image whose values all stay below this (12 bits or fewer) is one from a
10- or 12-bit camera saved without scaling."""

log = logging.getLogger(__name__)
_WARNED_LOW_BITS: set[Path] = set()


def list_images(folder: str | Path, *, recursive: bool = True) -> list[Path]:
    """Return the image files under ``folder`` in a stable (sorted) order.

    Raises:
        SourceError: the folder does not exist or is not a folder.
    """
    root = Path(folder)
    if not root.is_dir():
        msg = f"image folder {root} does not exist or is not a folder: check the path"
        raise SourceError(msg)
    pattern = "**/*" if recursive else "*"
    return sorted(
        p for p in root.glob(pattern) if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS
    )


def read_image(path: str | Path) -> np.ndarray:
    """Decode an image file to RGB ``uint8`` ``(H, W, 3)``; grey images are expanded.

    Raises:
        SourceError: the file is missing, unreadable or not a decodable image.
    """
    file = Path(path)
    return decode_image_data(read_file_bytes(file), file)


def read_file_bytes(path: str | Path) -> np.ndarray:
    """An image file's bytes, for :func:`decode_image_data` (and a hash of exactly them).

    Raises:
        SourceError: the file is missing or cannot be read.
    """
    file = Path(path)
    try:
        return np.fromfile(file, dtype=np.uint8)
    except OSError as exc:
        msg = f"cannot read image {file}: {exc.strerror or exc}"
        raise SourceError(msg) from exc


def decode_image_data(data: np.ndarray, file: Path) -> np.ndarray:
    """Decode an image file's bytes (``file`` names it in messages) as :func:`read_image` does.

    Raises:
        SourceError: the bytes are empty, truncated or not a decodable image.
    """
    image = cv2.imdecode(data, cv2.IMREAD_COLOR | cv2.IMREAD_ANYDEPTH) if data.size else None
    if image is not None and image.dtype != np.uint8:  # 16-bit or float: OpenCV's 8 bits
        if image.dtype == np.uint16:
            _say_if_low_bits(image, file)
        image = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if image is None:
        msg = f"cannot decode image {file}: the file is empty, truncated or not an image"
        raise SourceError(msg)
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def _say_if_low_bits(image: np.ndarray, file: Path) -> None:
    """Warn, once per folder, about a 16-bit image that uses only its low bits.

    A 10- or 12-bit camera saved into 16-bit files keeps its values below 1024 or 4096.
    Read as 8 bits (OpenCV keeps the top byte) they keep 4 or 16 grey levels and look
    almost black, and the lighting check then blames the lamp. The bit depth is not in
    the file, so the image is not brightened on a guess (a dark part from a real 16-bit
    camera would be too); the warning says what to change.
    """
    highest = int(image.max())
    if highest >= LOW_BITS_LIMIT or file.parent in _WARNED_LOW_BITS:
        return
    _WARNED_LOW_BITS.add(file.parent)
    bits = max(highest.bit_length(), 1)
    log.warning(
        "%s is a 16-bit image whose values use only %d bits (highest %d): read as 8 bits "
        "(values / 256) it keeps %d grey levels and looks almost black. Save 8-bit images, "
        "or scale the camera's values to the full 16 bits (the same warning is not repeated "
        "for this folder)",
        file, bits, highest, 1 << max(bits - 8, 0),
    )  # fmt: skip
