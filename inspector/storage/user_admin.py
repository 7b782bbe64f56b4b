"""Reading the user list: for the first start (no users yet) and the admin's user table."""

from __future__ import annotations

from sqlalchemy import Engine, exists, select

from inspector.storage.schema import UserRow
from inspector.storage.users import Role, User


def list_users(engine: Engine) -> list[User]:
    """Every user, active or not, by name (no password material)."""
    with engine.connect() as connection:
        rows = connection.execute(select(UserRow).order_by(UserRow.name)).mappings().all()
    return [User(r["id"], r["name"], Role(r["role"]), r["active"]) for r in rows]


def has_admin(engine: Engine) -> bool:
    """Whether an active admin exists; without one nobody can manage users in the GUI."""
    statement = select(exists().where(UserRow.role == Role.ADMIN.value, UserRow.active.is_(True)))
    with engine.connect() as connection:
        return bool(connection.execute(statement).scalar())
