"""Part images on disk, beside the database, named so that people can find them.

The database stores only a path relative to the store root, so that a
station's data folder (database plus ``images/``) can be moved or backed up as
one piece. Files are written atomically: a crash never leaves a truncated JPEG
under a name the database points to.
"""

from __future__ import annotations

import os
import re
import threading
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np
from sqlalchemy import Engine

from inspector.core.errors import StorageError
from inspector.core.verdict import Verdict

JPEG_QUALITY = 92
_UNSAFE_NAME_CHARS = re.compile(r"[^A-Za-z0-9._-]+")


class ImageStore:
    """A folder of JPEG part images, one sub-folder per (UTC) day.

    Args:
        root: Folder that holds the day folders; created on the first save.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    @classmethod
    def beside(cls, db_path: Path) -> ImageStore:
        """The default store for a database file: ``<database folder>/images``."""
        return cls(Path(db_path).parent / "images")

    @classmethod
    def for_database(cls, engine: Engine, images: Path | None = None) -> ImageStore:
        """The store of a station: ``images`` when configured, else the default.

        Several stations writing to one PostgreSQL database share one image
        root (``[storage] images``, e.g. a plant share): records store paths
        relative to it, so every station and QA PC mounting it finds every
        image. Without it, a SQLite database keeps its images beside the file
        and a PostgreSQL one in ``images/`` of the working folder.
        """
        if images is not None:
            return cls(Path(images).expanduser())
        if engine.url.get_backend_name() == "sqlite" and engine.url.database not in (
            None,
            "",
            ":memory:",
        ):
            return cls.beside(Path(engine.url.database))
        return cls(Path.cwd() / "images")

    def save(
        self,
        image_rgb: np.ndarray,
        *,
        captured_at: datetime,
        station: str,
        part_id: int,
        verdict: Verdict | str,
    ) -> str:
        """Write one part image as JPEG and return its path relative to the root.

        The name ``YYYY-MM-DD/<station>_<part_id:08d>_<verdict>_<HHMMSSffffff>.jpg``
        sorts by time within a day and tells a person what the part was
        without opening the database.

        Raises:
            StorageError: the image cannot be encoded, or the file cannot be
                written (disk full, no permission); the message names the path.
        """
        when = captured_at.astimezone(UTC) if captured_at.tzinfo else captured_at
        verdict_name = verdict.value if isinstance(verdict, Verdict) else str(verdict)
        station_name = _UNSAFE_NAME_CHARS.sub("-", station) or "station"
        name = f"{station_name}_{part_id:08d}_{verdict_name}_{when:%H%M%S%f}"
        relative = f"{when:%Y-%m-%d}/{name}.jpg"
        data = _encode_jpeg(image_rgb, relative)
        folder = self.root / f"{when:%Y-%m-%d}"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            # Two cameras may see the same part in the same microsecond: never overwrite.
            suffix = 1
            while (self.root / relative).exists():
                relative = f"{when:%Y-%m-%d}/{name}-{suffix}.jpg"
                suffix += 1
            _write_atomically(self.root / relative, data)
        except OSError as exc:
            msg = (
                f"cannot save image {self.root / relative}: {exc.strerror or exc}; "
                "free disk space or choose an image folder you can write to"
            )
            raise StorageError(msg) from exc
        return relative

    def path(self, relative: str) -> Path:
        """The absolute file for a stored relative path.

        Raises:
            StorageError: the path would lead outside the store (a corrupted record).
        """
        root = self.root.resolve()
        full = (root / relative).resolve()
        if not full.is_relative_to(root):
            msg = f"image path {relative!r} leads outside the image store {root}: corrupt record"
            raise StorageError(msg)
        return full

    def load(self, relative: str) -> np.ndarray:
        """Read a stored image back as RGB ``uint8`` ``(H, W, 3)``.

        Raises:
            StorageError: the file is missing, unreadable or not an image.
        """
        full = self.path(relative)
        try:
            data = np.fromfile(full, dtype=np.uint8)
        except OSError as exc:
            msg = f"cannot read image {full}: {exc.strerror or exc}; was it moved or deleted?"
            raise StorageError(msg) from exc
        image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
        if image is None:
            msg = f"stored image {full} is empty or damaged; it cannot be shown"
            raise StorageError(msg)
        return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def _encode_jpeg(image_rgb: np.ndarray, relative: str) -> bytes:
    image = np.asarray(image_rgb)
    if image.dtype != np.uint8 or image.ndim not in (2, 3) or image.size == 0:
        msg = (
            f"cannot save image {relative}: expected a non-empty uint8 RGB or grey image, "
            f"got dtype {image.dtype} shape {image.shape}"
        )
        raise StorageError(msg)
    if image.ndim == 3:
        if image.shape[2] != 3:
            msg = f"cannot save image {relative}: expected 3 RGB channels, got shape {image.shape}"
            raise StorageError(msg)
        image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    ok, buffer = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        msg = f"cannot save image {relative}: OpenCV could not encode it as JPEG"
        raise StorageError(msg)
    return buffer.tobytes()


def _write_atomically(target: Path, data: bytes) -> None:
    """Write to a temporary file in the same folder, flush it to disk, then rename."""
    tmp = target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        with open(tmp, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
