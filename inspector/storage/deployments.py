"""Which model each station runs: promotions, rollbacks and shadow runs, recorded and audited.

A model reaches a line only through an explicit, recorded action: who, when,
why, and on which figures (a ``compare`` or ``evaluate`` report). The rows are
append-only; the station's production model is worked out from them as a
stack (a promotion pushes, a rollback pops), so "roll back" always means "the
model that ran before this one", however many times it is used. Every action
also goes to the hash-chained audit log.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, select

from inspector.core.errors import StorageError
from inspector.storage.audit import append_audit_within
from inspector.storage.engine import change_transaction
from inspector.storage.schema import DeploymentRow

_DEPLOYMENTS = DeploymentRow.__table__

PRODUCTION = "production"
"""Role of the station's anomaly model (the one whose verdicts drive the gate)."""
CLASSIFIER = "classifier"
"""Role of the defect classifier run beside it (names the class of what was found)."""
_STACKED_ROLES = (PRODUCTION, CLASSIFIER)


class DeploymentAction(StrEnum):
    """What a deployment row did."""

    PROMOTE = "promote"
    ROLLBACK = "rollback"
    SHADOW_START = "shadow_start"
    SHADOW_STOP = "shadow_stop"


@dataclass(frozen=True)
class Deployment:
    """One recorded deployment action, as read back.

    Attributes:
        role: ``production``, ``classifier`` or ``shadow``.
        model_path: The package folder the station loads (``None`` for ``shadow_stop``).
        model_version: Its version string, as recorded with every part it scores.
        metrics: The report the decision was based on, parsed; ``None`` if none was given.
    """

    id: int
    at: datetime
    station: str
    role: str
    action: DeploymentAction
    model_path: Path | None
    model_version: str | None
    actor: str
    reason: str | None
    metrics: dict[str, Any] | None


def promote(
    engine: Engine,
    station: str,
    model_path: str | Path,
    model_version: str,
    *,
    actor: str,
    reason: str,
    metrics: dict[str, Any] | None = None,
    role: str = PRODUCTION,
) -> Deployment:
    """Make a model the station's production model (or, with ``role="classifier"``,
    its defect classifier); recorded and audited.

    Raises:
        ValueError: no station, actor or reason, an unknown role, or the model
            already has that role there.
        StorageError: the database refused the change (nothing was stored).
    """
    _check(station, actor, reason)
    model_path = Path(model_path).resolve()  # before the lock: a slow share must not hold it
    with _deploying(engine) as connection:
        current = in_force(_history(connection, station), role)
        if current is not None and current.model_version == model_version:
            msg = (
                f"{model_version} is already the {role} model of station {station!r} "
                f"(promoted {current.at:%Y-%m-%d %H:%M} by {current.actor}): nothing to promote"
            )
            raise ValueError(msg)
        return _record(
            connection,
            station,
            role,
            DeploymentAction.PROMOTE,
            model_path,
            model_version,
            actor=actor,
            reason=reason,
            metrics=metrics,
            old_value=current.model_version if current is not None else None,
        )


def rollback(
    engine: Engine, station: str, *, actor: str, reason: str, role: str = PRODUCTION
) -> Deployment:
    """Go back to the model of ``role`` that ran before the current one; recorded and audited.

    Raises:
        ValueError: no station, actor or reason, or an unknown role.
        StorageError: the station has no earlier model of that role to go back to,
            or the database refused the change (nothing was stored).
    """
    _check(station, actor, reason)
    with _deploying(engine) as connection:
        stack = _production_stack(_history(connection, station), role)
        if len(stack) < 2:
            what = f"no {role} model" if not stack else f"only {stack[-1].model_version}"
            msg = (
                f"station {station!r} has {what} on record, so there is nothing to roll back "
                "to: promote a model with 'inspector model promote' instead"
            )
            raise StorageError(msg)
        current, previous = stack[-1], stack[-2]
        return _record(
            connection,
            station,
            role,
            DeploymentAction.ROLLBACK,
            previous.model_path,
            previous.model_version or "",
            actor=actor,
            reason=reason,
            metrics=None,
            old_value=current.model_version,
        )


def start_shadow(
    engine: Engine,
    station: str,
    model_path: str | Path,
    model_version: str,
    *,
    actor: str,
    reason: str,
) -> Deployment:
    """Let a candidate model score every part of the station beside production, driving nothing."""
    _check(station, actor, reason)
    model_path = Path(model_path).resolve()
    with _deploying(engine) as connection:
        current = _current_shadow(connection, station)
        return _record(
            connection,
            station,
            "shadow",
            DeploymentAction.SHADOW_START,
            model_path,
            model_version,
            actor=actor,
            reason=reason,
            metrics=None,
            old_value=current.model_version if current is not None else None,
        )


def stop_shadow(engine: Engine, station: str, *, actor: str, reason: str) -> Deployment:
    """End the station's shadow run.

    Raises:
        StorageError: no shadow model runs on the station, or the database refused
            the change (nothing was stored).
    """
    _check(station, actor, reason)
    with _deploying(engine) as connection:
        current = _current_shadow(connection, station)
        if current is None:
            msg = f"station {station!r} has no shadow model to stop"
            raise StorageError(msg)
        return _record(
            connection,
            station,
            "shadow",
            DeploymentAction.SHADOW_STOP,
            None,
            None,
            actor=actor,
            reason=reason,
            metrics=None,
            old_value=current.model_version,
        )


