"""The station's login rules without Qt: roles, wrong logins, the idle lock; both backends."""

from __future__ import annotations

import pytest

from inspector.storage.login_session import LoginSession, RoleTooLow
from inspector.storage.user_admin import has_admin, list_users
from inspector.storage.users import Role, add_user


class Clock:
    """Seconds that move only when the test says so (the session's time source)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def session(engine, clock) -> LoginSession:
    add_user(engine, "kim", Role.QA, "qa-password", actor="admin")
    add_user(engine, "eng", Role.ENGINEER, "eng-password", actor="admin")
    return LoginSession(engine, idle_timeout_s=300, clock=clock)


def test_starts_at_operator_level_with_nobody(session):
    assert session.user is None and session.role is Role.OPERATOR
    assert session.allows(Role.OPERATOR) and not session.allows(Role.QA)
    assert session.actor_name() is None and session.seconds_left() == 0


def test_wrong_name_or_password_gives_the_same_answer_and_changes_nothing(session):
    session.login("eng", "eng-password")
    assert session.login("eng", "wrong-password") is None
    assert session.login("nobody", "eng-password") is None
    assert session.actor_name() == "eng"  # a failed attempt does not log the user out


def test_a_role_too_low_is_told_which_role_is_needed(session):
    with pytest.raises(RoleTooLow, match="kim is qa; this needs engineer or higher"):
        session.login("kim", "qa-password", needs=Role.ENGINEER)
    assert session.user is None
    user = session.login(" kim ", "qa-password", needs=Role.QA)
    assert user is not None and session.actor_name() == "kim" and session.allows(Role.QA)


def test_idle_time_locks_back_to_operator_and_input_keeps_it_open(session, clock):
    session.login("eng", "eng-password")
    clock.now += 299
    session.touch()
    clock.now += 299
    assert session.role is Role.ENGINEER and session.seconds_left() == pytest.approx(1)
    clock.now += 1
    assert session.expire_if_idle()
    assert session.user is None and session.role is Role.OPERATOR
    assert not session.expire_if_idle()


def test_logout_and_bad_timeout(session, engine):
    session.login("eng", "eng-password")
    session.logout()
    assert session.user is None
    with pytest.raises(ValueError, match="positive timeout"):
        LoginSession(engine, idle_timeout_s=0)


def test_user_list_and_admin_presence(engine):
    assert list_users(engine) == [] and not has_admin(engine)
    add_user(engine, "zoe", Role.ADMIN, "admin-password", actor="zoe")
    add_user(engine, "al", Role.OPERATOR, "op-password", actor="zoe")
    assert [(u.name, u.role) for u in list_users(engine)] == [
        ("al", Role.OPERATOR),
        ("zoe", Role.ADMIN),
    ]
    assert has_admin(engine)
