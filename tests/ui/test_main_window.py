"""The operator's window on the demo line, driven headless with pytest-qt."""

import pytest

from inspector.pipeline.line import LineSettings
from inspector.pipeline.station import LineState
from inspector.ui.main_window import LIVE_SCALE, MainWindow

pytestmark = pytest.mark.slow


@pytest.fixture
def window(qtbot, tmp_path):
    settings = LineSettings(database=tmp_path / "ui.db", seed=3, defect_rate=0.5, rate_hz=20)
    win = MainWindow(settings)
    qtbot.addWidget(win)
    win.show()
    yield win
    win.close()


def test_window_runs_the_demo_line_and_shows_results(qtbot, window):
    assert window.start_line()
    qtbot.waitUntil(lambda: window.runner.line.station.snapshot().inspected >= 20, timeout=60_000)
    qtbot.waitUntil(lambda: window.shown >= 3, timeout=10_000)
    window._refresh()
    snap = window.runner.line.station.snapshot()
    assert int(window.counters.inspected.value.text().replace(",", "")) >= 20
    assert window.counters.rejected.value.text() != "0" or snap.rejected == 0
    assert window.live.has_image()
    assert window.latest is not None
    # the overlay is drawn at the live scale, its verdict banner stacked above the part
    frame_h, frame_w = window.latest.frame.image.shape[:2]
    shown_h, shown_w = window.live.image_size()
    assert shown_w == round(frame_w * LIVE_SCALE)
    assert shown_h > round(frame_h * LIVE_SCALE)
    assert "parts/s" in window.status.rate.text()
    assert "CPU" in window.status.device.text() or "GPU" in window.status.device.text()
    qtbot.waitUntil(lambda: window.rejects.count() > 0, timeout=30_000)
    dialog = window.open_inspection(window.rejects.item(0).data(256))
    assert dialog.view.has_image()
    dialog.close()
    window.stop_line()
    assert window.runner.state is LineState.FINISHED
    assert window.source_bar.stop_button.isEnabled() is False


def test_pause_and_resume_from_the_toolbar(qtbot, window):
    assert window.start_line()
    qtbot.waitUntil(lambda: window.runner.state is LineState.RUNNING, timeout=30_000)
    window._refresh()
    window.source_bar.pause_button.click()
    assert window.runner.state is LineState.PAUSED
    window._refresh()
    assert window.source_bar.pause_button.text().endswith("Resume")
    window.source_bar.pause_button.click()
    assert window.runner.state is LineState.RUNNING
    window.stop_line()


def test_bad_folder_becomes_an_alarm_not_a_crash(qtbot, window, tmp_path):
    window.source_bar.kind.setCurrentText("Image folder")
    window.source_bar.location.setText(str(tmp_path / "nope"))
    window.source_bar.start_button.click()
    qtbot.waitUntil(lambda: window.alarms.count() > 0, timeout=30_000)
    assert "no such file or folder" in window.alarms.item(0).text()
    assert "demo" in window.alarms.item(0).toolTip()  # the full message lists the accepted forms
    window.stop_line()


def test_empty_location_is_refused_with_a_message(qtbot, window):
    window.source_bar.kind.setCurrentText("Video file")
    window.source_bar.start_button.click()
    assert window.runner.line is None
    assert "choose" in window.alarms.item(0).text()


def test_alarms_are_counted_until_acknowledged(qtbot, window):
    window.source_bar.kind.setCurrentText("Video file")
    window.source_bar.start_button.click()
    window.source_bar.start_button.click()
    assert window.unacknowledged == 2
    assert "2 new" in window.alarm_heading.text()
    assert window.acknowledge_button.isEnabled()
    window.acknowledge_button.click()
    assert window.unacknowledged == 0
    assert window.alarm_heading.text() == "Alarms"
    assert not window.acknowledge_button.isEnabled()


def test_a_long_alarm_wraps_to_be_read_whole(qtbot, window):
    from inspector.pipeline.alarms import Alarm, Severity

    sentence = "lighting unlike the good parts the model learnt from: darker than taught " * 3
    window._show_alarm(Alarm(Severity.WARNING, "lighting", sentence))
    item = window.alarms.item(0)
    assert window.alarms.wordWrap()
    width = window.alarms.viewport().width()
    assert window.alarms.visualItemRect(item).height() > 2 * window.alarms.fontMetrics().height()
    assert window.alarms.visualItemRect(item).width() <= width
