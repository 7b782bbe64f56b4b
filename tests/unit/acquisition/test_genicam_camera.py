"""The GenICam adapter against the genicam package's software cameras (viky.cti)."""

import threading
from pathlib import Path

import numpy as np
import pytest

from inspector.acquisition.factory import open_source
from inspector.core.errors import SourceError

genicam = pytest.importorskip("genicam")
pytest.importorskip("harvesters")

from inspector.acquisition.genicam_camera import GenICamCamera  # noqa: E402

VIKY = Path(genicam.__file__).with_name("viky.cti")


def test_acquires_rgb_frames_from_a_simulated_camera():
    with GenICamCamera(VIKY, serial="1") as camera:
        frames = [next(camera) for _ in range(3)]
    assert "Viky" in camera.name and "#1" in camera.name
    assert [f.part_id for f in frames] == [0, 1, 2]
    for frame in frames:
        assert frame.image.shape == (400, 400, 3) and frame.image.dtype == np.uint8
        assert frame.camera_id == "genicam-1"
    assert frames[0].image.any()


def test_features_are_written_through_the_node_map():
    with GenICamCamera(VIKY, features={"Width": 320, "Height": 240}) as camera:
        frame = next(camera)
        assert camera.node_map.Width.value == 320
    assert frame.image.shape == (240, 320, 3)


def test_missing_feature_and_refused_value_are_named():
    with pytest.raises(SourceError, match="no feature 'ExposureTime'"):
        GenICamCamera(VIKY, features={"ExposureTime": 5000.0})
    with pytest.raises(SourceError, match="refused Width"):
        GenICamCamera(VIKY, features={"Width": -5})


def test_unknown_serial_and_missing_producer_are_clear(tmp_path):
    with pytest.raises(SourceError, match="no camera with serial 99.*found: 0, 1, 2"):
        GenICamCamera(VIKY, serial="99")
    with pytest.raises(SourceError, match="not found"):
        GenICamCamera(tmp_path / "vendor.cti")


def test_closing_mid_run_from_another_thread_ends_iteration_cleanly():
    camera = GenICamCamera(VIKY, serial="2")
    taken = []

    def consume():
        for frame in camera:
            taken.append(frame.part_id)

    reader = threading.Thread(target=consume)
    reader.start()
    while len(taken) < 3:
        reader.join(0.05)
    camera.close()
    reader.join(5)
    assert not reader.is_alive()
    assert taken[:3] == [0, 1, 2]
    with pytest.raises(StopIteration):
        next(camera)


def test_factory_opens_genicam_specs():
    with open_source(f"genicam:{VIKY}#0") as camera:
        assert "#0" in camera.name and camera.live
        assert next(camera).image.shape == (400, 400, 3)
