"""The torch-free inference backend: an exported runtime package on ONNX Runtime.

A line PC or an edge box needs neither torch nor its gigabytes to inspect:
:class:`OnnxAnomalyInferencer` has the public surface of
:class:`~inspector.ml.inferencer.AnomalyInferencer` and goes through the same
pixel code (:mod:`inspector.ml.pixels`) on both sides of the network; only the
network call differs. Nothing here imports torch, directly or indirectly
(an import-linter contract in ``pyproject.toml`` holds that, and a test
checks ``sys.modules``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from inspector.core.errors import ModelPackageError
from inspector.core.inspection import ModelOutput
from inspector.ml.lighting import LightingRange
from inspector.ml.pixels import normalise_batch, outputs_at_image_size
from inspector.ml.runtime_package import RuntimePackage, load_runtime_package

log = logging.getLogger(__name__)

IMAGES_INPUT, BANK_INPUT = "images", "memory_bank"
OUTPUTS = ("scores", "maps")
LOCALISATION_MAPS = "localisation_maps"
"""Third output of the graph of a model that evens its map or has a localisation head
(``PatchCoreOutput.localisation_maps``)."""
MAX_DISTANCE_ELEMENTS = 1 << 23
"""Bound on one network call's patch-to-bank distance matrix (float32: 32 MiB).

