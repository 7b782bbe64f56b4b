"""ONNX export and the torch-free ONNX Runtime backend, against the torch path it replaces.

One export of the shipped demo-line model (through the CLI, about 20-30 s on
2 cores) is shared by the module; every parity check runs both backends'
public ``predict`` on the same images and compares scores, maps and verdicts.
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import onnx
import pytest

from inspector.acquisition.demo_line import DemoLine
from inspector.acquisition.image_files import read_image
from inspector.cli import main
from inspector.core.errors import ModelPackageError
from inspector.decision.decide import decide
from inspector.decision.rules import DecisionRules
from inspector.ml.backend import open_inferencer, package_backend
from inspector.ml.inferencer import AnomalyInferencer
from inspector.ml.onnx_inferencer import OnnxAnomalyInferencer
from inspector.ml.package import load_package
from inspector.ml.runtime_package import BANK_FILE, NETWORK_FILE, load_runtime_package
from inspector.pipeline.line import DEFAULT_MODEL_DIR
from inspector.pipeline.station_config import ConfigError, load_station_config
from inspector.training.evaluate import evaluate_package
from inspector.training.fit_anomaly import fit_anomaly
from tests.unit.ml.synthetic_parts import SIZE, textured_part, with_blob

REPO = Path(__file__).resolve().parents[3]
TOLERANCE = 1e-3


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The demo-line model exported with ``inspector export``; its folder and what it printed."""
    out = tmp_path_factory.mktemp("onnx") / "demo-line-onnx"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = main(
            ["export", "--model", str(DEFAULT_MODEL_DIR), "--format", "onnx", "--out", str(out)]
        )
    assert code == 0, printed.getvalue()
    return out, printed.getvalue()


@pytest.fixture(scope="module")
def package_dir(exported: tuple[Path, str]) -> Path:
    return exported[0]


@pytest.fixture(scope="module")
def torch_inferencer() -> AnomalyInferencer:
    return AnomalyInferencer(DEFAULT_MODEL_DIR, device="cpu")


@pytest.fixture(scope="module")
def onnx_inferencer(package_dir: Path) -> OnnxAnomalyInferencer:
    return OnnxAnomalyInferencer(package_dir, threads=2, max_batch=4)


@pytest.fixture(scope="module")
def demo_images() -> list[np.ndarray]:
    with DemoLine(rate_hz=0, defect_rate=0.5, seed=11, max_parts=8) as line:
        return [frame.image for frame in line]


def _relative(a: float, b: float) -> float:
    return abs(a - b) / abs(a)


def _assert_parity(torch_model, onnx_model, images: list[np.ndarray]) -> None:  # noqa: ANN001
    """Scores within TOLERANCE, maps alike, verdicts identical at two thresholds."""
    expected, got = torch_model.predict(images), onnx_model.predict(images)
    worst = max(_relative(e.score, g.score) for e, g in zip(expected, got, strict=True))
    assert worst <= TOLERANCE, f"largest relative score difference {worst:.3g}"
    for e, g in zip(expected, got, strict=True):
        assert g.anomaly_map.shape == e.anomaly_map.shape
        assert g.anomaly_map.dtype == np.float32
        np.testing.assert_allclose(g.anomaly_map, e.anomaly_map, rtol=0, atol=TOLERANCE * e.score)
    median = float(np.median([e.score for e in expected]))
    for threshold in (torch_model.default_threshold, median):
        rules = DecisionRules(threshold)
        verdicts = [decide(e, rules)[0] for e in expected]
        assert [decide(g, rules)[0] for g in got] == verdicts
    split = {decide(e, DecisionRules(median, review_margin=0))[0] for e in expected}
    assert len(split) > 1, "the median threshold should split the images"


