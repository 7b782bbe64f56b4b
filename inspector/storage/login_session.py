"""Who is logged in at this station, and when that lapses: the GUI's access rules without Qt.

The station runs at operator level with nobody logged in: operators start,
stop and acknowledge alarms without a password. An action above operator
needs a logged-in user whose role allows it, and that user's name is what
reviews and audit entries record. After ``idle_timeout_s`` without input the
session lapses back to operator level, so a walked-away engineer's login is
not left for the next person at the screen.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy import Engine

from inspector.core.errors import StorageError
from inspector.storage.users import Role, User, authenticate

DEFAULT_IDLE_MINUTES = 5.0


class RoleTooLow(StorageError):
    """The user logged in correctly but may not do what was asked."""


class LoginSession:
    """One station's login state.

    Args:
        engine: The database holding the users.
        idle_timeout_s: Seconds without :meth:`touch` after which the user is
            logged out.
        clock: Monotonic seconds (a parameter so tests need not sleep).
    """

    def __init__(
        self,
        engine: Engine,
        *,
        idle_timeout_s: float = DEFAULT_IDLE_MINUTES * 60,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if idle_timeout_s <= 0:
            msg = f"the idle lock needs a positive timeout, got {idle_timeout_s} s"
            raise ValueError(msg)
        self.engine = engine
        self.idle_timeout_s = idle_timeout_s
        self._clock = clock
        self._user: User | None = None
        self._last_input = clock()

    @property
    def user(self) -> User | None:
        """The logged-in user, or ``None`` (also once the idle time has run out)."""
        self.expire_if_idle()
        return self._user

    @property
    def role(self) -> Role:
        """What the station may do now: the user's role, or operator."""
        user = self.user
        return user.role if user is not None else Role.OPERATOR

    def allows(self, needed: Role) -> bool:
        """Whether the current session may do what ``needed`` may."""
        return self.role.allows(needed)

    def login(self, name: str, password: str, *, needs: Role = Role.OPERATOR) -> User | None:
        """Log ``name`` in; ``None`` (and nothing changes) when name or password is wrong.

        The answer is the same for an unknown name and a wrong password, so the
        dialog cannot tell a guesser which of the two was right.

        Raises:
            RoleTooLow: the password is right but the role does not allow
                ``needs``; whoever was logged in stays logged in.
        """
        user = authenticate(self.engine, name.strip(), password)
        if user is None:
            return None
        if not user.role.allows(needs):
            msg = (
                f"{user.name} is {user.role.value}; this needs {needs.value} or higher: "
                "log in as someone who has it"
            )
            raise RoleTooLow(msg)
        self._user = user
        self._last_input = self._clock()
        return user

    def logout(self) -> None:
        """Back to operator level."""
        self._user = None

    def touch(self) -> None:
        """Someone used the station: the idle time starts again."""
        self._last_input = self._clock()

    def seconds_left(self) -> float:
        """Seconds until the idle lock (0 when nobody is logged in)."""
        if self._user is None:
            return 0.0
        return max(0.0, self.idle_timeout_s - (self._clock() - self._last_input))

    def expire_if_idle(self) -> bool:
        """Log out if the idle time has run out; True when this call logged someone out."""
        if self._user is not None and self._clock() - self._last_input >= self.idle_timeout_s:
            self._user = None
            return True
        return False

    def actor_name(self) -> str | None:
        """The name recorded as actor for what the station does now; ``None`` if nobody."""
        user = self.user
        return user.name if user is not None else None
