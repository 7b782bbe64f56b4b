"""A running line picks up a promotion or rollback recorded for its station, between two parts.

``inspector model promote`` may run on another computer than the line: the
record in the shared database is the message. The watcher reads the
station's production and classifier deployments every few seconds; when
either changed, it loads
the new model on its own thread (never the inference thread) and hands it to
:meth:`inspector.pipeline.station.Station.swap_scorer`, so the line switches
without stopping or losing a part. A model that cannot be loaded raises an
alarm and the line keeps the model it has.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from inspector.core.errors import InspectorError
from inspector.pipeline.alarms import Alarm, Severity
from inspector.pipeline.station import Scorer
from inspector.storage.deployments import CLASSIFIER, deployment_history, in_force

log = logging.getLogger(__name__)


class DeploymentWatcher:
    """Polls a station's production deployment and swaps the model when it changes.

    Args:
        engine: The station's database.
        station: Its name, as in the deployment records.
        applied_id: Id of the deployment the line was built with (None: its configured model).
        load: Loads the line's model as it runs it, from the promoted model and
            classifier folders (``None``: the line's configured one).
        swap: Puts a loaded model into the running line (``Station.swap_scorer`` with
            the rules that go with it).
        poll_s: Seconds between two reads of the deployment record.
        on_alarm: Told when the model switched, or a promoted model could not be loaded.
        applied_classifier_id: Id of the classifier deployment the line was built
            with (None: its configured classifier, if any).
    """

    def __init__(
        self,
        engine: Engine,
        station: str,
        applied_id: int | None,
        *,
        load: Callable[[Path | None, Path | None], Scorer],
        swap: Callable[[Scorer], None],
        poll_s: float = 5.0,
        on_alarm: Callable[[Alarm], None] | None = None,
        applied_classifier_id: int | None = None,
    ) -> None:
        if poll_s <= 0:
            msg = f"the deployment poll interval must be positive, got {poll_s} s"
            raise ValueError(msg)
        self._engine = engine
        self._station = station
        self._applied = (applied_id, applied_classifier_id)
        self._load = load
        self._swap = swap
        self._poll_s = poll_s
        self._on_alarm = on_alarm
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start polling on a thread of its own."""
        if self._thread is not None:
            msg = "DeploymentWatcher.start() was called twice; create a new one instead"
            raise RuntimeError(msg)
        self._thread = threading.Thread(target=self._run, name="deployments", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop polling (a model being loaded finishes loading, then is not applied)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def check(self) -> bool:
        """Apply the station's production or classifier deployment if either changed; True
        when the model switched."""
        try:
            history = deployment_history(self._engine, self._station)
            production, classifier = in_force(history), in_force(history, CLASSIFIER)
        except SQLAlchemyError as exc:  # a busy database is retried at the next poll
            log.warning("cannot read the deployments of %s: %s", self._station, exc)
            return False
        recorded = (production.id if production else None, classifier.id if classifier else None)
        changed = [
            deployment
            for deployment, applied in zip((production, classifier), self._applied, strict=True)
            if deployment is not None and deployment.id != applied
        ]
        if not changed:
            return False
        self._applied = recorded
        latest = max(changed, key=lambda deployment: deployment.id)
        try:
            scorer = self._load(
                production.model_path if production else None,
                classifier.model_path if classifier else None,
            )
        except InspectorError as exc:
            self._alarm(
                Severity.ERROR,
                f"{latest.action.value} of {latest.model_version} by {latest.actor} not applied, "
                f"the line keeps its model: {exc}",
            )
            return False
        if self._stop.is_set():
            return False
        self._swap(scorer)
        self._alarm(
            Severity.WARNING,
            f"model switched to {scorer.version} ({latest.action.value} by {latest.actor}: "
            f"{latest.reason})",
        )
        return True

    def _run(self) -> None:
        while not self._stop.wait(self._poll_s):
            self.check()

    def _alarm(self, severity: Severity, message: str) -> None:
        log.warning("%s", message)
        if self._on_alarm is not None:
            try:
                self._on_alarm(Alarm(severity, "model", message))
            except Exception:
                log.exception("alarm handler failed")
