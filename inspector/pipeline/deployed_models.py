"""Which models a station runs: its recorded deployments over the models its settings name.

A promotion (``inspector model promote``) is the explicit, audited way to
change a station's model, so once one is recorded in the station's database
it wins over ``[model] path`` (or ``--model``), which then only names the
model of a station with no deployment on record yet. The same holds for the
shadow model: once any shadow run was recorded for the station, the record
decides (a ``shadow_stop`` means no shadow, whatever ``[model] shadow`` says),
and for the defect classifier: a promoted classifier wins over ``[model] classifier``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from inspector.storage.deployments import (
    CLASSIFIER,
    DeploymentAction,
    deployment_history,
    in_force,
)

if TYPE_CHECKING:
    from inspector.pipeline.line import LineSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeployedSettings:
    """The settings a line is built from, and what the deployment record changed in them.

    Attributes:
        settings: ``model_dir`` and ``shadow_model_dir`` as recorded for the station.
        notes: One sentence per setting the record overrode, for the operator.
        production_id: The deployment whose model the settings name (None: the configured one).
        classifier_id: The deployment whose classifier they name (None: the configured one).
    """

    settings: LineSettings
    notes: tuple[str, ...]
    production_id: int | None = None
    classifier_id: int | None = None


def apply_deployments(settings: LineSettings, engine: Engine) -> DeployedSettings:
    """The settings with the station's recorded production and shadow models, if any."""
    station = settings.station_name
    notes: list[str] = []
    history = deployment_history(engine, station)
    production, classifier = in_force(history), in_force(history, CLASSIFIER)
    for deployment, field, what in (
        (production, "model_dir", "model"),
        (classifier, "classifier_dir", "classifier"),
    ):
        if deployment is None or deployment.model_path is None:
            continue
        configured = getattr(settings, field)
        if _differs(deployment.model_path, configured):
            notes.append(
                f"station {station} runs its promoted {what} {deployment.model_version} "
                f"({deployment.model_path}, {deployment.action.value} by {deployment.actor} "
                f"{deployment.at:%Y-%m-%d %H:%M}), not the configured {configured or 'none'}"
            )
        settings = replace(settings, **{field: deployment.model_path})
    shadows = [d for d in history if d.role == "shadow"]
    if shadows:
        latest = shadows[-1]
        recorded = latest.model_path if latest.action is DeploymentAction.SHADOW_START else None
        if settings.shadow_model_dir is not None and _differs(recorded, settings.shadow_model_dir):
            notes.append(
                f"station {station}'s shadow model is {recorded or 'none'} as recorded "
                f"({latest.action.value} by {latest.actor}), not the configured "
                f"{settings.shadow_model_dir}"
            )
        settings = replace(settings, shadow_model_dir=recorded)
    for note in notes:
        log.warning("%s", note)
    return DeployedSettings(
        settings,
        tuple(notes),
        production.id if production else None,
        classifier.id if classifier else None,
    )


def _differs(recorded: Path | None, configured: Path | None) -> bool:
    if recorded is None or configured is None:
        return recorded != configured
    return Path(recorded).resolve() != Path(configured).resolve()
