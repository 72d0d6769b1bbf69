"""The reuse lookup (``near_hashes``) against a brute-force scan of the same rules, on the
store the suite runs on (SQLite, or PostgreSQL with ``DUBAN_TEST_DATABASE_URL``): the
distances measured in SQL must find exactly what measuring every row in Python finds."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest
from sqlalchemy import insert, text
from sqlalchemy.orm import Session

from duban.evidence.models import Photo
from duban.photochecks.checks import near_hashes
from duban.photochecks.models import PhotoPrint
from duban.photochecks.prints import CROP_PROBES, bands, hamming, to_signed

MAX = 20  # the policy's copy_max_distance: the reach the check looks up
NOW = datetime(2026, 12, 3, tzinfo=UTC)


def flip(value: int, count: int, rng: random.Random) -> int:
    """``value`` with ``count`` distinct bits flipped (Hamming distance exactly ``count``)."""
    for bit in rng.sample(range(64), count):
        value ^= 1 << bit
    return value


def flip_keeping_band(value: int, count: int, band: int, rng: random.Random) -> int:
    """Exactly ``count`` bits flipped, none in ``band`` (0 the high 16 bits): a row the band
    index finds, at any distance up to 48."""
    keep = range(48 - 16 * band, 64 - 16 * band)
    for bit in rng.sample([b for b in range(64) if b not in keep], count):
        value ^= 1 << bit
    return value


def shares_band(a: int, b: int) -> bool:
    return any(x == y for x, y in zip(bands(a), bands(b), strict=True))


def brute_force(
    rows: list[tuple[str, int, int | None]], phash: int, probes: tuple[int, ...]
) -> list[tuple[str, int, bool]]:
    """What the lookup is meant to find, by measuring every row: a hash sharing a band with
    ``phash`` within ``MAX``; else a centre hash within ``MAX`` of the nearest probe that
    shares a band with it."""
    whole = {
        pid: hamming(h, phash)
        for pid, h, _ in rows
        if shares_band(h, phash) and hamming(h, phash) <= MAX
    }
    cropped = {}
    for pid, _, c in rows:
        if c is None or pid in whole:
            continue
        near = [hamming(p, c) for p in probes if shares_band(p, c)]
        if near and min(near) <= MAX:
            cropped[pid] = min(near)
    found = [(pid, d, False) for pid, d in whole.items()]
    found += [(pid, d, True) for pid, d in cropped.items()]
    return sorted(found, key=lambda row: (row[1], row[0]))


def store(session: Session, rows: list[tuple[str, int, int | None]]) -> None:
    session.execute(
        insert(Photo),
        [
            {
                "id": pid,
                "sha256": pid.ljust(64, "0"),
                "content_type": "image/jpeg",
                "size_bytes": 1,
                "width": 1,
                "height": 1,
                "storage_key": pid,
                "created_at": NOW,
            }
            for pid, _, _ in rows
        ],
    )
    prints = []
    for pid, h, c in rows:
        b, cb = bands(h), bands(c) if c is not None else (None,) * 4
        prints.append(
            {
                "photo_id": pid,
                "phash": to_signed(h),
                **{f"band{i}": b[i] for i in range(4)},
                "chash": to_signed(c) if c is not None else None,
                **{f"cband{i}": cb[i] for i in range(4)},
                "meta": {},
                "keypoints": b"",
                "descriptors": b"",
                "created_at": NOW,
            }
        )
    session.execute(insert(PhotoPrint), prints)
    session.flush()


def test_the_lookup_finds_what_a_brute_force_scan_finds(session: Session) -> None:
    rng = random.Random(16)
    queries = [
        (rng.getrandbits(64), tuple(rng.getrandbits(64) for _ in CROP_PROBES)) for _ in range(12)
    ]
    queries.append((0xFFFF_FFFF_FFFF_FFFF, tuple(1 << 63 | p for p in queries[0][1])))  # sign bit
    rows: list[tuple[str, int, int | None]] = []

    def add(h: int, c: int | None) -> None:
        rows.append((f"{len(rows):036d}", h, c))

    for phash, probes in queries:
        # whole hashes at every distance around the reach, sharing one band or none
        for distance in (0, 1, 3, 4, 10, 19, 20, 21, 22, 30):
            add(flip_keeping_band(phash, distance, rng.randrange(4), rng), rng.getrandbits(64))
            add(flip(phash, distance, rng), None)
        # centre hashes near one probe (the band kept) or near several; some also whole
        for distance in (0, 2, 12, 19, 20, 21, 25):
            probe = rng.choice(probes)
            add(rng.getrandbits(64), flip_keeping_band(probe, distance, rng.randrange(4), rng))
            add(flip_keeping_band(phash, 15, 0, rng), flip_keeping_band(probe, distance, 3, rng))
    for _ in range(3000):  # the city's other photos
        add(rng.getrandbits(64), rng.getrandbits(64) if rng.random() < 0.9 else None)
    store(session, rows)

    seen_whole, seen_cropped, seen_edge = 0, 0, 0
    for phash, probes in queries:
        expected = brute_force(rows, phash, probes)
        assert near_hashes(session, phash, max_distance=MAX, probes=probes) == expected
        seen_whole += sum(not by_centre for _, _, by_centre in expected)
        seen_cropped += sum(by_centre for _, _, by_centre in expected)
        seen_edge += sum(d == MAX for _, d, _ in expected)
        # every hash within 3 is found, whatever its bands (pigeonhole)
        within3 = {pid for pid, h, _ in rows if hamming(h, phash) <= 3}
        assert within3 <= {pid for pid, d, c in expected if not c}
    # the test tests something: rows of both kinds, and at the edge of the reach
    assert seen_whole > 50
    assert seen_cropped > 50
    assert seen_edge > 10
    # a smaller reach, no probes (a strip or one colour), and photos left out
    phash, probes = queries[1]
    expected = [row for row in brute_force(rows, phash, ()) if row[1] <= 4]
    assert near_hashes(session, phash, max_distance=4) == expected
    left_out = [expected[0][0]]
    assert near_hashes(session, phash, max_distance=4, exclude=left_out) == expected[1:]


def test_postgresql_keeps_one_prepared_statement_for_the_lookup(session: Session) -> None:
    """Every look-up binds the same parameter types, so psycopg prepares the statement once
    and PostgreSQL reuses its plan (the bands bound as parameters of their own were bound
    as ``int2`` or ``int4`` by their value: sixteen statements, planned anew each time)."""
    conn = session.connection()
    if conn.dialect.name != "postgresql":
        pytest.skip("a PostgreSQL prepared statement")
    rng = random.Random(3)
    for _ in range(20):  # psycopg prepares at the fifth use; PostgreSQL plans 5 custom first
        probes = tuple(rng.getrandbits(64) for _ in CROP_PROBES)
        near_hashes(session, rng.getrandbits(64), max_distance=MAX, probes=probes)
    rows = conn.execute(
        text(
            "SELECT parameter_types, generic_plans FROM pg_prepared_statements "
            "WHERE statement LIKE '%AS by_centre%'"
        )
    ).all()
    assert len(rows) == 1
    types, generic = rows[0]
    assert list(types) == ["bigint", "bigint[]", "smallint"]
    assert generic >= 5
