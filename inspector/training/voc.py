"""Pascal VOC box annotations as labelled samples.

Accepted layouts (folder names matched case-insensitively), ``SOURCE`` being
the folder given:

- ``SOURCE/Annotations/*.xml`` + ``SOURCE/JPEGImages/`` (the VOC devkit;
  ``annotations``/``images`` as in NEU-DET, images possibly in sub-folders);
- ``SOURCE/VOC2007/...``: one level down; several such sets (``VOC2007`` and
  ``VOC2012``, NEU-DET's ``train`` and ``validation``) are imported together;
- ``SOURCE`` being the ``Annotations`` folder itself (images in a sibling);
- ``*.xml`` beside the images in ``SOURCE`` (LabelImg's default, Roboflow).

Each XML names its image in ``<filename>`` (a bare name; any directory part
is dropped, so an annotation cannot point outside the source); when no image
has that name, one with the XML's stem is used (so ``<path>``, which often
names another machine's file, and a ``<filename>`` whose extension differs
from the file's are no obstacle). An image's class is the class its boxes
cover most; an image with boxes of several classes is imported under that
class with a ``mixed_classes`` warning naming them all. An annotation
without objects is a ``good`` part. ``<difficult>``, ``<truncated>`` and
``<pose>`` do not change the sample: a difficult defect is still a defect.
``<bndbox>`` corners become ``(x, y, w, h) = (xmin, ymin, xmax - xmin,
ymax - ymin)``: both the 1-based devkit convention and the 0-based one of
most tools then fit in ``[0, width] x [0, height]``; a box ending at most a
pixel past the declared size's edge is clipped, with a ``box_clipped`` warning.
"""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path

from inspector.acquisition.image_files import IMAGE_EXTENSIONS
from inspector.core.errors import SourceError
from inspector.training.dataset_checks import Problem, error, warning
from inspector.training.dataset_layout import GOOD_CLASS, safe_class_name
from inspector.training.dataset_sources import Box, SourceSample, SourceScan

ANNOTATION_FOLDERS = frozenset({"annotations", "annotation", "xml", "xmls"})
IMAGE_FOLDERS = frozenset({"jpegimages", "images", "imgs", "img", "jpeg"})
_CORNERS = ("xmin", "ymin", "xmax", "ymax")
EDGE_SLACK = 1.0
"""Pixels a box may reach past the image's edge and still be imported (clipped)."""


class _Index:
    """The images under a folder, findable by name and by stem (case-insensitive)."""

    def __init__(self, folder: Path, *, recursive: bool) -> None:
        self.folder = folder
        pattern = "**/*" if recursive else "*"
        self.files = sorted(
            p for p in folder.glob(pattern) if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS
        )
        self.by_name: dict[str, list[Path]] = defaultdict(list)
        self.by_stem: dict[str, list[Path]] = defaultdict(list)
        for file in self.files:
            self.by_name[file.name.lower()].append(file)
            self.by_stem[file.stem.lower()].append(file)

    def find(self, filename: str, xml_stem: str) -> list[Path]:
        """Images matching ``<filename>``, else its stem, else the XML's stem."""
        name = re.split(r"[\\/]", filename.strip())[-1]
        for found in (
            self.by_name.get(name.lower()) if name else None,
            self.by_stem.get(Path(name).stem.lower()) if name else None,
            self.by_stem.get(xml_stem.lower()),
        ):
            if found:
                return found
        return []


def find_voc_sets(source: str | Path) -> list[tuple[Path, Path, bool]]:
    """Every ``(annotations folder, images folder, search images recursively)`` in ``source``.

    ``source`` itself, or each sub-folder holding a set (``VOC2007``,
    ``VOC2012``; NEU-DET's ``train`` and ``validation``), which are then
    imported together.

    Raises:
        SourceError: no VOC layout.
    """
    root = Path(source)
    if not root.is_dir():
        msg = f"VOC folder {root} does not exist or is not a folder: check the path"
        raise SourceError(msg)
    found = _layout(root)
    if found is not None:
        return [found]
    nested = [
        layout
        for sub in sorted(p for p in root.iterdir() if p.is_dir())
        if (layout := _layout(sub)) is not None
    ]
    if nested:
        return nested
    msg = (
        f"no Pascal VOC annotations in {root}: expected Annotations/*.xml with the images in "
        "JPEGImages/ (or images/), or *.xml beside the images"
    )
    raise SourceError(msg)