The graph computes all distances of a call in one matrix product (no loop,
unlike the torch model's blocks), so its memory grows with batch x patches x
bank rows; batches are split into calls that stay under this bound (2 images
at 224 px with a bank of 4000). Measured through ``predict`` on the shared
2-core CPU (magnetic-tile, 2 threads, no spinning, 8 interleaved passes):
calls of 8 images (25 M elements, 100 MiB) 32 images/s, of 2 or 1 images 40.
"""


def _onnxruntime():  # noqa: ANN202 - the module, imported where it is needed
    try:
        import onnxruntime
    except ImportError as exc:
        msg = (
            "ONNX Runtime is not installed: install it with pip install 'inspector[onnx]' "
            "(or onnxruntime), or run the torch model package with --backend torch"
        )
        raise ModelPackageError(msg) from exc
    return onnxruntime


def session_for(
    network: bytes,
    threads: int | None,
    providers: Sequence[str | tuple[str, dict]] = ("CPUExecutionProvider",),
):  # noqa: ANN201 - an onnxruntime.InferenceSession
    """An ONNX Runtime session on ``network`` with this project's settings.

    Raises:
        ModelPackageError: ONNX Runtime is not installed.
    """
    ort = _onnxruntime()
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or 0
    options.inter_op_num_threads = 1
    # Idle worker threads sleep instead of spinning: on a CPU shared with acquisition,
    # storage and other processes, spinning cost 25 against 32-40 images/s (2 cores).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(network, options, providers=list(providers))


class OnnxAnomalyInferencer:
    """Scores images with a runtime package on ONNX Runtime.

    Not thread-safe by contract (like the torch inferencer): one inference
    worker owns it.

    Args:
        package: A loaded runtime package, or its folder.
        threads: ONNX Runtime intra-op threads; ``None`` lets it choose (one
            per physical core). Set it to leave cores to acquisition and storage.
        device: ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"cuda:N"``; CUDA needs the
            ``onnxruntime-gpu`` build, and without it the CPU is used with a
            logged warning (as the torch backend does without a GPU).
        max_batch: Most images per network call.

    Raises:
        ModelPackageError: the package cannot be loaded, ONNX Runtime is missing,
            or the graph does not fit the package's input size or bank.
        ValueError: ``max_batch`` or ``threads`` is below 1, or ``device`` is unusable.
    """

    def __init__(
        self,
        package: RuntimePackage | str | Path,
        threads: int | None = None,
        *,
        device: str = "auto",
        max_batch: int = 8,
    ) -> None:
        if max_batch < 1:
            msg = f"max_batch must be at least 1, got {max_batch}"
            raise ValueError(msg)
        if threads is not None and threads < 1:
            msg = f"threads must be at least 1 (or None for ONNX Runtime's choice), got {threads}"
            raise ValueError(msg)
        self.package = (
            package if isinstance(package, RuntimePackage) else load_runtime_package(package)
        )
        providers = _providers(device, _onnxruntime().get_available_providers())
        self.threads = threads
        try:
            self.session = session_for(self.package.network, threads, providers)
        except Exception as exc:  # ORT raises its own Fail/InvalidGraph types
            msg = f"ONNX Runtime cannot load {self._where}: {exc}; export the model again"
            raise ModelPackageError(msg) from exc
        self._bank = np.ascontiguousarray(self.package.memory_bank, dtype=np.float32)
        self._outputs = self._check_graph()
        self.max_batch = max(1, min(max_batch, MAX_DISTANCE_ELEMENTS // self._compared_per_image()))
        log.info(
            "anomaly model %s on %s (bank %d x %d, input %d px)",
            self.version,
            self.device_label,
            *self._bank.shape,
            self.input_size,
        )

    def _compared_per_image(self) -> int:
        """Patch-to-bank distances the graph computes for one image.

        A retrieval graph compares each patch with its ``k`` nearest good images'
        rows only (``model.json`` ``retrieval``), not the whole bank, so it can
        take several images per call; without that section the whole bank counts.
        """
        package = self.package
        cells = (self.input_size // package.feature_stride) ** 2
        rows = self._bank.shape[0]
        retrieval = package.branches.get("retrieval")
        if isinstance(retrieval, dict):
            k, per_image = retrieval.get("k"), retrieval.get("rows_per_image")
            counts = (k, per_image)
            if all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in counts):
                rows = min(rows, k * per_image)
        return max(1, cells * rows)

    @property
    def _where(self) -> str:
        return str(self.package.path) if self.package.path is not None else self.package.version

    def _check_graph(self) -> list[str]:
        """The graph's output names, once its inputs and outputs are the ones expected."""
        inputs = {i.name: i.shape for i in self.session.get_inputs()}
        outputs = [o.name for o in self.session.get_outputs()]
        known = (OUTPUTS, (*OUTPUTS, LOCALISATION_MAPS))
        if set(inputs) != {IMAGES_INPUT, BANK_INPUT} or tuple(outputs) not in known:
            msg = (
                f"{self._where}: the network takes {sorted(inputs)} and gives {outputs}, expected "
                f"{[IMAGES_INPUT, BANK_INPUT]} -> {list(OUTPUTS)} (and {LOCALISATION_MAPS!r} for a "
                "model that evens its map or has a localisation head): export the model again"
            )
            raise ModelPackageError(msg)
        size = self.input_size
        if list(inputs[IMAGES_INPUT][1:]) != [3, size, size]:
            msg = (
                f"{self._where}: the network takes images {inputs[IMAGES_INPUT]}, but model.json "
                f"says input_size {size}: the files do not belong together; export again"
            )
            raise ModelPackageError(msg)
        if inputs[BANK_INPUT][1] != self._bank.shape[1]:
            msg = (
                f"{self._where}: the network compares patches of {inputs[BANK_INPUT][1]} values, "
                f"but the memory bank has shape {self._bank.shape}: the bank does not belong to "
                "this network; export the model again"
            )
            raise ModelPackageError(msg)
        retrieval = self.package.branches.get("retrieval")
        evens = isinstance(retrieval, dict) and bool(retrieval.get("density_weight"))
        if evens and LOCALISATION_MAPS not in outputs:
            log.warning(
                "%s evens its map but was exported before the evened map became a separate "
                "output: its defect regions and zones are judged on the evened map; export "
                "the model again to judge them on the plain map",
                self._where,
            )
        return outputs

    @property
    def version(self) -> str:
        """Model version string, stored with every inspection."""
        return self.package.version

    @property
    def default_threshold(self) -> float:
        """Threshold calibrated at fitting; ``decision`` may override it."""
        return self.package.threshold

    @property
    def lighting(self) -> LightingRange | None:
        """Brightness and contrast of the good parts it was fitted on (``None``: not known);
        the station sends frames lit otherwise to the fail-safe bin."""
        return self.package.lighting

    @property
    def input_size(self) -> int:
        """Side of the square the model sees."""
        return self.package.input_size

    @property
    def device_label(self) -> str:
        """Where the network runs, named for people (``"CPU (2 threads, ONNX Runtime)"``)."""
        if self.session.get_providers()[0] == "CUDAExecutionProvider":
            return "CUDA GPU (ONNX Runtime)"
        if self.threads is None:
            return "CPU (default threads, ONNX Runtime)"
        return f"CPU ({self.threads} threads, ONNX Runtime)"

    def predict(self, images: Sequence[np.ndarray]) -> list[ModelOutput]:
        """Score RGB ``uint8`` images of any sizes, ``max_batch`` at a time.

        Returns:
            One :class:`ModelOutput` per image, in order; each ``anomaly_map``
            (and ``localisation_map``, when the graph has ``localisation_maps``) is float32 at
            that image's own height and width, in the same units as the torch
            backend's.

        Raises:
            ValueError: an image is not an RGB ``uint8`` ``(H, W, 3)`` array.
        """
        outputs: list[ModelOutput] = []
        package = self.package
        for start in range(0, len(images), self.max_batch):
            chunk = images[start : start + self.max_batch]
            batch = normalise_batch(
                chunk, package.input_size, package.mean, package.std, exposure=package.exposure
            )
            scores, maps, *located = self.session.run(
                self._outputs, {IMAGES_INPUT: batch, BANK_INPUT: self._bank}
            )
            outputs.extend(outputs_at_image_size(chunk, scores, maps, *located))
        return outputs


def _providers(device: str, available: Sequence[str]) -> list[str | tuple[str, dict]]:
    text = device.strip().lower()
    index = text.removeprefix("cuda:") if text.startswith("cuda:") else "0"
    known = text in ("auto", "cpu", "cuda") or text.startswith("cuda:")
    if not known or not index.isdigit():
        msg = f"device {device!r} is not valid: use 'auto', 'cpu', 'cuda' or 'cuda:N'"
        raise ValueError(msg)
    if text != "cpu" and "CUDAExecutionProvider" in available:
        return [("CUDAExecutionProvider", {"device_id": int(index)}), "CPUExecutionProvider"]
    if text.startswith("cuda"):
        log.warning(
            "device %r requested but this ONNX Runtime has no CUDA provider: running on the CPU",
            device,
        )
    return ["CPUExecutionProvider"]
