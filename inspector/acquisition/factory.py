"""Turns the source text a person types (CLI, settings) into a frame source."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

from inspector.acquisition.demo_line import DemoLine
from inspector.acquisition.image_folder import ImageFolderSource
from inspector.acquisition.opencv_camera import URL_SCHEMES, OpenCVCamera
from inspector.acquisition.source import FrameSource
from inspector.acquisition.video_file import VIDEO_EXTENSIONS, VideoFileSource
from inspector.core.errors import SourceError

_FORMS = (
    ("demo", "the built-in demo line (synthetic parts with known defects)"),
    ("PATH/TO/FOLDER", "replay the images of a folder, in sorted order"),
    ("PATH/TO/VIDEO.mp4", "replay a video file (" + " ".join(sorted(VIDEO_EXTENSIONS)) + ")"),
    ("0, 1, ...", "a camera by its OpenCV index"),
    ("rtsp://... | http(s)://...", "a network camera stream"),
    ("genicam:PRODUCER.cti[#SERIAL]", "a GigE Vision / USB3 Vision camera (extra: genicam)"),
)


def describe_source_forms() -> str:
    """The accepted source forms, one per line, for CLI help and error messages."""
    width = max(len(form) for form, _ in _FORMS)
    return "\n".join(f"  {form.ljust(width)}  {meaning}" for form, meaning in _FORMS)


def open_source(
    spec: str,
    *,
    loop: bool = False,
    rate_hz: float | None = None,
    defect_rate: float | None = None,
    seed: int | None = None,
) -> FrameSource:
    """Make the frame source that ``spec`` names.

    Options apply where they mean something and are ignored elsewhere: ``loop``
    to replays, ``rate_hz`` to the demo line and replays (a camera keeps its
    own clock), ``defect_rate`` and ``seed`` to the demo line.

    Raises:
        SourceError: ``spec`` names nothing usable, or the source cannot be opened.
    """
    text = spec.strip()
    if not text:
        msg = f"no source given. Use one of:\n{describe_source_forms()}"
        raise SourceError(msg)
    if text.lower() == "demo":
        return DemoLine(
            rate_hz=10.0 if rate_hz is None else rate_hz,
            defect_rate=0.3 if defect_rate is None else defect_rate,
            seed=seed,
        )
    if text.lower().startswith("genicam:"):
        from inspector.acquisition.genicam_camera import GenICamCamera

        producer, _, serial = text[len("genicam:") :].partition("#")
        return GenICamCamera(producer, serial=serial or None)
    if re.fullmatch(r"\d+", text):
        return OpenCVCamera(int(text))
    if urlsplit(text).scheme.lower() in URL_SCHEMES:
        return OpenCVCamera(text)
    path = Path(text).expanduser()
    if path.is_dir():
        return ImageFolderSource(path, loop=loop, rate_hz=rate_hz or 0.0)
    if path.suffix.lower() in VIDEO_EXTENSIONS:
        return VideoFileSource(path, loop=loop, rate_hz=rate_hz or 0.0)
    if path.exists():
        reason = f"{text!r} is neither a folder nor a video file"
    else:
        reason = f"{text!r} is not a known source and no such file or folder exists"
    msg = f"{reason}. Use one of:\n{describe_source_forms()}"
    raise SourceError(msg)
