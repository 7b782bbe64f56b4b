"""Detection quality on parts the model has never seen a photo of.

Run: ``.venv/bin/python benchmarks/unseen_parts.py --out /tmp/unseen
--good ../shared/datasets/magnetic-tile/train/good --data ../shared/datasets/magnetic-tile/val``
(about 2 minutes on 2 CPU cores).

Why: magnetic-tile photographs each tile several times (under the lightings
``exp1`` to ``exp6``) and numbers the photos of one tile close together
(``exp1_num_10181``, ``exp2_num_10202``). Nearly every good tile of ``val/``
has a photo of the same tile in ``train/good`` and the defective tiles mostly
do not, so ``inspector evaluate`` on ``val/`` partly measures whether the model
has seen this very tile before, which a line never offers: each part passes
the camera once.

This fits two models on the same number of good photos and evaluates both on
``--data`` with ``inspector evaluate``: one with every photo of a tile that is
also in ``--data`` left out ("unseen parts"), one on a seeded random subset
of the same size (the usual random split, "seen parts"). The difference is
how much of the usual figures comes from having seen the part.
"""

from __future__ import annotations

import argparse
import json
import random
import re
from collections.abc import Sequence
from pathlib import Path

from inspector.acquisition.image_files import list_images
from inspector.cli import main as inspector
from inspector.ml.package_fields import EXPOSURES
from inspector.training.evaluate import without_masks

PART_NUMBER = r"num_(\d+)"
"""How magnetic-tile names a photo's place in the capture sequence."""

SAME_PART_GAP = 150
"""Photos numbered closer than this are taken as one part: on magnetic-tile the
photos of one tile lie a median 28 apart and tiles several hundred."""

FIGURES = ("image_auroc", "pixel_auroc", "aupro", "false_reject_rate", "escape_rate")


def part_number(path: Path, pattern: str = PART_NUMBER) -> int:
    """The capture number in a file name.

    Raises:
        ValueError: the name does not contain the pattern.
    """
    found = re.search(pattern, path.name)
    if found is None:
        msg = f"{path.name}: no part number matching {pattern!r} in the name"
        raise ValueError(msg)
    return int(found.group(1))


def unseen_only(
    good: Sequence[Path],
    evaluated: Sequence[Path],
    gap: int = SAME_PART_GAP,
    pattern: str = PART_NUMBER,
) -> list[Path]:
    """The good photos of parts with no photo among ``evaluated`` (numbered ``gap`` or more
    from every evaluated photo)."""
    taken = sorted(part_number(p, pattern) for p in evaluated)
    if not taken:
        msg = "no evaluated photos: give --data a folder of <class>/<image> files"
        raise ValueError(msg)
    return [p for p in good if min(abs(part_number(p, pattern) - n) for n in taken) >= gap]


def link_folder(paths: Sequence[Path], folder: Path) -> Path:
    """A folder of symbolic links to ``paths``, for ``inspector fit --good``."""
    folder.mkdir(parents=True, exist_ok=False)
    for path in paths:
        (folder / path.name).symlink_to(path.resolve())
    return folder


def fit_and_evaluate(
    good: Path, data: Path, out: Path, fit_options: Sequence[str] = ()
) -> dict[str, float]:
    """``inspector fit`` on ``good``, ``inspector evaluate`` on ``data``; the report's figures."""
    model, report = out / "model", out / "report"
    if inspector(["fit", "--good", str(good), "--out", str(model), *fit_options]) != 0:
        msg = f"inspector fit failed on {good}"
        raise RuntimeError(msg)
    code = inspector(
        ["evaluate", "--model", str(model), "--data", str(data), "--report", str(report)]
    )
    if code not in (0, 1):
        msg = f"inspector evaluate failed on {data} (exit {code})"
        raise RuntimeError(msg)
    metrics = json.loads((report / "report.json").read_text())["metrics"]
    figures = {name: metrics[name] for name in FIGURES}
    for point in metrics["operating_points"]:
        figures[f"escapes at {point['false_reject_rate']:.0%} false rejects"] = point["escape_rate"]
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--good", required=True, type=Path, help="good photos to fit on")
    parser.add_argument("--data", required=True, type=Path, help="labelled folder to evaluate")
    parser.add_argument("--out", required=True, type=Path, help="new folder for models, reports")
    parser.add_argument("--gap", type=int, default=SAME_PART_GAP)
    parser.add_argument("--pattern", default=PART_NUMBER, help="regex; group 1 = capture number")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--exposure", choices=EXPOSURES, help="passed to inspector fit")
    args = parser.parse_args()

    good = without_masks(list_images(args.good))
    evaluated = without_masks(list_images(args.data))
    unseen = unseen_only(good, evaluated, args.gap, args.pattern)
    if not unseen:
        parser.error("every good photo shares a part with --data: nothing left to fit on")
    seen = random.Random(args.seed).sample(good, len(unseen))
    args.out.mkdir(parents=True, exist_ok=False)
    rows = {}
    for name, chosen in (("seen parts", seen), ("unseen parts", unseen)):
        folder = link_folder(chosen, args.out / name.replace(" ", "-") / "good")
        options = ["--exposure", args.exposure] if args.exposure else []
        rows[name] = fit_and_evaluate(folder, args.data, folder.parent, options)
    print(json.dumps({"good_photos": len(good), "fitted_on": len(unseen), **rows}, indent=2))


if __name__ == "__main__":
    main()
