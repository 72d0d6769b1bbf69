"""Benchmark: the photo checks on 12-megapixel phone JPEGs, and the reuse lookup at city scale.

    python bench/evidence.py [--photos 8] [--hashes 1000000] [--db sqlite,postgresql]
                             [--lookup-only] [--keep] [--pg-database NAME]
                             [--sqlite-file PATH] [--probes 16]

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
    of this process; on PostgreSQL also the server's execution and planning time and the
    buffers read (``EXPLAIN (ANALYZE, BUFFERS)``, median of 100), and whether the lookup
    ran as a prepared statement with a generic plan. Baseline: the seventh run's lookup
    (the same SQL with the four bands bound as parameters of their own, run through
    SQLAlchemy's ``Connection.execute``), on the same table, alternating with the lookup.
    Aim: ≤ 5 ms. PostgreSQL uses database ``--pg-database`` (``duban_bench_photochecks``)
    on 127.0.0.1, dropped and recreated; SQLite ``--sqlite-file`` (a temporary file);
    ``--keep`` reuses either if it holds --hashes prints. ``--probes`` sends more (or
    fewer) random probes than ``prints.CROP_PROBES`` has: what more probes would cost.
    ``--lookup-only`` skips (a).
"""

from __future__ import annotations

import argparse
import io
import json
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
from duban.photochecks.checks import (  # noqa: E402
    _HAMMING,
    _PROBES,
    _cameras,
    _lookup_sql,
    near_hashes,
)
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


def _baseline_sql(dialect: str) -> str:
    """The seventh run's statement: the same SQL as the lookup's, but the four 16-bit bands
    bound as parameters of their own (so bound as ``int2`` or ``int4`` by their value) and
    run through SQLAlchemy's ``Connection.execute``."""
    distance = _HAMMING[dialect]
    whole = [
        f"SELECT photo_id, {distance.format(a='phash', b=':h')} AS d, 0 AS by_centre "
        f"FROM photo_prints WHERE band{i} = :b{i}"
        for i in range(4)
    ]
    centre = [
        f"SELECT p.photo_id, {distance.format(a='p.chash', b='probe.v')} AS d, 1 AS by_centre "
        f"FROM {_PROBES[dialect]} JOIN photo_prints AS p "
        f"ON p.cband{i} = CAST((probe.v >> {shift}) & 65535 AS INTEGER)"
        for i, shift in enumerate((48, 32, 16, 0))
    ]
    union = "\nUNION ALL ".join(whole + centre)
    return (
        f"SELECT photo_id, MIN(d) AS d, by_centre FROM ({union}) AS found "
        "WHERE d <= :max GROUP BY photo_id, by_centre"
    )


def baseline_lookup(
    session: Session, phash: int, max_distance: int, probes: tuple[int, ...]
) -> int:
    """The seventh run's ``near_hashes``. Returns how many rows."""
    conn = session.connection()
    dialect = conn.dialect.name
    signed = [to_signed(p) for p in probes]
    params: dict[str, object] = {f"b{i}": value for i, value in enumerate(bands(phash))}
    params |= {
        "h": to_signed(phash),
        "max": max_distance,
        "probes": json.dumps(signed) if dialect == "sqlite" else signed,
    }
    return len(conn.execute(text(_baseline_sql(dialect)), params).all())


def lookups(
    engine: Engine, count: int, probe_count: int, seed: int = 2
) -> tuple[dict[str, list[float]], str]:
    """Wall and CPU (this process: driver and Python) milliseconds per look-up, of the
    lookup and of the baseline, alternating (the same load for both), each with hashes
    of its own (the same hashes twice would find the second's index pages cached). On
    PostgreSQL also how the lookup's prepared statement was planned."""
    rng = random.Random(seed)
    out: dict[str, list[float]] = {k: [] for k in ("wall", "cpu", "base wall", "base cpu", "n")}
    plans = ""

    def draw() -> tuple[int, tuple[int, ...]]:
        return rng.getrandbits(64), tuple(rng.getrandbits(64) for _ in range(probe_count))

    with Session(engine) as session:
        for _ in range(count):
            h, probes = draw()
            start, start_cpu = time.perf_counter(), time.process_time()
            found = near_hashes(session, h, max_distance=20, probes=probes)
            out["wall"].append((time.perf_counter() - start) * 1000)
            out["cpu"].append((time.process_time() - start_cpu) * 1000)
            h, probes = draw()
            start, start_cpu = time.perf_counter(), time.process_time()
            baseline_lookup(session, h, 20, probes)
            out["base wall"].append((time.perf_counter() - start) * 1000)
            out["base cpu"].append((time.process_time() - start_cpu) * 1000)
            out["n"].append(len(found))
        if engine.dialect.name == "postgresql":
            plans = prepared_plans(session)
    return out, plans


