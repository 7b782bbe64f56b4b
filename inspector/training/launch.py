"""Command lines for running ``inspector train`` and ``inspector compare`` as child processes.

The GUI trains and compares in a separate process, so a crash, an hour of
training or a cancel never touches the window or the running line. This
module only builds the argument lists and says whether training can run here;
it starts nothing (the GUI's ``QProcess`` does).
"""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path

TASKS = ("classify", "segment", "detect")
"""Tasks the GUI offers: those ``inspector train`` runs."""


def inspector_command() -> list[str]:
    """The program and first arguments that run the ``inspector`` command line.

    In a PyInstaller bundle the executable *is* the command line; in a Python
    install the package has no ``__main__`` of its own, so ``inspector.cli``
    is run as a module with the same interpreter (and so the same venv).
    """
    if getattr(sys, "frozen", False):
        return [sys.executable]
    return [sys.executable, "-m", "inspector.cli"]


def training_unavailable() -> str | None:
    """Why training cannot run in this install, or ``None`` when it can."""
    if getattr(sys, "frozen", False) or importlib.util.find_spec("torch") is None:
        return (
            "Training needs PyTorch, which this line-side install leaves out. Train on an "
            "engineering install (pip install inspector), then copy the model package here "
            "to compare and promote it."
        )
    return None


@dataclass(frozen=True)
class TrainRequest:
    """What the Models tab asks ``inspector train`` for.

    Attributes:
        data: Labelled folder (``<class>/<stem>.<ext>``).
        out: Model package folder to write (must not exist yet).
        task: One of :data:`TASKS`.
        val: Optional separate validation folder.
        image_size: Square model input side (smaller trains faster); ``None``: the
            task's default (classify chooses it from the images).
        head_epochs: Epochs of the head alone (``classify`` only: the others have no head phase).
        epochs: Most fine-tuning epochs after it.
        views: Versions of each image cached through the frozen layers (1 is fastest).
    """

    data: Path
    out: Path
    task: str = "classify"
    val: Path | None = None
    image_size: int | None = None
    head_epochs: int = 80
    epochs: int = 6
    views: int = 2

    def problems(self) -> list[str]:
        """Everything wrong with the request, each saying what to do (empty when fine)."""
        found = []
        if not self.data.is_dir():
            found.append(f"the data folder {self.data} does not exist: choose a labelled folder")
        if self.val is not None and not self.val.is_dir():
            found.append(f"the validation folder {self.val} does not exist: choose one or none")
        if self.task not in TASKS:
            found.append(f"task {self.task!r} cannot be trained yet: choose {', '.join(TASKS)}")
        if self.out.exists():
            found.append(
                f"{self.out} already exists: choose a new output folder (nothing is overwritten)"
            )
        elif not self.out.parent.is_dir():
            found.append(f"the output folder's parent {self.out.parent} does not exist")
        for name, value, low in (
            ("image size", 32 if self.image_size is None else self.image_size, 32),
            ("head epochs", self.head_epochs, 1),
            ("fine-tuning epochs", self.epochs, 0),
            ("views", self.views, 0),
        ):
            if value < low:
                found.append(f"{name} must be at least {low}, got {value}")
        return found

    def arguments(self) -> list[str]:
        """The ``inspector train`` arguments, with machine-readable progress on stdout.

        Raises:
            ValueError: the request has problems (all of them are named).
        """
        problems = self.problems()
        if problems:
            msg = "cannot start training: " + "; ".join(problems)
            raise ValueError(msg)
        args = ["train", "--data", str(self.data), "--task", self.task, "--out", str(self.out)]
        if self.val is not None:
            args += ["--val", str(self.val)]
        if self.task == "classify":
            args += ["--head-epochs", str(self.head_epochs)]
        if self.image_size is not None:
            args += ["--image-size", str(self.image_size)]
        args += [
            "--epochs",
            str(self.epochs),
            "--views",
            str(self.views),
            "--progress-json",
        ]
        return args


def compare_arguments(model: Path, baseline: Path, data: Path, report: Path) -> list[str]:
    """The ``inspector compare`` arguments for a candidate against production.

    Raises:
        ValueError: a folder is missing, or both models are the same package.
    """
    problems = [
        f"the {name} {path} does not exist: choose {what}"
        for name, path, what in (
            ("candidate model", model, "a model package folder"),
            ("production model", baseline, "the station's model package"),
            ("data folder", data, "a labelled folder (good/ + defect classes)"),
        )
        if not path.is_dir()
    ]
    if not problems and model.resolve() == baseline.resolve():
        problems.append(f"the candidate is the production model itself ({model}): pick another")
    if problems:
        msg = "cannot compare: " + "; ".join(problems)
        raise ValueError(msg)
    return [
        "compare",
        "--model",
        str(model),
        "--baseline",
        str(baseline),
        "--data",
        str(data),
        "--report",
        str(report),
    ]
