"""'This is OK': a false reject teaches the anomaly model at once, as a new model version.

The model's memory of good parts is extended with the patches of the part
that the model found least like its memory (the ones that caused the reject);
the threshold and everything else stay as they were. The new package has its
own version, the old one is untouched (rolling back is loading it again), and
the change is written to the audit log with the inspections it learned from.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from sqlalchemy import Engine

from inspector.ml.device import inference_context
from inspector.ml.inferencer import AnomalyInferencer
from inspector.ml.lighting import grey_levels
from inspector.ml.package import ModelPackage, load_package, save_package
from inspector.ml.retrieval import gallery_rows
from inspector.storage.audit import append_audit
from inspector.storage.deployments import promote
from inspector.storage.image_store import ImageStore
from inspector.storage.repository import get_inspection
from inspector.storage.reviews import ReviewDecision, add_review, latest_reviews

#: Patches added per learned image: enough to cover the region that caused the
#: reject, few enough that the bank (and inference time) grows by little.
PATCHES_PER_IMAGE = 128


@dataclass(frozen=True)
class LearnResult:
    """What :func:`learn_good_parts` made."""

    old_version: str
    new_version: str
    package_dir: Path
    added_patches: int


def extend_with_good(
    package: ModelPackage, images: Sequence[np.ndarray], *, device: str = "cpu"
) -> tuple[ModelPackage, int]:
    """A copy of ``package`` whose memory bank also holds these good images' novel patches.

    Uses the model's own preprocessing and feature path, so the new patches
    live in the same feature space as the bank.
    """
    if not images:
        msg = "give at least one image of a good part to learn from"
        raise ValueError(msg)
    inferencer = AnomalyInferencer(package, device=device)
    model = inferencer.model
    batch = inferencer.prepare(list(images))
    batch = batch.to(inferencer.device, memory_format=torch.channels_last)
    with inference_context(inferencer.device):
        features, descriptors = model.embed_all(batch)
        patches = features.float().permute(0, 2, 3, 1).reshape(-1, model.dim)
        distances = None if package.retrieval_k else model.nearest_distance(patches)
    per_image = patches.shape[0] // len(images)
    if package.retrieval_k:
        # A retrieval gallery keeps whole images: the part becomes one more good image
        # its look-alikes are compared with, its rows at the end as its descriptor is.
        added = gallery_rows(
            patches.view(len(images), per_image, -1), package.gallery_rows_per_image()
        ).cpu()
    else:
        chosen = []
        for index in range(len(images)):
            rows = slice(index * per_image, (index + 1) * per_image)
            order = torch.argsort(distances[rows], descending=True)[:PATCHES_PER_IMAGE]
            chosen.append(patches[rows][order].cpu())
        added = torch.cat(chosen)
    bank = torch.cat([package.memory_bank.float(), added])
    global_bank = package.global_bank
    if global_bank is not None and descriptors is not None:
        # The whole image joins the image-level branch: a part that looked off as a whole
        # (lighting, a new batch of material) is now a known good look.
        global_bank = torch.cat([global_bank.float(), descriptors.float().cpu()])
    lighting = package.lighting
    if lighting is not None:
        # A part taught as good under new lighting is lighting the line may now see.
        lighting = lighting.including(grey_levels(image) for image in images)
    extended = replace(
        package,
        memory_bank=bank,
        global_bank=global_bank,
        lighting=lighting,
        version="unsaved",
        path=None,
        files={},
    )
    return extended, len(added)


def learn_good_parts(
    engine: Engine,
    image_store: ImageStore,
    model_dir: str | Path,
    inspection_ids: Sequence[int],
    out_dir: str | Path,
    *,
    actor: str,
    device: str = "cpu",
    deploy: bool = False,
) -> LearnResult:
    """Teach the model that these stored parts are good; review and audit the change.

    Parts not yet reviewed as false rejects get that review (by ``actor``), so
    the review history and the model's training history agree.

    Args:
        deploy: Also record the new version as the production model of the
            parts' station (the GUI's "this is OK", which switches the running
            line at once): the line keeps it after a restart, and a rollback
            returns to the model it learned from.

    Raises:
        ValueError: an inspection does not exist or its image was not kept, or
            ``deploy`` with parts of several stations.
    """
    images, stations = [], set()
    for inspection_id in inspection_ids:
        stored = get_inspection(engine, inspection_id)
        if stored is None or stored.image_path is None:
            why = "does not exist" if stored is None else "has no kept image"
            msg = f"inspection {inspection_id} {why}: the model can only learn from kept images"
            raise ValueError(msg)
        images.append(image_store.load(stored.image_path))
        stations.add(stored.station)
    if deploy and len(stations) != 1:
        msg = f"parts of stations {sorted(stations)}: teach one station's parts at a time"
        raise ValueError(msg)
    package = load_package(model_dir)
    extended, added = extend_with_good(package, images, device=device)
    learned = list(package.training.get("learned_good_inspections", [])) + list(inspection_ids)
    extended = replace(extended, training={**package.training, "learned_good_inspections": learned})
    saved = save_package(extended, out_dir)
    reviews = latest_reviews(engine, inspection_ids)
    for inspection_id in inspection_ids:
        review = reviews.get(inspection_id)
        if review is None or review.decision is not ReviewDecision.FALSE_REJECT:
            add_review(
                engine,
                inspection_id,
                reviewer=actor,
                decision="false_reject",
                note=f"taught to model {saved.version}",
            )
    append_audit(
        engine,
        actor=actor,
        action="model.learn_good",
        subject=str(out_dir),
        old_value=package.version,
        new_value=saved.version,
        reason="false rejects marked OK: inspections " + ", ".join(map(str, inspection_ids)),
    )
    if deploy:
        (station,) = stations
        reason = "learned false rejects: inspections " + ", ".join(map(str, inspection_ids))
        promote(engine, station, out_dir, saved.version, actor=actor, reason=reason)
    return LearnResult(package.version, saved.version, Path(out_dir), added)
