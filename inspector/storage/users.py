"""People and their roles; passwords kept only as salted scrypt hashes."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import Engine, select, update
from sqlalchemy.exc import IntegrityError

from inspector.core.errors import StorageError
from inspector.storage.audit import append_audit_within
from inspector.storage.engine import change_transaction
from inspector.storage.schema import UserRow

# scrypt cost: about 50 ms and 16 MiB per check on a small CPU; slow for guessing.
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1
MIN_PASSWORD_LENGTH = 8


class Role(StrEnum):
    """What a person may do; each role may do everything of the roles before it."""

    OPERATOR = "operator"  # run / stop the line, acknowledge alarms
    QA = "qa"  # review, reports
    ENGINEER = "engineer"  # models, thresholds, station configuration
    ADMIN = "admin"  # users

    def allows(self, needed: Role) -> bool:
        """Whether this role may do what ``needed`` may."""
        order = list(Role)
        return order.index(self) >= order.index(needed)


@dataclass(frozen=True)
class User:
    """A user as the rest of the application sees one (no password material)."""

    id: int
    name: str
    role: Role
    active: bool


def hash_password(password: str) -> str:
    """A self-describing salted scrypt hash: ``scrypt$n$r$p$salt$hash`` (hex)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        msg = f"passwords need at least {MIN_PASSWORD_LENGTH} characters"
        raise ValueError(msg)
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P, dklen=32
    )
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${salt.hex()}${digest.hex()}"


def check_password(password: str, stored: str) -> bool:
    """Constant-time comparison of ``password`` against a :func:`hash_password` value."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        candidate = hashlib.scrypt(
            password.encode("utf-8"),
            salt=bytes.fromhex(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(digest) // 2,
        )
    except ValueError:
        return False
    return hmac.compare_digest(candidate.hex(), digest)


def add_user(engine: Engine, name: str, role: Role, password: str, *, actor: str) -> User:
    """Create a user and audit it.

    Raises:
        StorageError: the name is taken, or the database refused the change
            (nothing was stored).
        ValueError: the password is too short or the name empty.
    """
    if not name.strip():
        msg = "a user needs a name"
        raise ValueError(msg)
    role = Role(role)
    hashed = hash_password(password)
    with change_transaction(engine, f"user {name!r}") as connection:
        try:
            new_id = connection.execute(
                UserRow.__table__.insert().values(
                    name=name,
                    role=role.value,
                    password_hash=hashed,
                    active=True,
                    created_at=datetime.now(UTC),
                )
            ).inserted_primary_key[0]
        except IntegrityError as exc:
            msg = f"a user named {name!r} exists already"
            raise StorageError(msg) from exc
        append_audit_within(
            connection, actor=actor, action="user.add", subject=name, new_value=role.value
        )
    return User(new_id, name, role, True)


def set_role(engine: Engine, name: str, role: Role, *, actor: str, reason: str) -> User:
    """Change a user's role; the old and new role go to the audit log.

    The old role is read in the change's own write transaction, so two
    administrators changing one user at once audit what each really replaced.

    Raises:
        StorageError: no such user, or the database refused the change (nothing
            was stored).
        ValueError: an unknown role.
    """
    role = Role(role)
    with change_transaction(engine, f"the role of {name!r}") as connection:
        row = (
            connection.execute(select(UserRow).where(UserRow.name == name).with_for_update())
            .mappings()
            .first()
        )
        if row is None:
            msg = f"no user named {name!r}"
            raise StorageError(msg)
        connection.execute(update(UserRow).where(UserRow.name == name).values(role=role.value))
        append_audit_within(
            connection,
            actor=actor,
            action="user.role",
            subject=name,
            old_value=row["role"],
            new_value=role.value,
            reason=reason,
        )
    return User(row["id"], name, role, row["active"])


def get_user(engine: Engine, name: str) -> User | None:
    """The user called ``name``, or None."""
    with engine.connect() as connection:
        row = connection.execute(select(UserRow).where(UserRow.name == name)).mappings().first()
    return None if row is None else User(row["id"], row["name"], Role(row["role"]), row["active"])


def authenticate(engine: Engine, name: str, password: str) -> User | None:
    """The active user whose password matches, else None (same answer for any failure)."""
    with engine.connect() as connection:
        row = connection.execute(select(UserRow).where(UserRow.name == name)).mappings().first()
    if row is None:
        hash_password("x" * MIN_PASSWORD_LENGTH)  # same cost, so timing does not tell names
        return None
    if not row["active"] or not check_password(password, row["password_hash"]):
        return None
    return User(row["id"], row["name"], Role(row["role"]), row["active"])