def test_runtime_package_holds_graph_bank_and_metadata(package_dir: Path) -> None:
    source = load_package(DEFAULT_MODEL_DIR)
    package = load_runtime_package(package_dir)
    meta = json.loads((package_dir / "model.json").read_text())
    assert meta["backend"] == "onnxruntime" and meta["opset"] == 18
    assert meta["source_version"] == source.version
    assert package.version == f"{source.version}-onnx"
    for key in ("threshold", "input_size", "layers", "sigma", "score_top_fraction"):
        assert meta[key] == pytest.approx(getattr(source, key) if key != "layers" else [2, 4])
    assert meta["mean"] == list(source.mean) and meta["std"] == list(source.std)
    assert meta["export_check"]["max_relative_score_difference"] <= TOLERANCE
    # The bank is the torch package's float16 bank, bit for bit, as a plain array.
    bank = np.load(package_dir / BANK_FILE, allow_pickle=False)
    assert bank.dtype == np.float16
    np.testing.assert_array_equal(bank.astype(np.float32), source.memory_bank.numpy())
    # The graph takes the bank as an input and holds no copy of it (nor the threshold).
    graph = onnx.load(package_dir / NETWORK_FILE).graph
    inputs = {
        i.name: [d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim]
        for i in graph.input
    }
    assert inputs == {"images": ["batch", 3, 224, 224], "memory_bank": ["bank_rows", 152]}
    assert [o.name for o in graph.output] == ["scores", "maps"]
    assert all(152 not in init.dims for init in graph.initializer)


def test_cli_export_says_what_it_checked(exported: tuple[Path, str]) -> None:
    folder, printed = exported
    assert f"to {folder} as demo-line-" in printed and "ONNX opset 18" in printed
    assert "largest relative score difference to torch" in printed


def test_export_refuses_to_overwrite_a_package(package_dir: Path) -> None:
    from inspector.ml.onnx_export import export_onnx

    with pytest.raises(ValueError, match="already holds a model package"):
        export_onnx(DEFAULT_MODEL_DIR, package_dir)


def test_onnxruntime_matches_torch_on_demo_parts(
    torch_inferencer: AnomalyInferencer,
    onnx_inferencer: OnnxAnomalyInferencer,
    demo_images: list[np.ndarray],
) -> None:
    assert onnx_inferencer.default_threshold == torch_inferencer.default_threshold
    assert onnx_inferencer.input_size == torch_inferencer.input_size
    assert onnx_inferencer.device_label == "CPU (2 threads, ONNX Runtime)"
    _assert_parity(torch_inferencer, onnx_inferencer, demo_images)


