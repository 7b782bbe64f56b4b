"""The sorting outcome of one part."""

from enum import StrEnum


class Verdict(StrEnum):
    """What the reject gate does with a part.

    REVIEW parts go to the reject bin too but are flagged for a person to look at.
    """

    ACCEPT = "accept"
    REJECT = "reject"
    REVIEW = "review"

    @property
    def strictness(self) -> int:
        """How far the verdict sends a part from the good bin: accept 0, review 1, reject 2."""
        return _STRICTNESS[self]


_STRICTNESS = {Verdict.ACCEPT: 0, Verdict.REVIEW: 1, Verdict.REJECT: 2}
