"""The sorting outcome of one part."""

from enum import StrEnum


class Verdict(StrEnum):
    """What the reject gate does with a part.

    REVIEW parts go to the reject bin too but are flagged for a person to look at.
    """

    ACCEPT = "accept"
    REJECT = "reject"
    REVIEW = "review"