def test_calls_of_several_images_give_what_single_images_give(
    package_dir: Path, demo_images: list[np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("inspector.ml.onnx_inferencer.MAX_DISTANCE_ELEMENTS", 1 << 30)
    together = OnnxAnomalyInferencer(package_dir, threads=2, max_batch=3)
    monkeypatch.setattr("inspector.ml.onnx_inferencer.MAX_DISTANCE_ELEMENTS", 1)
    alone = OnnxAnomalyInferencer(package_dir, threads=2, max_batch=3)
    assert (together.max_batch, alone.max_batch) == (3, 1)  # the graph's batch axis is free
    for a, b in zip(together.predict(demo_images[:5]), alone.predict(demo_images[:5]), strict=True):
        assert a.score == pytest.approx(b.score, rel=1e-5)
        np.testing.assert_allclose(a.anomaly_map, b.anomaly_map, rtol=1e-5, atol=1e-4)


@pytest.mark.dataset
def test_onnxruntime_matches_torch_on_magnetic_tiles(
    magnetic_tile: Path,
    torch_inferencer: AnomalyInferencer,
    onnx_inferencer: OnnxAnomalyInferencer,
) -> None:
    val = magnetic_tile / "val"
    files = sorted((val / "good").glob("*.jpg"))[:4]
    for defect in ("blowhole", "break", "crack", "uneven"):
        files += sorted((val / defect).glob("*.jpg"))[:1]
    images = [read_image(f) for f in files]
    assert len({image.shape for image in images}) > 1  # real tiles come in many sizes
    _assert_parity(torch_inferencer, onnx_inferencer, images)


@pytest.mark.slow
def test_a_model_with_an_image_level_branch_exports_and_matches(
    tmp_path: Path, good_images: list[np.ndarray]
) -> None:
    """What ``inspector fit`` makes by default: patch and image-level branches, normalised,
    each image's grey levels standardised (ONNX Runtime must prepare pixels the same way)."""
    from inspector.ml.onnx_export import export_onnx
    from inspector.ml.runtime_package import load_runtime_package

    fitted = fit_anomaly(
        good_images,
        tmp_path / "model",
        input_size=SIZE,
        bank_size=500,
        global_stage=5,
        score_top_fraction=0.01,
        exposure="standardised",
        device="cpu",
        name="branches",
    )
    package = export_onnx(fitted.package_dir, tmp_path / "onnx")
    assert load_runtime_package(tmp_path / "onnx").exposure == "standardised"
    taught = load_package(fitted.package_dir).lighting
    assert taught is not None and load_runtime_package(tmp_path / "onnx").lighting == taught
    assert OnnxAnomalyInferencer(package).lighting == taught
    meta = json.loads((tmp_path / "onnx" / "model.json").read_text())
    assert meta["format_version"] == 2  # older Inspectors refuse it rather than skip the step
    assert package.branches["global_branch"]["stage"] == 5
    assert set(package.branches["score_normalisation"]) == {
        "patch_centre",
        "patch_scale",
        "global_centre",
        "global_scale",
    }
    images = [textured_part(400 + i) for i in range(3)]
    images += [
        with_blob(textured_part(410 + i), centre=(40 + 20 * i, 64), radius=8) for i in range(3)
    ]
    _assert_parity(
        AnomalyInferencer(fitted.package_dir, device="cpu"), OnnxAnomalyInferencer(package), images
    )


def _copy(package_dir: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "copy"
    shutil.copytree(package_dir, copy)
    return copy


def _replace_bank(folder: Path, bank: np.ndarray, **meta_changes: object) -> None:
    """Swap in another bank and make model.json's hash (and fields) agree with it."""
    import hashlib

    np.save(folder / BANK_FILE, bank, allow_pickle=bank.dtype == object)
    meta = json.loads((folder / "model.json").read_text())
    meta["files"][BANK_FILE] = hashlib.sha256((folder / BANK_FILE).read_bytes()).hexdigest()
    meta.update(meta_changes)
    (folder / "model.json").write_text(json.dumps(meta))


def test_an_unknown_exposure_is_refused(package_dir: Path, tmp_path: Path) -> None:
    from inspector.ml.runtime_package import load_runtime_package

    folder = _copy(package_dir, tmp_path)
    meta = json.loads((folder / "model.json").read_text())
    meta["exposure"] = "auto"
    (folder / "model.json").write_text(json.dumps(meta))
    with pytest.raises(ModelPackageError, match="'exposure' is 'auto'.*newer Inspector"):
        load_runtime_package(folder)


@pytest.mark.parametrize("name", [NETWORK_FILE, BANK_FILE])
def test_a_changed_file_is_refused(package_dir: Path, tmp_path: Path, name: str) -> None:
    folder = _copy(package_dir, tmp_path)
    data = bytearray((folder / name).read_bytes())
    data[len(data) // 2] ^= 0x01
    (folder / name).write_bytes(bytes(data))
    with pytest.raises(ModelPackageError, match=f"{name}: has SHA-256 .* damaged or was changed"):
        OnnxAnomalyInferencer(folder)


def test_a_bank_of_another_shape_is_refused(package_dir: Path, tmp_path: Path) -> None:
    folder = _copy(package_dir, tmp_path)
    _replace_bank(folder, np.zeros((100, 152), np.float16))
    with pytest.raises(
        ModelPackageError, match=r"shape \(100, 152\), but model.json says \(4000, 152\)"
    ):
        OnnxAnomalyInferencer(folder)


def test_a_bank_that_does_not_fit_the_network_is_refused(package_dir: Path, tmp_path: Path) -> None:
    folder = _copy(package_dir, tmp_path)
    _replace_bank(folder, np.zeros((100, 144), np.float16), bank_size=100, feature_dim=144)
    with pytest.raises(
        ModelPackageError, match="compares patches of 152 values, but the memory bank"
    ):
        OnnxAnomalyInferencer(folder)


def test_a_pickled_bank_is_refused_not_loaded(package_dir: Path, tmp_path: Path) -> None:
    folder = _copy(package_dir, tmp_path)
    _replace_bank(folder, np.array([{"not": "numbers"}], dtype=object))
    with pytest.raises(ModelPackageError, match="not a plain numeric array"):
        OnnxAnomalyInferencer(folder)


def test_backend_choice_follows_the_package_and_refuses_mismatches(package_dir: Path) -> None:
    assert package_backend(package_dir) == "onnxruntime"
    assert package_backend(DEFAULT_MODEL_DIR) == "torch"
    assert isinstance(open_inferencer(package_dir, "auto", device="cpu"), OnnxAnomalyInferencer)
    with pytest.raises(ModelPackageError, match="exported ONNX Runtime package: run it with"):
        open_inferencer(package_dir, "torch")
    with pytest.raises(ModelPackageError, match="export it first with 'inspector export"):
        open_inferencer(DEFAULT_MODEL_DIR, "onnxruntime")
    with pytest.raises(ValueError, match="backend 'tensorrt' is not known"):
        open_inferencer(package_dir, "tensorrt")


def test_the_runtime_module_imports_no_torch() -> None:
    code = (
        "import sys; import inspector.ml.onnx_inferencer, inspector.ml.backend; "
        "sys.exit(3 if 'torch' in sys.modules else 0)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _write_images(folder: Path, images: list[np.ndarray]) -> None:
    folder.mkdir(parents=True)
    for i, image in enumerate(images):
        cv2.imwrite(str(folder / f"part{i}.png"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))


def test_cli_predict_on_onnxruntime_runs_without_torch_and_agrees(
    package_dir: Path, demo_images: list[np.ndarray], tmp_path: Path
) -> None:
    _write_images(tmp_path / "images", demo_images[:5])
    onnx_out, torch_out = tmp_path / "onnx.jsonl", tmp_path / "torch.jsonl"
    args = ["predict", "--model", str(package_dir), "--backend", "onnxruntime"]
    code = (
        "import sys; from inspector.cli import main; "
        f"code = main({[*args, '--output', str(onnx_out), str(tmp_path / 'images')]!r}); "
        "sys.exit(3 if 'torch' in sys.modules else code)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (
        main(
            [
                "predict",
                "--model",
                str(DEFAULT_MODEL_DIR),
                "--backend",
                "torch",
                "--output",
                str(torch_out),
                str(tmp_path / "images"),
            ]
        )
        == 0
    )
    onnx_lines = [json.loads(line) for line in onnx_out.read_text().splitlines()]
    torch_lines = [json.loads(line) for line in torch_out.read_text().splitlines()]
    assert len(onnx_lines) == len(torch_lines) == 5
    for o, t in zip(onnx_lines, torch_lines, strict=True):
        assert o["path"] == t["path"] and o["verdict"] == t["verdict"]
        assert _relative(t["score"], o["score"]) <= TOLERANCE


def test_evaluate_on_onnxruntime_reports_the_runtime_package(
    package_dir: Path, demo_images: list[np.ndarray], tmp_path: Path
) -> None:
    _write_images(tmp_path / "data" / "good", demo_images[:2])
    _write_images(tmp_path / "data" / "scratch", demo_images[2:4])
    run = evaluate_package(package_dir, tmp_path / "data", backend="onnxruntime", batch=4)
    assert run.model_version.endswith("-onnx") and len(run.images) == 4
    assert run.device.endswith("ONNX Runtime)") and run.model_summary["bank_size"] == 4000


def test_station_file_chooses_the_backend(package_dir: Path, tmp_path: Path) -> None:
    station = tmp_path / "station.toml"
    station.write_text(f'[model]\npath = "{package_dir}"\nbackend = "onnxruntime"\n')
    assert load_station_config(station).line_settings().backend == "onnxruntime"
    station.write_text('[model]\nbackend = "tensorrt"\n')
    with pytest.raises(ConfigError, match="model.backend = 'tensorrt'"):
        load_station_config(station)


def test_headless_line_runs_on_onnxruntime(package_dir: Path, tmp_path: Path, capsys) -> None:  # noqa: ANN001
    db = tmp_path / "line.db"
    args = ["run", "--headless", "--source", "demo", "--frames", "6", "--seed", "2"]
    assert (
        main([*args, "--model", str(package_dir), "--backend", "onnxruntime", "--db", str(db)]) == 0
    )
    assert "ONNX Runtime" in capsys.readouterr().out
    with sqlite3.connect(db) as connection:
        rows = connection.execute("SELECT model_version, error FROM inspections").fetchall()
    assert len(rows) == 6
    assert all(version.endswith("-onnx") and error is None for version, error in rows)
