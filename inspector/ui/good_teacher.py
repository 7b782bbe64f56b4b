"""The worker behind 'This is OK': one lesson at a time, off the GUI thread.

Learning (:func:`inspector.training.learn_good.learn_good_parts`) loads the
model and runs the backbone, seconds on a CPU; on the GUI thread it would
freeze the window and, through it, the operator's view of the line. The
teacher runs it on a plain thread and reports through a Qt signal, which Qt
queues to the GUI thread (as :mod:`inspector.ui.bridge` does for the line).

The new package goes to a sibling of the model in use,
``<model-name>-learned-<YYYYmmdd-HHMMSS>``: the old package stays untouched,
so rolling back is choosing it again. A failed lesson removes its folder, so
nothing half-written is left to be mistaken for a model.
"""

from __future__ import annotations

import errno
import logging
import re
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from inspector.core.errors import InspectorError
from inspector.storage.deployments import ever_deployed
from inspector.storage.image_store import ImageStore
from inspector.storage.repository import get_inspection
from inspector.storage.reviews import Review, latest_reviews

if TYPE_CHECKING:
    from inspector.training.learn_good import LearnResult

log = logging.getLogger(__name__)

_LEARNED_SUFFIX = re.compile(r"-learned-\d{8}-\d{6}(-\d+)?$")


def learned_package_dir(model_dir: str | Path, now: datetime | None = None) -> Path:
    """The folder for the model that learned a part: a sibling of ``model_dir``.

    A model that already learned keeps its base name (``demo-line-learned-…``,
    never ``demo-line-learned-…-learned-…``), and a folder that exists is never
    reused: two lessons in one second get ``-2``, ``-3``.
    """
    folder = Path(model_dir).resolve()
    base = _LEARNED_SUFFIX.sub("", folder.name)
    stamp = f"{(now or datetime.now()):%Y%m%d-%H%M%S}"
    candidate = folder.with_name(f"{base}-learned-{stamp}")
    count = 2
    while candidate.exists():
        candidate = folder.with_name(f"{base}-learned-{stamp}-{count}")
        count += 1
    return candidate


@dataclass(frozen=True)
class TaughtPart:
    """A part the model learned: the new package, the review it got, the loaded model.

    ``model`` is the new package already loaded (on the worker thread) when the
    teacher was given a ``preload``; ``None`` otherwise or when loading failed.
    """

    inspection_id: int
    part_id: int
    actor: str
    result: LearnResult
    review: Review | None
    model: object | None

    @property
    def summary(self) -> str:
        """The sentence shown to the user."""
        result = self.result
        return (
            f"model {result.old_version} learned part {self.part_id}: new version "
            f"{result.new_version} ({result.added_patches} patches added)"
        )


@dataclass(frozen=True)
class TeachOutcome:
    """How job ``job`` ended: ``taught`` on success, else ``error`` says what to do."""

    job: int
    taught: TaughtPart | None
    error: str | None