def _layout(base: Path) -> tuple[Path, Path, bool] | None:
    children = {p.name.lower(): p for p in base.iterdir() if p.is_dir()}
    annotations = next((children[n] for n in sorted(children) if n in ANNOTATION_FOLDERS), None)
    if annotations is None and base.name.lower() in ANNOTATION_FOLDERS:
        annotations = base
        children = {p.name.lower(): p for p in base.parent.iterdir() if p.is_dir()}
    if annotations is not None:
        images = next((children[n] for n in sorted(children) if n in IMAGE_FOLDERS), annotations)
        return annotations, images, images != annotations
    if any(base.glob("*.xml")):
        return base, base, False
    return None


def scan_voc(source: str | Path) -> SourceScan:
    """Read every annotation of a VOC set; report what cannot become a sample.

    Reported as errors (the image is then not imported): XML that does not
    parse or is not a VOC annotation, objects without a name or with
    non-numeric corners, a box labelled ``good``, an annotation whose image
    cannot be found (or is ambiguous), and images no annotation names.

    Several sets under ``source`` are read together, with a ``several_sets``
    warning naming them (import a sub-folder to take one alone).

    Raises:
        SourceError: no VOC layout found (see :func:`find_voc_sets`).
    """
    sets = find_voc_sets(source)
    # Files are named relative to the sets' common folder, so names stay apart.
    root = Path(os.path.commonpath([folder for found in sets for folder in found[:2]]))
    samples: list[SourceSample] = []
    problems: list[Problem] = []
    if len(sets) > 1:
        names = ", ".join(os.path.relpath(found[0], root) for found in sets)
        problems.append(
            warning(
                "several_sets",
                "",
                f"{len(sets)} VOC sets ({names}) imported together into one dataset (training "
                "holds out its own validation split); to keep one apart, import its sub-folder",
            )
        )
    for xml_folder, image_folder, recursive in sets:
        index = _Index(image_folder, recursive=recursive)
        named: set[Path] = set()
        xmls = xml_folder.rglob("*.xml") if recursive else xml_folder.glob("*.xml")
        for xml in sorted(xmls):
            sample = _read_annotation(xml, root, index, named, problems)
            if sample is not None:
                samples.append(sample)
        problems += [
            error(
                "unannotated_image",
                image.relative_to(root).as_posix(),
                "no annotation names this image: add its XML (with no <object> for a "
                "defect-free part) or remove the image",
            )
            for image in index.files
            if image not in named
        ]
    return SourceScan(tuple(samples), tuple(problems), f"Pascal VOC {root}")


def _read_annotation(
    xml: Path, root: Path, index: _Index, named: set[Path], problems: list[Problem]
) -> SourceSample | None:
    item = xml.relative_to(root).as_posix()
    try:
        tree = ET.parse(xml).getroot()
    except (ET.ParseError, OSError) as exc:
        named.update(index.by_stem.get(xml.stem.lower(), []))
        problems.append(
            error(
                "voc_xml",
                item,
                f"annotation cannot be read ({exc}); its image is not imported: fix the XML",
            )
        )
        return None
    found = index.find(tree.findtext("filename") or "", xml.stem)
    named.update(found)
    if tree.tag != "annotation":
        problems.append(
            error("voc_xml", item, f"root element is <{tree.tag}>, not a VOC <annotation>")
        )
        return None
    if len(found) != 1:
        problems.append(_image_problem(tree, xml, item, found, root, index.folder))
        return None
    boxes, object_problems = _objects(tree, item)
    if object_problems:
        problems.extend(object_problems)
        return None
    image_item = found[0].relative_to(root).as_posix()
    boxes = _clip_edge_boxes(boxes, _size(tree), image_item, problems)
    label = _image_class(boxes, image_item, problems)
    return SourceSample(
        item=image_item,
        image=found[0],
        label=label,
        boxes=tuple(boxes),
        declared_size=_size(tree),
        origin={"annotation": item},
    )