def server_ms(engine: Engine, count: int, probes: int, seed: int = 3) -> dict[str, list[float]]:
    """PostgreSQL's execution and planning times of the lookup's statement
    (``EXPLAIN (ANALYZE, BUFFERS)``), the shared buffers it read from outside PostgreSQL's
    cache (the operating system's, or the disk), and the execution time of the same
    look-up run again at once (every page it needs in shared_buffers)."""
    rng = random.Random(seed)
    sql = "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + str(_lookup_sql("postgresql"))
    out: dict[str, list[float]] = {"exec": [], "plan": [], "read": [], "hit": [], "again": []}
    with engine.connect() as conn:
        for _ in range(count):
            drawn = [to_signed(rng.getrandbits(64)) for _ in range(probes)]
            params = {"h": to_signed(rng.getrandbits(64)), "max": 20, "probes": drawn}
            plan = conn.execute(text(sql), params).scalar_one()[0]
            out["exec"].append(float(plan["Execution Time"]))
            out["plan"].append(float(plan["Planning Time"]))
            out["read"].append(float(plan["Plan"]["Shared Read Blocks"]))
            out["hit"].append(float(plan["Plan"]["Shared Hit Blocks"]))
            again = conn.execute(text(sql), params).scalar_one()[0]
            out["again"].append(float(again["Execution Time"]))
    return out


def prepared_plans(session: Session) -> str:
    """How PostgreSQL ran the lookup on the bench's connection: its prepared statement's
    generic and custom plans (a generic plan is not planned again)."""
    rows = session.connection().execute(
        text(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements "
            "WHERE statement LIKE '%WHERE band0 = CAST%'"
        )
    )
    return "; ".join(f"{g} generic, {c} custom plans" for g, c in rows) or "not prepared"


def prints_stored(engine: Engine) -> int:
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM photo_prints")).scalar_one())
    except Exception:  # no table yet
        return 0


def engine_for(
    kind: str, sqlite_file: Path, keep: int = 0, pg_name: str = "duban_bench_photochecks"
) -> Engine | None:
    if kind == "sqlite":
        if not keep or prints_stored(create_engine(f"sqlite:///{sqlite_file}")) != keep:
            sqlite_file.unlink(missing_ok=True)
        return create_engine(f"sqlite:///{sqlite_file}")
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{pg_name}"
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
            conn.execute(text(f'DROP DATABASE IF EXISTS "{pg_name}"'))
            conn.execute(text(f'CREATE DATABASE "{pg_name}"'))
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
    parser.add_argument("--keep", action="store_true", help="reuse a filled bench DB")
    parser.add_argument(
        "--pg-database", default="duban_bench_photochecks", help="PostgreSQL database name"
    )
    parser.add_argument(
        "--probes",
        type=int,
        default=len(CROP_PROBES),
        help="crop probes per look-up (what more probes would cost)",
    )
    parser.add_argument(
        "--sqlite-file", help="SQLite bench file (kept; default: a temporary folder's)"
    )
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
            engine = engine_for(
                kind.strip(),
                Path(args.sqlite_file) if args.sqlite_file else folder / "hashes.db",
                args.hashes if args.keep else 0,
                args.pg_database,
            )
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
            got, plans = lookups(engine, 1000, args.probes)
            med = statistics.median

            def p99(values: list[float]) -> float:
                return sorted(values)[int(len(values) * 0.99)]

            print(
                f"  reuse lookup (one statement: 4 bands + {args.probes} crop probes "
                f"as one array, distances in SQL): median {med(got['wall']):.2f} ms, "
                f"p99 {p99(got['wall']):.2f} ms wall; median {med(got['cpu']):.2f} ms CPU "
                f"of this process; {med(got['n']):.0f} rows returned (median)"
            )
            print(
                f"  baseline (seventh run's lookup: bands bound apart, through SQLAlchemy): "
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
                print(f"  the lookup's prepared statement on the bench's connection: {plans}")
                server = server_ms(engine, 100, args.probes)
                print(
                    f"  server (EXPLAIN (ANALYZE, BUFFERS), 100 look-ups): execution median "
                    f"{med(server['exec']):.2f} ms, p90 {sorted(server['exec'])[89]:.2f} ms; "
                    f"planning median {med(server['plan']):.2f} ms (not paid once prepared); "
                    f"buffers median {med(server['hit']):.0f} hit, {med(server['read']):.0f} "
                    f"read from outside shared_buffers; the same look-up again (all in "
                    f"shared_buffers): execution median {med(server['again']):.2f} ms"
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
