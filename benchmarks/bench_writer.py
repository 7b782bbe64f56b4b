"""Record writer throughput: records committed per second on SQLite and on PostgreSQL.

Run: ``.venv/bin/python benchmarks/bench_writer.py`` (SQLite only), or with a
PostgreSQL server as well::

    export INSPECTOR_TEST_POSTGRES_URL=$(installer/start-test-postgres.sh start /tmp/pg --durable)
    .venv/bin/python benchmarks/bench_writer.py
    installer/start-test-postgres.sh stop /tmp/pg

The line's mix of parts is submitted at once to a started :class:`RecordWriter`
(94 % good, 4 % rejects with one to three defects, 2 % REVIEW; rejects, REVIEW
parts and one good part in 50 keep a small JPEG), and the clock stops when
``stop()`` returns, i.e. when the last record is committed. Each figure is the
median of ``--repeat`` runs, taken in turn with the other cases (so that all
see the same swings of a shared machine's load), each on a new, empty database
(a SQLite file in a temporary folder; a new schema on the server, dropped
afterwards). The server's durability settings are printed with its figures: a test server
started without ``--durable`` skips fsync and is not a plant's server. SQLite
runs with ``synchronous=NORMAL`` (a commit is not flushed to disk, a crash
cannot corrupt the file); PostgreSQL's like-for-like setting is
``synchronous_commit=off``, which a URL can ask for per session:
``...?options=-csynchronous_commit%3Doff``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from sqlalchemy import create_engine, make_url

from inspector.core import Defect, Frame, Inspection, Verdict
from inspector.storage.engine import open_database
from inspector.storage.image_store import ImageStore
from inspector.storage.repository import count_inspections
from inspector.storage.writer import RecordWriter

POSTGRES_URL_VARIABLE = "INSPECTOR_TEST_POSTGRES_URL"
Target = Callable[[], AbstractContextManager[str]]
T0 = datetime(2026, 5, 4, 6, 0, tzinfo=UTC)


def inspections(parts: int, seed: int = 7) -> list[Inspection]:
    """The parts one station would submit, built as the pipeline builds them."""
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, size=(64, 64, 3), dtype=np.uint8)
    built = []
    for part_id in range(parts):
        draw = rng.random()
        verdict = (
            Verdict.REJECT if draw < 0.04 else Verdict.REVIEW if draw < 0.06 else Verdict.ACCEPT
        )
        defects = ()
        if verdict is not Verdict.ACCEPT:
            defects = tuple(
                Defect(
                    kind=str(rng.choice(["scratch", "dent", "crack"])),
                    confidence=float(rng.random()),
                    box=(int(rng.integers(0, 50)), int(rng.integers(0, 50)), 8, 6),
                    area_px=int(rng.integers(10, 48)),
                )
                for _ in range(int(rng.integers(1, 4)))
            )
        frame = Frame(
            image=image,
            camera_id="cam0",
            part_id=part_id,
            timestamp=float(part_id),
            captured_at=T0 + timedelta(milliseconds=100 * part_id),
            origin="bench",
            serial=f"SN-{part_id:08d}",
        )
        built.append(
            Inspection(
                frame=frame,
                verdict=verdict,
                score=float(rng.random()) + (1.0 if defects else 0.0),
                threshold=1.0,
                defects=defects,
                anomaly_map=None,
                model_version="bench-1",
                rules_version="rules-1",
                inference_ms=20.0,
                latency_ms=35.0,
            )
        )
    return built


@contextmanager
def sqlite_target() -> Iterator[str]:
    """A new SQLite file in a temporary folder."""
    with tempfile.TemporaryDirectory(prefix="bench-writer-") as folder:
        yield str(Path(folder) / "line.db")


@contextmanager
def postgres_target(url: str) -> Iterator[str]:
    """A new schema on the server (first on the search path), dropped afterwards."""
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    name = f"bench_writer_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE SCHEMA "{name}"')
    try:
        given = make_url(url)
        options = f"{given.query.get('options', '')} -csearch_path={name}".strip()
        yield given.update_query_dict({"options": options}).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA "{name}" CASCADE')
        admin.dispose()


def records_per_second(target: Target, parts: list[Inspection], max_batch: int) -> float:
    """Submit every part, stop the writer, and divide by the time until all were committed."""
    with target() as where, tempfile.TemporaryDirectory(prefix="bench-images-") as images:
        engine = open_database(where)
        # Every part is queued at once: a backlog bound below that would drop images.
        writer = RecordWriter(
            engine,
            ImageStore(Path(images)),
            station="s",
            max_batch=max_batch,
            max_backlog_images=len(parts),
        )
        started = time.perf_counter()
        writer.start()
        for inspection in parts:
            writer.submit(inspection)
        writer.stop(timeout=600)
        elapsed = time.perf_counter() - started
        stored = count_inspections(engine)
        engine.dispose()
    if stored != len(parts) or writer.failed:
        msg = f"only {stored} of {len(parts)} records arrived ({writer.failed} failed)"
        raise RuntimeError(msg)
    return len(parts) / elapsed


def server_settings(url: str) -> dict[str, str]:
    """What decides a PostgreSQL server's commit speed, to label its figures."""
    engine = create_engine(url)
    with engine.connect() as connection:
        settings = {
            name: str(connection.exec_driver_sql(f"SHOW {name}").scalar())
            for name in ("server_version", "fsync", "synchronous_commit", "full_page_writes")
        }
    engine.dispose()
    return settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--batch", type=int, nargs="+", default=[64, 1], help="max_batch values")
    parser.add_argument(
        "--postgres",
        default=os.environ.get(POSTGRES_URL_VARIABLE),
        help=f"server URL (default: ${POSTGRES_URL_VARIABLE}); its user may create schemas",
    )
    args = parser.parse_args()
    parts = inspections(args.parts)
    targets: dict[str, Target] = {"sqlite": sqlite_target}
    figures: dict[str, object] = {"parts": args.parts, "repeat": args.repeat}
    if args.postgres:
        targets["postgresql"] = lambda: postgres_target(args.postgres)
        figures["postgresql_server"] = server_settings(args.postgres)
    cases = [(backend, batch) for backend in targets for batch in args.batch]
    runs: dict[tuple[str, int], list[float]] = {case: [] for case in cases}
    # Round-robin, so that every case sees the same changes in the machine's load.
    for _ in range(args.repeat):
        for backend, batch in cases:
            runs[backend, batch].append(records_per_second(targets[backend], parts, batch))
    for (backend, batch), measured in runs.items():
        figures[f"{backend}_batch{batch}_records_per_s"] = round(statistics.median(measured))
        figures[f"{backend}_batch{batch}_runs"] = [round(r) for r in measured]
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