def _clip_edge_boxes(
    boxes: list[Box], size: tuple[int, int] | None, item: str, problems: list[Problem]
) -> list[Box]:
    """Boxes reaching at most :data:`EDGE_SLACK` px past the declared image edge, clipped.

    Tools disagree on whether VOC corners are 0- or 1-based, so a box drawn
    to the edge may end one pixel past it; losing the image for that would
    be absurd. A box further out is left for the import's box check (an error).
    """
    if size is None:
        return boxes
    height, width = size
    kept = []
    for box in boxes:
        x, y, w, h = box.bbox
        x1, y1 = x + w, y + h
        over = max(-x, -y, x1 - width, y1 - height)
        if 0 < over <= EDGE_SLACK:
            x, y = max(0.0, x), max(0.0, y)
            x1, y1 = min(float(width), x1), min(float(height), y1)
            problems.append(
                warning(
                    "box_clipped",
                    item,
                    f"a {box.defect_class} box ends {over:g} px past the {width}x{height} "
                    "image's edge (0- vs 1-based corners): clipped to the image",
                )
            )
            box = Box(box.defect_class, (x, y, x1 - x, y1 - y))
        kept.append(box)
    return kept


def _image_class(boxes: list[Box], item: str, problems: list[Problem]) -> str:
    """The class covering the most box area; an image with boxes of several classes is reported.

    A classifier learns one class per image, so the image must take one; the
    warning names every class and the one chosen, so a wrongly labelled image
    can be found and fixed rather than silently taught.
    """
    if not boxes:
        return GOOD_CLASS
    area: dict[str, float] = defaultdict(float)
    count: dict[str, int] = defaultdict(int)
    for box in boxes:
        area[box.defect_class] += box.bbox[2] * box.bbox[3]
        count[box.defect_class] += 1
    label = max(area, key=lambda name: (area[name], count[name]))
    if len(area) > 1:
        listed = ", ".join(
            f"{name} ({count[name]} box{'es' if count[name] > 1 else ''}, {area[name]:g} px²)"
            for name in sorted(area)
        )
        problems.append(
            warning(
                "mixed_classes",
                item,
                f"boxes of several classes: {listed}; imported as '{label}', the class covering "
                "the most area, which classify and detect training learn for all its boxes "
                "(dataset.json keeps each box's own class): relabel the objects if that is wrong",
            )
        )
    return label


def _image_problem(
    tree: ET.Element, xml: Path, item: str, found: list[Path], root: Path, folder: Path
) -> Problem:
    wanted = (tree.findtext("filename") or "").strip() or f"{xml.stem}.*"
    if not found:
        where = folder.relative_to(root).as_posix()
        return error(
            "missing_image",
            item,
            f"no image named {wanted!r} (or with the XML's stem) in {where}/: add the image "
            "or fix <filename>",
        )
    names = ", ".join(p.relative_to(root).as_posix() for p in found)
    return error(
        "ambiguous_image",
        item,
        f"several images match {wanted!r} ({names}): give <filename> with its extension "
        "or rename one",
    )


def _objects(tree: ET.Element, item: str) -> tuple[list[Box], list[Problem]]:
    boxes: list[Box] = []
    problems: list[Problem] = []
    for number, obj in enumerate(tree.findall("object"), start=1):
        name = (obj.findtext("name") or "").strip()
        if not name:
            problems.append(error("voc_xml", item, f"object {number} has no <name>: name it"))
            continue
        if safe_class_name(name).casefold() == GOOD_CLASS:
            problems.append(
                error(
                    "voc_xml",
                    item,
                    f"object {number} is labelled {name!r}, the defect-free class: a box marks "
                    "a defect; delete the object (an annotation without objects is a good part)",
                )
            )
            continue
        corners = _corners(obj.find("bndbox"))
        if corners is None:
            problems.append(
                error(
                    "voc_xml",
                    item,
                    f"object {number} ({name!r}) has no <bndbox> with numeric "
                    "<xmin>, <ymin>, <xmax>, <ymax>: fix the box",
                )
            )
            continue
        xmin, ymin, xmax, ymax = corners
        boxes.append(Box(name, (xmin, ymin, xmax - xmin, ymax - ymin)))
    return boxes, problems


def _corners(bndbox: ET.Element | None) -> tuple[float, float, float, float] | None:
    if bndbox is None:
        return None
    try:
        xmin, ymin, xmax, ymax = (float(bndbox.findtext(k) or "") for k in _CORNERS)
    except ValueError:
        return None
    return xmin, ymin, xmax, ymax


def _size(tree: ET.Element) -> tuple[int, int] | None:
    """``(height, width)`` from ``<size>``; ``None`` when absent or zero (some tools write 0)."""
    try:
        width = int(float(tree.findtext("size/width") or 0))
        height = int(float(tree.findtext("size/height") or 0))
    except ValueError:
        return None
    return (height, width) if width > 0 and height > 0 else None
