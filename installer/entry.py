"""The line-side bundle's entry point: ``inspector.cli.main``, with torch's absence explained.

The bundle leaves PyTorch out on purpose (see ``installer/inspector.spec``), so
the engineering commands (``fit``, ``train``, ``export``, ``robustness``...)
cannot run in it. Their modules are still bundled, and importing one fails on
``import torch``; that failure is turned into one sentence saying where those
commands run, instead of a traceback on the operator's screen.
"""

from __future__ import annotations

import sys

from inspector.cli import main

#: The packages the bundle leaves out; a missing one of these is the engineering side.
ENGINEERING_ONLY = ("torch", "torchvision", "albumentations", "onnx", "onnxscript")


def run() -> int:
    """Run the ``inspector`` command; exit code 1 with a plain message where torch is needed."""
    try:
        return main()
    except ModuleNotFoundError as exc:
        missing = (exc.name or "").partition(".")[0]
        if missing not in ENGINEERING_ONLY:
            raise
        print(
            f"error: this command needs {missing}, which the line-side install leaves out. "
            "Fit, train, export and robustness run on an engineering install "
            "(pip install inspector); this install runs exported ONNX Runtime models "
            "(inspector export --model MODEL --format onnx --out PKG, then --model PKG).",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(run())
