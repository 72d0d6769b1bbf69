"""Benchmark: the photo checks on 12-megapixel phone JPEGs, and the reuse lookup at city scale.

    python bench/evidence.py [--photos 8] [--hashes 1000000] [--db sqlite,postgresql]
                             [--lookup-only] [--keep]

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
    the 16 crop probes (one array parameter), the Hamming distances measured in SQL and
    only the rows within reach returned. Median and p99 of 1,000 look-ups, wall and CPU
    of this process; on PostgreSQL also the server's execution time (``EXPLAIN ANALYZE``,
    median of 100). Baseline: the fifth run's statement (68 bind parameters, every band
    row read back and measured in Python), on the same table, alternating with the lookup.
    Aim: ≤ 5 ms. PostgreSQL uses database ``duban_bench_photochecks`` on 127.0.0.1
    (dropped and recreated; ``--keep`` reuses it if it holds --hashes prints).
    ``--lookup-only`` skips (a).
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
from duban.photochecks.checks import _cameras, _lookup_sql, near_hashes  # noqa: E402
from duban.photochecks.models import PhotoPrint  # noqa: E402
from duban.photochecks.prints import (  # noqa: E402
    CROP_PROBES,
    Print,
    bands,
    hamming,
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


def _baseline_sql() -> str:
    """The fifth run's statement: each band by equality, 68 bind parameters, every band row
    back to Python (``part`` 0–3 the hash's bands, 4–7 the centre's)."""
    parts = [
        f"SELECT photo_id, phash, {i} FROM photo_prints WHERE band{i} = :b{i}" for i in range(4)
    ]
    parts += [
        f"SELECT photo_id, chash, {4 + i} FROM photo_prints WHERE cband{i} IN ("
        + ", ".join(f":c{i}_{j}" for j in range(len(CROP_PROBES)))
        + ")"
        for i in range(4)
    ]
    return " UNION ALL ".join(parts)


BASELINE = text(_baseline_sql())


def baseline_lookup(
    session: Session, phash: int, max_distance: int, probes: tuple[int, ...]
) -> int:
    """The fifth run's ``near_hashes``: band rows measured in Python. Returns how many."""
    params = {f"b{i}": v for i, v in enumerate(bands(phash))}
    pb = [bands(p) for p in probes]
    params |= {f"c{i}_{j}": pb[j][i] for i in range(4) for j in range(len(CROP_PROBES))}
    by_band: list[dict[int, list[int]]] = [{} for _ in range(4)]
    for probe, b in zip(probes, pb, strict=True):
        for i in range(4):
            by_band[i].setdefault(b[i], []).append(probe)
    found: dict[tuple[str, bool], int] = {}
    for pid, other, part in session.connection().execute(BASELINE, params):
        if part >= 4:
            sharing = by_band[part - 4].get(bands(other & (2**64 - 1))[part - 4], [])
            distance = min((hamming(p, other) for p in sharing), default=64)
        else:
            distance = hamming(phash, other)
        if distance <= max_distance:
            key = (pid, part >= 4)
            found[key] = min(distance, found.get(key, 64))
    return len(found)


def lookups(engine: Engine, count: int, seed: int = 2) -> dict[str, list[float]]:
    """Wall and CPU (this process: driver and Python) milliseconds per look-up, of the
    lookup and of the baseline, alternating (the same load for both)."""
    rng = random.Random(seed)
    out: dict[str, list[float]] = {k: [] for k in ("wall", "cpu", "base wall", "base cpu", "n")}
    with Session(engine) as session:
        for _ in range(count):
            h = rng.getrandbits(64)
            probes = tuple(rng.getrandbits(64) for _ in CROP_PROBES)
            start, start_cpu = time.perf_counter(), time.process_time()
            found = near_hashes(session, h, max_distance=20, probes=probes)
            out["wall"].append((time.perf_counter() - start) * 1000)
            out["cpu"].append((time.process_time() - start_cpu) * 1000)
            start, start_cpu = time.perf_counter(), time.process_time()
            baseline_lookup(session, h, 20, probes)
            out["base wall"].append((time.perf_counter() - start) * 1000)
            out["base cpu"].append((time.process_time() - start_cpu) * 1000)
            out["n"].append(len(found))
    return out