class GoodPartTeacher(QObject):
    """Runs one lesson at a time on a worker thread and reports on the GUI thread.

    Args:
        model_dir: Returns the model package in use (``None``: none known); asked
            at each click, so a line switched to another model teaches that one.
        device: Where the backbone runs while learning (``auto``, ``cpu``, ``cuda``).
        preload: Loads the new package for the line, on the worker thread, so the
            switch costs the GUI thread nothing; its result is ``TaughtPart.model``.
    """

    busy_changed = Signal(bool)
    finished = Signal(object)  # TeachOutcome, queued to the GUI thread

    def __init__(
        self,
        model_dir: Callable[[], Path | None],
        parent: QObject | None = None,
        *,
        device: str = "auto",
        preload: Callable[[Path], object] | None = None,
    ) -> None:
        super().__init__(parent)
        self._model_dir = model_dir
        self.device = device
        self._preload = preload
        self._thread: threading.Thread | None = None
        self._jobs = 0
        self.finished.connect(self._done)

    @property
    def busy(self) -> bool:
        """Whether a lesson is running (one at a time: each makes a new model version)."""
        return self._thread is not None

    def model_dir(self) -> Path | None:
        """The package a lesson starts from now."""
        return self._model_dir()

    def teach(
        self, engine: Engine, image_store: ImageStore, resolve_id: Callable[[], int], actor: str
    ) -> int:
        """Start teaching the part ``resolve_id()`` names (called on the worker); returns the job.

        Raises:
            RuntimeError: a lesson is running, or no model folder is known.
        """
        model_dir = self.model_dir()
        if self.busy or model_dir is None:
            msg = "the model is learning another part or has no folder: wait, then try again"
            raise RuntimeError(msg)
        self._jobs += 1
        job = self._jobs
        self._thread = threading.Thread(
            target=self._work,
            args=(job, engine, image_store, resolve_id, Path(model_dir), actor),
            name="learn-good",
            daemon=True,
        )
        self._thread.start()
        self.busy_changed.emit(True)
        return job

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the running lesson ends (window closing, tests); ``True`` if none runs."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
            return not thread.is_alive()
        return True

    def _done(self, _outcome: TeachOutcome) -> None:
        self._thread = None
        self.busy_changed.emit(False)

    def _work(
        self,
        job: int,
        engine: Engine,
        image_store: ImageStore,
        resolve_id: Callable[[], int],
        model_dir: Path,
        actor: str,
    ) -> None:
        try:
            out_dir = learned_package_dir(model_dir)
            taught = self._learn(engine, image_store, resolve_id(), model_dir, out_dir, actor)
        except Exception as exc:  # every failure reaches the user; none kills the thread silently
            if not isinstance(exc, ValueError | InspectorError | OSError) and not _busy(exc):
                log.exception("teaching a good part failed")
            self.finished.emit(TeachOutcome(job, None, _explain(exc, model_dir)))
            return
        self.finished.emit(TeachOutcome(job, taught, None))

    def _learn(
        self,
        engine: Engine,
        image_store: ImageStore,
        inspection_id: int,
        model_dir: Path,
        out_dir: Path,
        actor: str,
    ) -> TaughtPart:
        from inspector.training.learn_good import learn_good_parts  # torch: load when used

        try:
            result = learn_good_parts(
                engine,
                image_store,
                model_dir,
                [inspection_id],
                out_dir,
                actor=actor,
                device=self.device,
                deploy=True,
            )
        except BaseException:
            if not _deployed(engine, out_dir):  # a folder a deployment names must stay
                shutil.rmtree(out_dir, ignore_errors=True)  # nothing half-written stays behind
            raise
        stored = get_inspection(engine, inspection_id)
        review = latest_reviews(engine, [inspection_id]).get(inspection_id)
        model = None
        if self._preload is not None:
            try:
                model = self._preload(result.package_dir)
            except (InspectorError, OSError, ValueError) as exc:  # the line's start says why
                log.warning("learned model %s did not load: %s", result.package_dir, exc)
        part_id = stored.part_id if stored is not None else inspection_id
        return TaughtPart(inspection_id, part_id, actor, result, review, model)


def _explain(exc: BaseException, model_dir: Path) -> str:
    """A message for the user: what went wrong and what to do."""
    beside = model_dir.resolve().parent
    if isinstance(exc, OSError):
        if exc.errno == errno.ENOSPC:
            return f"no space left to write the new model in {beside}: free disk space, retry"
        return f"the new model could not be written in {beside}: {exc}; check the folder, retry"
    if _busy(exc):
        return (
            "the database stayed busy (the line or another program was writing to it): "
            "the part was not taught; mark it OK again"
        )
    return f"the model did not learn the part: {exc}"


def _deployed(engine: Engine, model_dir: Path) -> bool:
    """Whether a deployment names ``model_dir``; when that cannot be read, assume so
    (an extra folder on disk is harmless, a deleted production model is not)."""
    try:
        return ever_deployed(engine, model_dir)
    except SQLAlchemyError:
        log.warning("could not check the deployments of %s: keeping it", model_dir)
        return True


def _busy(exc: BaseException) -> bool:
    """Whether the database refused a write because another writer held it too long
    (the driver's error itself, or the cause of the storage error that explains it)."""
    for error in (exc, exc.__cause__):
        text = str(getattr(error, "orig", error)).lower()
        if isinstance(error, OperationalError) and any(
            word in text for word in ("locked", "busy", "lock timeout")
        ):
            return True
    return False
