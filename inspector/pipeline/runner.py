"""Start, pause and stop lines on demand: the plain model behind the main window."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from inspector.core.inspection import Inspection
from inspector.decision.actuator import Actuator
from inspector.pipeline.alarms import Alarm
from inspector.pipeline.line import (
    Line,
    LineSettings,
    build_line,
    load_scorer,
    with_classifier,
)
from inspector.pipeline.station import LineState, Scorer

_SWAPPABLE = (LineState.STARTING, LineState.RUNNING, LineState.PAUSED)


class LineRunner:
    """Owns at most one running line and the model it uses.

    The model stays loaded between runs as long as the model folder and device
    are unchanged, so switching sources is quick.
    """

    def __init__(
        self,
        settings: LineSettings,
        *,
        listeners: Sequence[Callable[[Inspection], None]] = (),
        on_alarm: Callable[[Alarm], None] | None = None,
        actuator_factory: Callable[[], Actuator | None] | None = None,
    ) -> None:
        self.settings = settings
        self._actuator_factory = actuator_factory
        self._listeners = tuple(listeners)
        self._on_alarm = on_alarm
        self._scorer: Scorer | None = None
        self._scorer_key: tuple | None = None
        self._lock = threading.Lock()
        self.line: Line | None = None

    @property
    def state(self) -> LineState:
        """State of the current line (IDLE before the first start)."""
        return self.line.station.state if self.line else LineState.IDLE

    def change_source(
        self, source: str, *, loop: bool = False, rate_hz: float | None = None
    ) -> None:
        """Use another source from the next start on."""
        self.settings = replace(self.settings, source=source, loop=loop, rate_hz=rate_hz)

    @property
    def model_version(self) -> str | None:
        """Version of the model scoring a running line's parts (also after a promotion
        the line picked up by itself), else the one the next start uses; ``None``
        until it is loaded."""
        line = self.line
        if line is not None and line.station.state in _SWAPPABLE:
            return line.station.model_version
        if self._scorer is None or self._scorer_key != self._model_key():
            return None
        return self._scorer.version

    def change_model(self, model_dir: str | Path, *, scorer: Scorer | None = None) -> None:
        """Use another model package: on a running line at once, else from the next start.

        A running line switches between two batches (:meth:`Station.swap_scorer`):
        it does not stop, no part is lost, counters go on, and the new model's
        calibrated threshold comes with it unless the settings fix one.

        Args:
            model_dir: The package, e.g. a new version that learned a false reject.
            scorer: That package already loaded (off the GUI thread); without it
                a running line's new model is loaded here, on the caller's thread.

        Raises:
            ModelPackageError: the package cannot be loaded (the line keeps its model).
        """
        settings = replace(self.settings, model_dir=Path(model_dir))
        line = self.line
        running = line is not None and line.station.state in _SWAPPABLE
        if scorer is None and running:
            scorer = load_scorer(settings.model_dir, settings.device, settings.backend)
        self.settings = settings
        if scorer is not None:
            self._scorer = scorer
            self._scorer_key = self._model_key()
        if running and scorer is not None:
            scorer = with_classifier(scorer, settings)  # the line's classifier stays
            station = line.station
            rules = None
            if settings.threshold is None:
                rules = replace(station.rules, threshold=scorer.default_threshold)
            station.swap_scorer(scorer, rules=rules)
            line.settings = replace(line.settings, model_dir=settings.model_dir)

    def start(self) -> Line:
        """Stop the current line (if any) and start a new one with the current settings.

        Raises:
            InspectorError: the model, the database or the settings are unusable.
        """
        with self._lock:
            self._stop_locked()
            line = build_line(
                self.settings,
                scorer=self._load_scorer(),
                listeners=self._listeners,
                on_alarm=self._on_alarm,
                actuator=self._actuator_factory() if self._actuator_factory else None,
            )
            line.station.start()
            self.line = line
            self.settings = line.settings  # with the model the station's deployment names
            return line

    def pause(self) -> None:
        """Pause acquisition of the current line."""
        if self.line:
            self.line.station.pause()

    def resume(self) -> None:
        """Resume acquisition of the current line."""
        if self.line:
            self.line.station.resume()

    def stop(self) -> None:
        """Stop the current line, finishing queued parts and records."""
        with self._lock:
            self._stop_locked()

    def _stop_locked(self) -> None:
        if self.line is not None:
            self.line.station.stop()
            self.line.engine.dispose()

    def _model_key(self) -> tuple[str, str, str]:
        settings = self.settings
        return (str(settings.model_dir), settings.device, settings.backend)

    def _load_scorer(self) -> Scorer:
        settings = self.settings
        key = self._model_key()
        if self._scorer is None or key != self._scorer_key:
            self._scorer = load_scorer(settings.model_dir, settings.device, settings.backend)
            self._scorer_key = key
        return self._scorer
