"""Inspector: industrial defect inspection (camera → CNN → verdict → record)."""

__version__ = "0.1.0"
