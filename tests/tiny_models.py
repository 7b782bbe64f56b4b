"""Two small real anomaly models and a tiny labelled folder, for promotion and swap tests.

Each fit takes about 2 s on 2 CPU cores (128 px synthetic parts, a 300-patch
memory bank); the two models differ in name and training parts, hence in
version, scores and threshold.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from inspector.training.fit_anomaly import fit_anomaly
from tests.unit.ml.synthetic_parts import SIZE, textured_part, with_blob


def fit_tiny(out: Path, name: str, first_seed: int) -> Path:
    """Fit a small model on 10 synthetic good parts; returns the package folder."""
    good = [textured_part(seed) for seed in range(first_seed, first_seed + 10)]
    fit_anomaly(good, out, input_size=SIZE, bank_size=300, device="cpu", name=name)
    return out


def defective_part(seed: int) -> np.ndarray:
    """A good part with a dark blob whose place and size depend on ``seed``."""
    rng = np.random.default_rng(seed)
    centre = (int(rng.integers(24, SIZE - 24)), int(rng.integers(24, SIZE - 24)))
    return with_blob(textured_part(seed), centre, int(rng.integers(5, 12)))


def write_labelled(root: Path, goods: int = 6, defects: int = 6) -> Path:
    """``good/`` and ``blob/`` JPEG folders in the evaluation layout (unseen seeds)."""
    for folder, count, make in (("good", goods, textured_part), ("blob", defects, defective_part)):
        (root / folder).mkdir(parents=True, exist_ok=True)
        for index in range(count):
            image = make(1000 + index)
            cv2.imwrite(str(root / folder / f"{index:03d}.jpg"), image[:, :, ::-1])
    return root


def tiny_pair(base: Path) -> tuple[Path, Path]:
    """Models ``line-a`` and ``line-b`` under ``base``, fitted once per test session."""
    pair = []
    for name, seed in (("line-a", 0), ("line-b", 100)):
        out = base / name
        if not (out / "model.json").exists():
            fit_tiny(out, name, seed)
        pair.append(out)
    return pair[0], pair[1]