def server_ms(engine: Engine, count: int, seed: int = 3) -> list[float]:
    """PostgreSQL's execution time of the lookup's statement (``EXPLAIN ANALYZE``)."""
    rng = random.Random(seed)
    sql = "EXPLAIN (ANALYZE, FORMAT JSON) " + str(_lookup_sql("postgresql"))
    times = []
    with engine.connect() as conn:
        for _ in range(count):
            h = rng.getrandbits(64)
            params: dict[str, object] = {f"b{i}": v for i, v in enumerate(bands(h))}
            probes = [to_signed(rng.getrandbits(64)) for _ in CROP_PROBES]
            params |= {"h": to_signed(h), "max": 20, "probes": probes}
            plan = conn.execute(text(sql), params).scalar_one()
            times.append(float(plan[0]["Execution Time"]))
    return times


def prints_stored(engine: Engine) -> int:
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM photo_prints")).scalar_one())
    except Exception:  # no table yet
        return 0


def engine_for(kind: str, folder: Path, keep: int = 0) -> Engine | None:
    if kind == "sqlite":
        return create_engine(f"sqlite:///{folder / 'hashes.db'}")
    url = "postgresql+psycopg://postgres@127.0.0.1:5432/duban_bench_photochecks"
    if keep:
        try:
            kept = create_engine(url)
            if prints_stored(kept) == keep:
                return kept
        except Exception:  # no such database: made below
            pass
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
    return create_engine(url)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--photos", type=int, default=8)
    parser.add_argument("--hashes", type=int, default=1_000_000)
    parser.add_argument("--db", default="sqlite,postgresql")
    parser.add_argument("--lookup-only", action="store_true", help="only (b)")
    parser.add_argument("--keep", action="store_true", help="reuse a filled PostgreSQL bench DB")
    args = parser.parse_args()
    print(f"python {platform.python_version()}, {os.cpu_count()} CPUs, {platform.machine()}")
    rng = np.random.default_rng(1)
    photos = [phone_photo(SCENES[i % len(SCENES)], rng) for i in range(args.photos)]
    if not args.lookup_only:
        size = statistics.mean(map(len, photos)) / 1e6
        print(f"{len(photos)} photos 4000×3000, {size:.1f} MB on average")
    t = Thresholds()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for kind in args.db.split(","):
            engine = engine_for(kind.strip(), folder, args.hashes if args.keep else 0)
            if engine is None:
                continue
            start = time.perf_counter()
            if prints_stored(engine) != args.hashes:
                fill(engine, args.hashes)
                print(
                    f"\n[{kind}] {args.hashes:,} hashes stored in "
                    f"{time.perf_counter() - start:.0f} s"
                )
            else:
                print(f"\n[{kind}] {args.hashes:,} hashes kept from an earlier run")
            print(f"  load average before the look-ups: {os.getloadavg()[0]:.1f}")
            t_cpu = time.process_time()
            got = lookups(engine, 1000)
            med = statistics.median

            def p99(values: list[float]) -> float:
                return sorted(values)[int(len(values) * 0.99)]

            print(
                f"  reuse lookup (one statement: 4 bands + {len(CROP_PROBES)} crop probes "
                f"as one array, distances in SQL): median {med(got['wall']):.2f} ms, "
                f"p99 {p99(got['wall']):.2f} ms wall; median {med(got['cpu']):.2f} ms CPU "
                f"of this process; {med(got['n']):.0f} rows returned (median)"
            )
            print(
                f"  baseline (fifth run's statement, band rows to Python): "
                f"median {med(got['base wall']):.2f} ms, p99 {p99(got['base wall']):.2f} ms "
                f"wall; median {med(got['base cpu']):.2f} ms CPU → lookup / baseline "
                f"{med(got['wall']) / med(got['base wall']):.2f} wall, "
                f"{med(got['cpu']) / med(got['base cpu']):.2f} CPU"
            )
            print(
                f"  bench process CPU for the 2,000 look-ups: {time.process_time() - t_cpu:.1f} s; "
                f"load average after: {os.getloadavg()[0]:.1f}"
            )
            if engine.dialect.name == "postgresql":
                server = sorted(server_ms(engine, 100))
                print(
                    f"  server execution (EXPLAIN ANALYZE, 100 look-ups): median "
                    f"{med(server):.2f} ms, p90 {server[89]:.2f} ms"
                )
            if args.lookup_only:
                engine.dispose()
                continue
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
