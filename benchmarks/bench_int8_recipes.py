"""INT8 recipes against each other and fp32: network time, and where the time goes.

Run: ``.venv/bin/python benchmarks/bench_int8_recipes.py --model MODEL_DIR --good DIR
[--recipes default,qoperator,...] [--profile]`` (for example a model fitted on
magnetic-tile ``train/good``, calibrated on the same folder).

Each recipe quantises the model's feature graph (calibrated on 64 good
images), is joined to the model's float32 scoring graph, and the joined
networks are timed on one batch of 2 good images (the size the inferencer's
distance bound allows at 224 px with a 4000-row bank), 2 intra-op threads,
passes alternating between networks so load from other processes falls on all
alike. Reported: ms per image of the whole network and of the feature graph
alone, each as a ratio to fp32; with ``--profile`` also ONNX Runtime's time
per operator type, which shows what INT8 cannot speed up (the float32
distances to the bank). Quality is not measured here: ``inspector export
--int8`` rebuilds the memory and measures it (minutes per recipe).
"""

from __future__ import annotations

import argparse
import collections
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from inspector.acquisition.image_files import list_images, read_image
from inspector.ml.inferencer import build_patchcore
from inspector.ml.onnx_export import OPSET
from inspector.ml.onnx_inferencer import BANK_INPUT, IMAGES_INPUT, session_for
from inspector.ml.onnx_quantize import FeatureRunner, Int8Recipe, join_graphs, quantize_features
from inspector.ml.onnx_split import feature_graph, scoring_graph
from inspector.ml.package import load_package
from inspector.training.evaluate import without_masks
from inspector.training.int8_export import spread

RECIPES = {
    "default": Int8Recipe(),
    "minmax": Int8Recipe(calibration="MinMax"),
    "qoperator": Int8Recipe(format="QOperator"),
    "u8u8-reduce-range": Int8Recipe(weights="uint8", reduce_range=True),
    "s8-reduce-range": Int8Recipe(reduce_range=True),
    "float-depthwise": Int8Recipe(skip_depthwise=True),
    "float-feature-convs": Int8Recipe(float_features=True),
    "conv-and-add": Int8Recipe(operators=("Conv", "Add")),
    "all-convs-int8": Int8Recipe(float_first_convs=0),
    "float-stem-only": Int8Recipe(float_first_convs=1),
}


def op_profile(network: bytes, feed: dict[str, np.ndarray], threads: int) -> dict[str, float]:
    """Share of kernel time per operator type over 10 runs."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.enable_profiling = True
    with tempfile.TemporaryDirectory() as folder:
        options.profile_file_prefix = str(Path(folder) / "profile")
        session = ort.InferenceSession(network, options, providers=["CPUExecutionProvider"])
        for _ in range(10):
            session.run(None, feed)
        events = json.loads(Path(session.end_profiling()).read_text())
    kernel = collections.Counter()
    for event in events:
        if event.get("cat") == "Node" and event["name"].endswith("_kernel_time"):
            kernel[event["args"]["op_name"]] += event["dur"]
    total = sum(kernel.values())
    return {op: round(100 * t / total, 1) for op, t in kernel.most_common(8)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, type=Path, help="torch model package")
    parser.add_argument("--good", required=True, type=Path, help="good images to calibrate on")
    parser.add_argument("--recipes", default=",".join(RECIPES), help="comma-separated names")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=8, help="alternating timed rounds")
    parser.add_argument("--profile", action="store_true", help="time per operator type")
    args = parser.parse_args()

    source = load_package(args.model)
    model = build_patchcore(source)
    size, mean, std = source.input_size, source.mean, source.std
    features = feature_graph(model, size, OPSET)
    scoring = scoring_graph(model, size, OPSET)
    good = without_masks(list_images(args.good))
    runner = FeatureRunner(features, size, mean, std, args.threads, source.exposure)
    calibration = [read_image(f) for f in spread(good, 64)]
    graphs = {"fp32": (features, join_graphs(features, scoring))}
    for name in args.recipes.split(","):
        quantised = quantize_features(features, runner.batches(calibration), RECIPES[name])
        graphs[name] = (quantised, join_graphs(quantised, scoring))
    batch = next(iter(runner.batches([read_image(f) for f in good[:2]])))
    bank = np.ascontiguousarray(source.memory_bank.float().numpy())
    feeds = ({IMAGES_INPUT: batch}, {IMAGES_INPUT: batch, BANK_INPUT: bank})
    sessions = {
        name: [session_for(graph, args.threads) for graph in pair] for name, pair in graphs.items()
    }
    ms: dict[str, list[list[float]]] = {name: [[], []] for name in sessions}
    for _ in range(args.rounds):
        for name, pair in sessions.items():
            for part, (session, feed) in enumerate(zip(pair, feeds, strict=True)):
                session.run(None, feed)
                started = time.perf_counter()
                for _ in range(3):
                    session.run(None, feed)
                ms[name][part].append((time.perf_counter() - started) / 6 * 1000)
    base = [statistics.median(times) for times in ms["fp32"]]
    report = {}
    for name, (feature_ms, network_ms) in ms.items():
        f, n = statistics.median(feature_ms), statistics.median(network_ms)
        report[name] = {
            "network_ms_per_image": round(n, 2),
            "network_speedup": round(base[1] / n, 2),
            "features_ms_per_image": round(f, 2),
            "features_speedup": round(base[0] / f, 2),
        }
        if args.profile:
            report[name]["op_share_percent"] = op_profile(graphs[name][1], feeds[1], args.threads)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
