"""``inspector explain`` end to end: a trained classifier, the shipped anomaly model, real files."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import cv2
import pytest

from inspector.cli import main
from inspector.pipeline.line import DEFAULT_MODEL_DIR
from tests.trained_tiny_classifier import in_thread, synthetic_part


@pytest.fixture
def images(tmp_path: Path) -> Path:
    """A spot part, a good part, and a file that is not an image."""
    folder = tmp_path / "in"
    folder.mkdir()
    for kind, seed in (("spot", 9000), ("good", 9001)):
        image, _ = synthetic_part(kind, seed)
        cv2.imwrite(str(folder / f"{kind}.png"), image[..., ::-1])
    (folder / "broken.jpg").write_bytes(b"not a jpeg")
    return folder


def _run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = in_thread(lambda: main(argv))
    return code, out.getvalue(), err.getvalue()


def test_a_figure_per_image_with_the_anomaly_map_beside(
    trained_classifier: Path, images: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    argv = ["explain", "--classifier", str(trained_classifier), "--model", str(DEFAULT_MODEL_DIR)]
    code, stdout, stderr = _run([*argv, "--out", str(out), "--device", "cpu", str(images)])
    assert code == 1  # the broken file
    assert "broken.jpg" in stderr
    assert "spot.png: spot" in stdout and "Grad-CAM of 'spot'" in stdout
    assert "anomaly" in stdout
    assert sorted(p.name for p in out.iterdir()) == ["good.png", "spot.png"]
    figure = cv2.imread(str(out / "spot.png"))
    # Three square panels at 320 px in a row, two gaps, captions below.
    assert figure.shape[0] > 320 and figure.shape[1] >= 3 * 320 + 2 * 16


def test_without_an_anomaly_model_and_for_a_named_class(
    trained_classifier: Path, images: Path, tmp_path: Path
) -> None:
    spot = images / "spot.png"
    out = tmp_path / "out"
    base = ["explain", "--classifier", str(trained_classifier), "--out", str(out)]
    code, stdout, _ = _run([*base, "--class", "good", "--device", "cpu", str(spot)])
    assert code == 0
    assert "Grad-CAM of 'good'" in stdout
    figure = cv2.imread(str(out / "spot.png"))
    assert 2 * 320 + 16 <= figure.shape[1] < 3 * 320  # image and Grad-CAM only
    code, _, stderr = _run([*base, "--class", "dent", "--device", "cpu", str(spot)])
    assert code == 2
    assert "'dent' is not one of the classifier's ['good', 'scratch', 'spot']" in stderr


def test_a_part_lit_unlike_the_good_ones_is_shown_as_the_line_decides_it(
    trained_classifier: Path, tmp_path: Path
) -> None:
    """The demo model keeps its parts' lighting: a good demo part at 60 % light (which the
    model itself would accept, score 22.9 against 24.5) is not
    judged on a line (fail-safe), and explain shows the verdict the line would give."""
    from inspector.acquisition.demo_line import DemoLine
    from inspector.training.explain import explain_files

    folder = tmp_path / "parts"
    folder.mkdir()
    with DemoLine(rate_hz=0, defect_rate=0.0, seed=5, max_parts=1) as line:
        [good] = [frame.image for frame in line]
    dimmed = (good * 0.6).astype("uint8")
    for name, image in (("lit", good), ("dimmed", dimmed)):
        cv2.imwrite(str(folder / f"{name}.png"), image[..., ::-1])
    results = in_thread(
        lambda: explain_files(
            trained_classifier, [folder], tmp_path / "out", model_dir=DEFAULT_MODEL_DIR,
            device="cpu",
        )
    )  # fmt: skip
    verdicts = {r.path.stem: r.verdict for r in results}
    assert verdicts == {"lit": "accept", "dimmed": "reject"}
