"""Finding and decoding image files, with errors that name the file."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from inspector.core.errors import SourceError

IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"})


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
    try:
        data = np.fromfile(file, dtype=np.uint8)
    except OSError as exc:
        msg = f"cannot read image {file}: {exc.strerror or exc}"
        raise SourceError(msg) from exc
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if image is None:
        msg = f"cannot decode image {file}: the file is empty, truncated or not an image"
        raise SourceError(msg)
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