def deployment_history(engine: Engine, station: str) -> list[Deployment]:
    """Every deployment action of a station, oldest first."""
    with engine.connect() as connection:
        return _history(connection, station)


def _history(connection: Connection, station: str) -> list[Deployment]:
    statement = select(_DEPLOYMENTS).where(_DEPLOYMENTS.c.station == station)
    rows = connection.execute(statement.order_by(_DEPLOYMENTS.c.id)).mappings().all()
    return [_to_deployment(row) for row in rows]


def ever_deployed(engine: Engine, model_path: str | Path) -> bool:
    """Whether any deployment names this model folder (so it must not be deleted)."""
    path = str(Path(model_path).resolve())
    statement = select(_DEPLOYMENTS.c.id).where(_DEPLOYMENTS.c.model_path == path).limit(1)
    with engine.connect() as connection:
        return connection.execute(statement).first() is not None


def current_production(engine: Engine, station: str, role: str = PRODUCTION) -> Deployment | None:
    """The deployment whose model of ``role`` the station runs now; ``None`` when none was
    ever promoted."""
    return in_force(deployment_history(engine, station), role)


def in_force(history: Sequence[Deployment], role: str = PRODUCTION) -> Deployment | None:
    """The deployment of ``role`` in force after a station's ``history`` (oldest first).

    For readers that need several roles from one read of the records.
    """
    stack = _production_stack(history, role)
    return stack[-1] if stack else None


def current_shadow(engine: Engine, station: str) -> Deployment | None:
    """The running shadow deployment of the station, or ``None``."""
    with engine.connect() as connection:
        return _current_shadow(connection, station)


def _current_shadow(connection: Connection, station: str) -> Deployment | None:
    statement = (
        select(_DEPLOYMENTS)
        .where(_DEPLOYMENTS.c.station == station, _DEPLOYMENTS.c.role == "shadow")
        .order_by(_DEPLOYMENTS.c.id.desc())
        .limit(1)
    )
    row = connection.execute(statement).mappings().first()
    if row is None or row["action"] != DeploymentAction.SHADOW_START:
        return None
    return _to_deployment(row)


def _production_stack(history: Sequence[Deployment], role: str) -> list[Deployment]:
    """Models of ``role`` in force, oldest first: promotions push, rollbacks pop."""
    if role not in _STACKED_ROLES:
        msg = f"role {role!r} is not promoted or rolled back: use one of {_STACKED_ROLES}"
        raise ValueError(msg)
    stack: list[Deployment] = []
    for deployment in history:
        if deployment.role != role:
            continue
        if deployment.action is DeploymentAction.PROMOTE:
            stack.append(deployment)
        elif deployment.action is DeploymentAction.ROLLBACK and len(stack) > 1:
            stack.pop()
    return stack


def _check(station: str, actor: str, reason: str) -> None:
    missing = [name for name, value in (("station", station), ("user", actor)) if not value.strip()]
    if not reason.strip():
        missing.append("reason")
    if missing:
        msg = f"a model deployment needs a {', a '.join(missing)}: say who does it, where and why"
        raise ValueError(msg)


@contextmanager
def _deploying(engine: Engine) -> Iterator[Connection]:
    """The write transaction of one deployment action: it reads the station's
    records, decides and appends, with no other action in between (two people
    rolling back at once must not both go back to the same model)."""
    with change_transaction(engine, "the model deployment") as connection:
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql("LOCK TABLE model_deployments IN SHARE ROW EXCLUSIVE MODE")
        yield connection


def _record(
    connection: Connection,
    station: str,
    role: str,
    action: DeploymentAction,
    model_path: Path | None,
    model_version: str | None,
    *,
    actor: str,
    reason: str,
    metrics: dict[str, Any] | None,
    old_value: str | None,
) -> Deployment:
    at = datetime.now(UTC)
    path = None if model_path is None else str(model_path)  # resolved by the caller
    metrics_text = None if metrics is None else json.dumps(metrics, sort_keys=True)
    new_id = connection.execute(
        _DEPLOYMENTS.insert().values(
            at=at,
            station=station,
            role=role,
            action=action.value,
            model_path=path,
            model_version=model_version,
            actor=actor,
            reason=reason,
            metrics=metrics_text,
        )
    ).inserted_primary_key[0]
    append_audit_within(
        connection,
        actor=actor,
        action=f"model.{action.value}",
        subject=station,
        old_value=old_value,
        new_value=model_version,
        reason=reason,
    )
    return Deployment(
        new_id,
        at,
        station,
        role,
        action,
        None if path is None else Path(path),
        model_version,
        actor,
        reason,
        metrics,
    )


def _to_deployment(row: Any) -> Deployment:
    return Deployment(
        id=row["id"],
        at=row["at"],
        station=row["station"],
        role=row["role"],
        action=DeploymentAction(row["action"]),
        model_path=None if row["model_path"] is None else Path(row["model_path"]),
        model_version=row["model_version"],
        actor=row["actor"],
        reason=row["reason"],
        metrics=None if row["metrics"] is None else json.loads(row["metrics"]),
    )
