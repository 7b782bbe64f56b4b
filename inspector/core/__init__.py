"""Plain data types shared by every layer: no I/O, no imports from the package."""

from inspector.core.errors import InspectorError, ModelPackageError, SourceError, StorageError
from inspector.core.frame import Frame
from inspector.core.inspection import Defect, Inspection, ModelOutput
from inspector.core.record import StoredInspection
from inspector.core.verdict import Verdict

__all__ = [
    "Defect",
    "Frame",
    "Inspection",
    "InspectorError",
    "ModelOutput",
    "ModelPackageError",
    "SourceError",
    "StoredInspection",
    "StorageError",
    "Verdict",
]
