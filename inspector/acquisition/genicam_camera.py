"""Industrial GenICam cameras (GigE Vision, USB3 Vision) through harvesters.

An optional extra (``pip install inspector[genicam]``): harvesters is imported
only when such a camera is opened. The camera's vendor supplies a GenTL
producer (a ``.cti`` file); the ``genicam`` package ships a software one,
``viky.cti``, with three simulated cameras, which the tests use.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from inspector.acquisition.source import FrameSourceBase
from inspector.core.errors import SourceError
from inspector.core.frame import Frame

log = logging.getLogger(__name__)

FeatureValue = int | float | str | bool


class GenICamCamera(FrameSourceBase):
    """A live GenICam camera, free-running.

    Args:
        cti: The GenTL producer file of the camera's vendor.
        serial: Serial number of the camera to open; the first camera when None.
        features: Node-map settings applied before acquisition starts, e.g.
            ``{"ExposureTime": 5000.0, "Gain": 2.0}``; a feature the camera does
            not have, or a value it refuses, is a SourceError naming it.
        fetch_timeout_s: A camera that delivers nothing for this long is reported
            as stalled (SourceError) instead of blocking the line forever.
        camera_id: Id written on frames; the serial number by default.
    """

    live = True

    def __init__(
        self,
        cti: str | Path,
        *,
        serial: str | None = None,
        features: Mapping[str, FeatureValue] | None = None,
        fetch_timeout_s: float = 2.0,
        camera_id: str | None = None,
    ) -> None:
        harvester_class = _harvester_class()
        producer = Path(cti)
        if not producer.is_file():
            msg = f"GenTL producer {producer} not found: give the .cti file of the camera vendor"
            raise SourceError(msg)
        self._harvester = harvester_class()
        self._acquirer: Any = None
        try:
            self._harvester.add_file(str(producer))
            self._harvester.update()
            info = _find_device(self._harvester.device_info_list, serial, producer)
            super().__init__(camera_id or f"genicam-{info.serial_number}")
            self.name = f"GenICam {info.vendor} {info.model} #{info.serial_number}"
            self._acquirer = self._harvester.create({"serial_number": info.serial_number})
            apply_features(self._acquirer.remote_device.node_map, features or {}, self.name)
            self._acquirer.start()
        except SourceError:
            self._shutdown()
            raise
        except Exception as exc:  # harvesters raises its own and genicam's error types
            self._shutdown()
            msg = f"cannot open GenICam camera {serial or '(first)'} via {producer}: {exc}"
            raise SourceError(msg) from exc
        self._timeout_s = fetch_timeout_s

    @property
    def node_map(self) -> Any:
        """The camera's GenICam node map (for reading back settings)."""
        return self._acquirer.remote_device.node_map

    def __next__(self) -> Frame:
        if self.closed:
            raise StopIteration
        try:
            with self._acquirer.fetch(timeout=self._timeout_s) as buffer:
                image = to_rgb(buffer.payload.components[0])
        except Exception as exc:
            if self.closed:
                raise StopIteration from None
            msg = f"{self.name} delivered no frame within {self._timeout_s:g} s: {exc}"
            raise SourceError(msg) from exc
        return self._frame(image, self._take_part_id(), origin=self.name)

    def _release(self) -> None:
        self._shutdown()

    def _shutdown(self) -> None:
        acquirer, self._acquirer = self._acquirer, None
        try:
            if acquirer is not None:
                acquirer.stop()
                acquirer.destroy()
        except Exception:  # the device may already be gone; closing must still finish
            log.exception("closing the GenICam camera failed")
        finally:
            self._harvester.reset()


def apply_features(node_map: Any, features: Mapping[str, FeatureValue], camera: str) -> None:
    """Write ``features`` to a node map, naming any the camera lacks or refuses.

    Raises:
        SourceError: a feature is missing, not writable, or its value is refused.
    """
    for name, value in features.items():
        if not node_map.has_node(name):
            msg = f"{camera} has no feature {name!r}: check the camera's feature names"
            raise SourceError(msg)
        try:
            node_map.get_node(name).value = value
        except Exception as exc:
            msg = f"{camera} refused {name} = {value!r}: {exc}"
            raise SourceError(msg) from exc


def to_rgb(component: Any) -> np.ndarray:
    """Copy a harvesters image component (flat buffer) into an RGB ``uint8`` array.

    The copy matters: the buffer goes back to the camera when the fetch ends.
    """
    height, width = int(component.height), int(component.width)
    data = np.asarray(component.data)
    channels = data.size // (height * width)
    if channels not in (1, 3, 4) or data.dtype != np.uint8:
        msg = (
            f"unsupported pixel format {component.data_format} ({data.dtype}, {channels} channels)"
        )
        raise SourceError(msg)
    pixels = data.reshape(height, width, channels)
    if channels == 1:
        return np.repeat(pixels, 3, axis=2)
    return np.ascontiguousarray(pixels[:, :, :3])


def _find_device(devices: list, serial: str | None, producer: Path) -> Any:
    if not devices:
        msg = f"no camera found through {producer}: check power, cable and network settings"
        raise SourceError(msg)
    if serial is None:
        return devices[0]
    for info in devices:
        if str(info.serial_number) == str(serial):
            return info
    known = ", ".join(str(info.serial_number) for info in devices)
    msg = f"no camera with serial {serial} through {producer}; found: {known}"
    raise SourceError(msg)


def _harvester_class() -> type:
    try:
        from harvesters.core import Harvester
    except ImportError as exc:
        msg = "GenICam cameras need the optional extra: pip install 'inspector[genicam]'"
        raise SourceError(msg) from exc
    return Harvester
