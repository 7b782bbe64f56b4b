"""Class names of a source made into safe folder names, or refused with a reason.

Class names come from folder names, VOC ``<name>`` tags and reviews; they
become folder names in the dataset, so they are reduced to portable
characters (:func:`~inspector.training.dataset_layout.safe_class_name`).
Reducing must never merge two classes silently, and ``--classes``, when
given, is the whole list of what may come in.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from inspector.training.dataset_checks import Problem, error, warning
from inspector.training.dataset_layout import GOOD_CLASS, safe_class_name
from inspector.training.dataset_sources import SourceSample


def resolve_class_names(
    samples: Sequence[SourceSample], allowed: Sequence[str] | None
) -> tuple[dict[str, str], list[Problem]]:
    """Each usable sample's class folder, and the problems with the names.

    A sample is refused (an error naming it) when its class or one of its
    boxes' classes cannot be a folder name, collides with another class once
    made safe (``Crack`` and ``crack`` would share a folder on Windows and
    macOS), or is not in ``allowed`` (``good`` always is). A name that had to
    change is a warning, once per class.

    Returns:
        ``{sample item: class folder}`` for the samples that may come in, and the problems.
    """
    labels = {s.label for s in samples} | {b.defect_class for s in samples for b in s.boxes}
    safe = {raw: safe_class_name(raw) for raw in sorted(labels)}
    refused = _refused(safe, allowed)
    problems: list[Problem] = [
        warning(
            "renamed_class",
            raw,
            f"class {raw!r} is written as '{name}' (folder names keep letters, digits, "
            "'_' and '-')",
        )
        for raw, name in safe.items()
        if raw not in refused and name != raw
    ]
    names: dict[str, str] = {}
    for sample in samples:
        reasons = [refused[raw] for raw in _labels(sample) if raw in refused]
        if reasons:
            kind, message = reasons[0]
            problems.append(error(kind, sample.item, message))
        else:
            names[sample.item] = safe[sample.label]
    return names, problems


def _labels(sample: SourceSample) -> list[str]:
    return [sample.label, *(box.defect_class for box in sample.boxes)]


def _refused(safe: dict[str, str], allowed: Sequence[str] | None) -> dict[str, tuple[str, str]]:
    """``{raw name: (problem kind, message)}`` for names that cannot come in."""
    refused: dict[str, tuple[str, str]] = {}
    by_folder: dict[str, list[str]] = defaultdict(list)
    for raw, name in safe.items():
        if not name:
            refused[raw] = (
                "bad_class_name",
                f"class {raw!r} has no letters or digits to name a folder with: rename it",
            )
        else:
            by_folder[name.casefold()].append(raw)
    for group in by_folder.values():
        if len(group) > 1:
            shown = ", ".join(repr(raw) for raw in group)
            for raw in group:
                refused[raw] = (
                    "class_collision",
                    f"classes {shown} would share the folder '{safe[raw]}': rename all but one",
                )
    if allowed is not None:
        for raw, name in safe.items():
            if raw not in refused and name != GOOD_CLASS and name not in allowed:
                refused[raw] = (
                    "unknown_class",
                    f"class '{name}' is not in --classes ({', '.join(allowed)}): add it there "
                    "or fix the label",
                )
    return refused
