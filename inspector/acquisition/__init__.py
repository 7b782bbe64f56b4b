"""Frame sources: the demo line, image folders, video files and cameras.

Every source keeps the :class:`FrameSource` contract; :func:`open_source`
makes one from the text a person types.
"""

from inspector.acquisition.demo_line import DemoLine
from inspector.acquisition.factory import describe_source_forms, open_source
from inspector.acquisition.image_folder import ImageFolderSource
from inspector.acquisition.opencv_camera import OpenCVCamera
from inspector.acquisition.source import FrameDecodeError, FrameSource
from inspector.acquisition.video_file import VideoFileSource

__all__ = [
    "DemoLine",
    "FrameDecodeError",
    "FrameSource",
    "ImageFolderSource",
    "OpenCVCamera",
    "VideoFileSource",
    "describe_source_forms",
    "open_source",
]
