"""Benchmark: the photo checks on 12-megapixel phone JPEGs, and the reuse lookup at city scale.

    python bench/evidence.py [--photos 8] [--hashes 1000000] [--db sqlite,postgresql]

(a) Per photo, one core (CPU time of this process, median over --photos photos made from
    scikit-image's sample photographs upscaled to 4000×3000 with sensor-like noise, JPEG
    quality 92 with phone EXIF):
    - baseline: a full JPEG decode alone (``Image.open(...).load()``);
    - upload work: the integrity check the upload already did (decode at 1/8) plus the
      print (decode at reduced scale with ``draft``, EXIF, quantisation tables, pHash, ORB);
    - feedback work: the five checks of one after-photo against one before-photo (rules,
      ORB matching + RANSAC, the reuse lookup in a database of --hashes prints);
    - all checks = upload work + feedback work. Aim: ≤ 150 ms.
    - the same-scene check without stored features (issue 16 follow-up: are the ORB
      features worth their ≈ 20 KB per photo in the database?): read the after- and the
      before-photo back from the store (a local folder) and print both again, then match.
(b) The reuse lookup alone against --hashes stored prints (hash and centre hash uniformly
    random 64-bit: ~15 rows per band value at 1 M), as the check runs it: one statement,
    each 16-bit band of the hash, and each band of the centre hash against that band of
    the 16 crop probes, then the Hamming distances. Median and p99 of 1,000 look-ups.
    Aim: ≤ 5 ms. PostgreSQL uses database ``duban_bench_photochecks`` on 127.0.0.1
    (dropped and recreated).
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for extra in (ROOT / "src", ROOT):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402
from sqlalchemy import create_engine, insert, text  # noqa: E402
from sqlalchemy.engine import Engine  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402
from tests.factories.photochecks import phone_jpeg, scene  # noqa: E402
from tests.fakes import SHANGHAI  # noqa: E402

from duban.adapters.photostore import LocalPhotoStore  # noqa: E402
from duban.evidence.photos import _check_complete  # noqa: E402
from duban.photochecks.checks import _cameras, near_hashes  # noqa: E402
from duban.photochecks.models import PhotoPrint  # noqa: E402
from duban.photochecks.prints import (  # noqa: E402
    CROP_PROBES,
    Print,
    bands,
    match_copy,
    match_scene,
    take_print,
    to_signed,
)
from duban.photochecks.rules import (  # noqa: E402
    Thresholds,
    check_original,
    check_place,
    check_same_scene,
    check_time,
)

SCENES = ("astronaut", "coffee", "rocket", "chelsea", "motorcycle", "brick", "clock", "coins")


def phone_photo(name: str, rng: np.random.Generator) -> bytes:
    big = scene(name).resize((4000, 3000), Image.Resampling.BICUBIC)
    pixels = np.asarray(big, dtype=np.int16) + rng.normal(0, 4, (3000, 4000, 3)).astype(np.int16)
    noisy = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    return phone_jpeg(noisy, gps=(34.03, 113.82), make="samsung", model="SM-A326U")


def cpu_ms(fn: object, *args: object) -> tuple[float, object]:
    start = time.process_time()
    out = fn(*args)  # type: ignore[operator]
    return (time.process_time() - start) * 1000, out


def feedback_checks(session: Session, after: Print, before: Print, t: Thresholds) -> None:
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    found = check_original(after.meta, t, tz=SHANGHAI, now=now, cameras=_cameras())
    assert found.reason == "original", found  # an SM-A326U writes 4000×3000 (table, sourced)
    check_time(after.meta, t, tz=SHANGHAI, dispatched_at=None, feedback_at=now)
    check_place((34.03, 113.82), t, case_lat=34.0301, case_lon=113.8201)
    near_hashes(session, after.phash, max_distance=t.copy_max_distance, probes=after.probes)
    # A candidate farther than a copy is compared by features (at most 8; here one).
    match_copy(after.keypoints, after.descriptors, before.keypoints, before.descriptors)
    m = match_scene(after.keypoints, after.descriptors, before.keypoints, before.descriptors)
    check_same_scene(m.inliers, t, before="x")


def scene_from_files(store: LocalPhotoStore, after_key: str, before_key: str) -> int:
    """The same-scene check with no stored features: both photos read and printed again."""
    after, before = take_print(store.get(after_key)), take_print(store.get(before_key))
    return match_scene(
        after.keypoints, after.descriptors, before.keypoints, before.descriptors
    ).inliers


def fill(engine: Engine, count: int, seed: int = 1) -> None:
    import duban.tables  # every model, so the prints' foreign key has its table

    duban.tables.Base.metadata.create_all(engine)
    rng = random.Random(seed)
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    table = PhotoPrint.__table__
    chunk = 20_000
    # the band indexes are built after the rows (minutes instead of a quarter of an hour)
    bands_indexes = [ix for ix in table.indexes if "band" in str(ix.name)]
    with engine.begin() as conn:
        for ix in bands_indexes:
            ix.drop(conn)
        if engine.dialect.name == "postgresql":
            fk = "fk_photo_prints_photo_id_photos"  # the rows here have no photos
            conn.execute(text(f"ALTER TABLE photo_prints DROP CONSTRAINT IF EXISTS {fk}"))
        for start in range(0, count, chunk):
            rows = []
            for i in range(start, min(count, start + chunk)):
                h = rng.getrandbits(64)
                b = bands(h)
                c = rng.getrandbits(64)
                cb = bands(c)
                rows.append(
                    {
                        "photo_id": f"{i:036d}",
                        "phash": to_signed(h),
                        "band0": b[0],
                        "band1": b[1],
                        "band2": b[2],
                        "band3": b[3],
                        "chash": to_signed(c),
                        "cband0": cb[0],
                        "cband1": cb[1],
                        "cband2": cb[2],
                        "cband3": cb[3],
                        "meta": {},
                        "keypoints": b"",
                        "descriptors": b"",
                        "created_at": now,
                    }
                )
            conn.execute(insert(table), rows)
        for ix in bands_indexes:
            ix.create(conn)
    # As autovacuum leaves a table that has been written: statistics, and on PostgreSQL the
    # visibility map, without which no index-only scan is chosen (each candidate would be a
    # read of the table: 19 ms instead of 2 ms per probing look-up, EXPLAIN ANALYZE).
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE" if engine.dialect.name == "postgresql" else "ANALYZE"))


def lookups(engine: Engine, count: int, seed: int = 2) -> tuple[list[float], list[float]]:
    """Wall and CPU (this process: driver and Python) milliseconds per look-up."""
    rng = random.Random(seed)
    times, cpu = [], []
    with Session(engine) as session:
        for _ in range(count):
            h = rng.getrandbits(64)
            probes = tuple(rng.getrandbits(64) for _ in CROP_PROBES)
            start, start_cpu = time.perf_counter(), time.process_time()
            near_hashes(session, h, max_distance=20, probes=probes)
            times.append((time.perf_counter() - start) * 1000)
            cpu.append((time.process_time() - start_cpu) * 1000)
    return times, cpu


def engine_for(kind: str, folder: Path) -> Engine | None:
    if kind == "sqlite":
        return create_engine(f"sqlite:///{folder / 'hashes.db'}")
    admin = create_engine(
        "postgresql+psycopg://postgres@127.0.0.1:5432/postgres", isolation_level="AUTOCOMMIT"
    )
    try:
        with admin.connect() as conn:
            conn.execute(text("DROP DATABASE IF EXISTS duban_bench_photochecks"))
            conn.execute(text("CREATE DATABASE duban_bench_photochecks"))
    except Exception as err:  # no server here: say so and go on
        print(f"  postgresql: skipped ({type(err).__name__})")
        return None
    return create_engine("postgresql+psycopg://postgres@127.0.0.1:5432/duban_bench_photochecks")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--photos", type=int, default=8)
    parser.add_argument("--hashes", type=int, default=1_000_000)
    parser.add_argument("--db", default="sqlite,postgresql")
    args = parser.parse_args()
    print(f"python {platform.python_version()}, {os.cpu_count()} CPUs, {platform.machine()}")
    rng = np.random.default_rng(1)
    photos = [phone_photo(SCENES[i % len(SCENES)], rng) for i in range(args.photos)]
    size = statistics.mean(map(len, photos)) / 1e6
    print(f"{len(photos)} photos 4000×3000, {size:.1f} MB on average")
    t = Thresholds()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for kind in args.db.split(","):
            engine = engine_for(kind.strip(), folder)
            if engine is None:
                continue
            start = time.perf_counter()
            fill(engine, args.hashes)
            print(
                f"\n[{kind}] {args.hashes:,} hashes stored in {time.perf_counter() - start:.0f} s"
            )
            times, cpu = lookups(engine, 1000)
            times.sort()
            print(
                f"  reuse lookup (one statement: 4 bands + {len(CROP_PROBES)} crop probes × 4): "
                f"median {statistics.median(times):.2f} ms, "
                f"p99 {times[int(len(times) * 0.99)]:.2f} ms wall; "
                f"median {statistics.median(cpu):.2f} ms CPU of this process"
            )
            print(f"  load average: {os.getloadavg()[0]:.1f}")
            take_print(photos[0])  # warm-up: imports, ORB and the DCT plans
            decode, upload, feedback, refile, refile_wall = [], [], [], [], []
            store = LocalPhotoStore(folder / "photos")
            store.put("before.jpg", photos[-1])
            with Session(engine) as session:
                before = take_print(photos[-1])
                for i, data in enumerate(photos):
                    store.put(f"after{i}.jpg", data)
                    wall = time.perf_counter()
                    ms, _ = cpu_ms(scene_from_files, store, f"after{i}.jpg", "before.jpg")
                    refile.append(ms)
                    refile_wall.append((time.perf_counter() - wall) * 1000)
                    ms, _ = cpu_ms(lambda d: Image.open(io.BytesIO(d)).load(), data)
                    decode.append(ms)
                    ms_check, _ = cpu_ms(_check_complete, data)
                    ms_print, after = cpu_ms(take_print, data)
                    upload.append(ms_check + ms_print)
                    ms, _ = cpu_ms(feedback_checks, session, after, before, t)
                    feedback.append(ms)
            total = [u + f for u, f in zip(upload, feedback, strict=True)]
            med = statistics.median
            print(f"  full JPEG decode alone (baseline): {med(decode):.0f} ms CPU")
            print(f"  upload work (integrity + print):  {med(upload):.0f} ms CPU")
            print(f"  feedback checks (5 checks):       {med(feedback):.0f} ms CPU")
            print(
                f"  all checks per photo:             {med(total):.0f} ms CPU "
                f"(max {max(total):.0f}) → {1000 / med(total):.1f} photos/s per core"
            )
            stored = [len(before.keypoints.tobytes()) + len(before.descriptors.tobytes())]
            print(
                f"  same scene from the files instead: {med(refile):.0f} ms CPU, "
                f"{med(refile_wall):.0f} ms wall per after-photo and before-photo "
                f"(stored features: {stored[0] / 1000:.1f} KB per photo)"
            )
            engine.dispose()


if __name__ == "__main__":
    main()
