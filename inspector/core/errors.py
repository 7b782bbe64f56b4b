"""Errors the application reports to people: each message says what to do."""


class InspectorError(Exception):
    """Base class for errors that carry a message meant for the user."""


class SourceError(InspectorError):
    """A frame source cannot be opened or has stopped delivering frames."""


class ModelPackageError(InspectorError):
    """A model package is missing, corrupt, or was made for something else."""


class StorageError(InspectorError):
    """The database or the image store cannot be opened or written."""
