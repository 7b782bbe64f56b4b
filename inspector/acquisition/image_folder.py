"""Replays a folder of images as a line: for demos, evaluation and re-inspection."""

from __future__ import annotations

from pathlib import Path

from inspector.acquisition.image_files import list_images, read_image
from inspector.acquisition.pacing import Pacer
from inspector.acquisition.source import FrameDecodeError, FrameSourceBase
from inspector.core.errors import SourceError
from inspector.core.frame import Frame


class ImageFolderSource(FrameSourceBase):
    """Images of a folder, in sorted path order, one part per image.

    The file list is taken once, when the source is made, so a replay is
    repeatable even while files are being added to the folder.

    Args:
        folder: Folder to read.
        loop: Start again from the first image after the last one.
        recursive: Include images in sub-folders.
        rate_hz: Images per second; ``0`` delivers as fast as the consumer asks.
        camera_id: Camera id written on every frame.

    Raises:
        SourceError: the folder does not exist or holds no image files.
    """

    live = False

    def __init__(
        self,
        folder: str | Path,
        *,
        loop: bool = False,
        recursive: bool = True,
        rate_hz: float = 0.0,
        camera_id: str = "folder",
    ) -> None:
        self.folder = Path(folder)
        self.paths = list_images(self.folder, recursive=recursive)
        if not self.paths:
            where = "in it or its sub-folders" if recursive else "directly in it"
            msg = (
                f"image folder {self.folder} has no image files {where}: "
                f"expected .png, .jpg, .bmp, .tif or .webp files"
            )
            raise SourceError(msg)
        super().__init__(camera_id)
        self.loop = loop
        self._pacer = Pacer(rate_hz, self._closed, live=False)
        self._index = 0
        self._decoded_this_pass = False
        count = len(self.paths)
        self.name = f"Folder {self.folder} ({count} image{'s' if count != 1 else ''})"

    def __next__(self) -> Frame:
        if self._index >= len(self.paths):
            if not self.loop:
                raise StopIteration
            if not self._decoded_this_pass:
                msg = f"no image in folder {self.folder} could be decoded: check the files"
                raise SourceError(msg)
            self._index = 0
            self._decoded_this_pass = False
        trigger = self._pacer.wait()
        if trigger is None:
            raise StopIteration
        path = self.paths[self._index]
        self._index += 1
        part_id = self._take_part_id()
        try:
            image = read_image(path)
        except SourceError as exc:
            raise FrameDecodeError(str(exc), part_id=part_id, origin=str(path)) from exc
        self._decoded_this_pass = True
        return self._frame(image, part_id, origin=str(path), timestamp=trigger)
