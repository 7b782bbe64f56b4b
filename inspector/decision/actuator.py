"""The reject gate's interface: how a verdict leaves the software for the line."""

from __future__ import annotations

import logging
from typing import Protocol

from inspector.core.errors import InspectorError
from inspector.core.verdict import Verdict

log = logging.getLogger(__name__)

#: Codes written to the PLC, one per verdict; 0 is left for "no verdict yet".
VERDICT_CODES = {Verdict.ACCEPT: 1, Verdict.REJECT: 2, Verdict.REVIEW: 3}


class ActuatorError(InspectorError):
    """The gate could not be told the verdict (link down, device refused it)."""


class Actuator(Protocol):
    """Something that moves a part according to its verdict.

    ``signal`` is called on the gate thread, one part at a time, in part order;
    it raises :class:`ActuatorError` when the verdict did not arrive, so the
    caller can retry it rather than lose it.
    """

    name: str

    def connect(self) -> None: ...

    def signal(self, part_id: int, verdict: Verdict) -> None: ...

    def close(self) -> None: ...


class LogActuator:
    """A gate that only writes each verdict to the log (bench setups, dry runs)."""

    name = "log"

    def __init__(self) -> None:
        self.signalled = 0

    def connect(self) -> None:
        """Nothing to connect."""

    def signal(self, part_id: int, verdict: Verdict) -> None:
        """Log the verdict."""
        self.signalled += 1
        log.debug("gate: part %d -> %s", part_id, verdict.value)

    def close(self) -> None:
        """Nothing to release."""
