"""Use cases and reads of the photo checks.

- :func:`record_print` runs at upload, inside the upload's unit of work: the bytes are in
  memory there, so the photo is decoded (at reduced scale) once and never again.
- :func:`examine_feedback` runs inside the feedback action's unit of work: it reads only
  prints and rows (no photo is decoded), writes the findings and returns the verdict, so
  the feedback event carries it and a policy that blocks can refuse the feedback before
  anything is written. Measured in ``bench/evidence.py``.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from sqlalchemy import Connection, TextClause, delete, select, text
from sqlalchemy.orm import Session

from duban.cases import Case, CasePhoto, get_case, photo_for_viewer
from duban.evidence import Photo
from duban.kernel.context import Actor
from duban.kernel.db.prepared import Prepared
from duban.kernel.ports import PhotoStore
from duban.kernel.unitofwork import writing
from duban.photochecks.messages import sentence
from duban.photochecks.models import PhotoFinding, PhotoPrint
from duban.photochecks.prints import (
    MIN_FEATURES,
    Meta,
    Print,
    bands,
    match_copy,
    match_scene,
    pack_hashes,
    to_signed,
    unpack_descriptors,
    unpack_hashes,
    unpack_points,
)
from duban.photochecks.rules import (
    Check,
    Finding,
    Neighbour,
    Result,
    Thresholds,
    Verdict,
    cameras_from,
    check_original,
    check_place,
    check_reused,
    check_same_scene,
    check_time,
    suggested_rework,
    thresholds_from,
    verdict,
)


@functools.cache
def _policy_data() -> dict[str, Any]:
    text = resources.files("duban.data").joinpath("photochecks.yaml").read_text(encoding="utf-8")
    data: dict[str, Any] = yaml.safe_load(text) or {}
    return data


@functools.cache
def _cameras() -> dict[str, list[tuple[int, int]]]:
    return cameras_from(_policy_data())


def thresholds_for(category: str) -> Thresholds:
    """The photo-check policy of a category (``data/photochecks.yaml``)."""
    return thresholds_from(_policy_data(), category)


def print_row(photo_id: str, taken: Print, now: datetime) -> PhotoPrint:
    row = PhotoPrint(photo_id=photo_id, created_at=now)
    _fill_row(row, taken)
    return row


def _fill_row(row: PhotoPrint, taken: Print) -> None:
    b = bands(taken.phash)
    row.phash = to_signed(taken.phash)
    row.band0, row.band1, row.band2, row.band3 = b
    c: tuple[int | None, ...] = (
        bands(taken.chash) if taken.chash is not None else (None, None, None, None)
    )
    row.chash = to_signed(taken.chash) if taken.chash is not None else None
    row.cband0, row.cband1, row.cband2, row.cband3 = c
    row.probes = pack_hashes(taken.probes) if taken.probes else None
    row.meta = taken.meta.as_json()
    row.keypoints = taken.keypoints.tobytes()
    row.descriptors = taken.descriptors.tobytes()


def backfill_prints(session: Session, store: PhotoStore, *, now: datetime, limit: int) -> int:
    """Print up to ``limit`` photos stored before the checks existed, or printed before
    the crop hashes (``probes`` NULL: read from the store, decoded once); a photo whose
    file is missing or unreadable is left out. Returns how many were printed. Each batch
    commits on its own, so the work resumes where it stopped."""
    from duban.photochecks.prints import take_print

    done = 0
    while done < limit:
        batch = session.execute(
            select(Photo, PhotoPrint)
            .outerjoin(PhotoPrint, PhotoPrint.photo_id == Photo.id)
            .where(PhotoPrint.probes.is_(None), Photo.id.not_in(_skipped(session)))
            .order_by(Photo.created_at, Photo.id)
            .limit(min(100, limit - done))
        ).all()
        if not batch:
            break
        with writing(session):
            for photo, row in batch:
                try:
                    taken = take_print(store.get(photo.storage_key))
                except (OSError, ValueError, SyntaxError):
                    _skipped(session).add(photo.id)
                    continue
                if row is None:
                    session.add(print_row(photo.id, taken, now))
                else:
                    _fill_row(row, taken)
                if not taken.probes:  # one colour or a strip: nothing to probe with
                    _skipped(session).add(photo.id)
                done += 1
    return done


def _skipped(session: Session) -> set[str]:
    skipped: set[str] = session.info.setdefault("photochecks_unprintable", set())
    return skipped


def record_print(session: Session, photo_id: str, taken: Print, now: datetime) -> None:
    """Keep a photo's print (call inside the upload's unit of work)."""
    if session.get(PhotoPrint, photo_id) is None:
        session.add(print_row(photo_id, taken, now))


#: The Hamming distance of two signed 64-bit hashes, in SQL: PostgreSQL's ``bit_count``
#: (14+) on the XOR as ``bit(64)``; on SQLite a deterministic function of this connection.
_HAMMING = {
    "postgresql": "bit_count(CAST(({a}) # ({b}) AS BIT(64)))",
    "sqlite": "duban_hamming({a}, {b})",
}
#: The probes, sent as one parameter (an array; JSON text on SQLite), as a table ``probe(v)``.
_PROBES = {
    "postgresql": "unnest(CAST(:probes AS BIGINT[])) AS probe(v)",
    "sqlite": "(SELECT value AS v FROM json_each(:probes)) AS probe",
}
_MASK64 = (1 << 64) - 1


def _hamming_sqlite(a: int | None, b: int | None) -> int | None:
    return None if a is None or b is None else ((a ^ b) & _MASK64).bit_count()


@functools.cache
def _lookup_sql(dialect: str) -> TextClause:
    """One statement for every band: the four bands of the whole-picture hash, and the
    four bands of the centre hash, each joined to that band of every probe (one array
    parameter). The distances are measured in SQL and only the rows within ``:max`` come
    back, nearest per photo: a handful, where the band rows are ≈ 1,000 at a million
    prints (BENCHMARKS.md, "Sixth run"). ``by_centre`` says which hash found the row; a
    row found by the centre is measured against the probes sharing that band only.

    Three parameters whose types never change (the hash, the reach, the probes): the
    bands are cut from the hash in SQL, so the driver binds the same types every time
    and PostgreSQL keeps one prepared statement and its plan (BENCHMARKS.md, "Eighth run":
    the 16-bit bands bound as ``int2`` or ``int4`` by their value made 16 statements, each
    parsed and planned anew until it had been used five times)."""
    distance = _HAMMING[dialect]
    shifts = (48, 32, 16, 0)
    whole = [
        f"SELECT photo_id, {distance.format(a='phash', b='CAST(:h AS BIGINT)')} AS d, "
        f"0 AS by_centre FROM photo_prints "
        f"WHERE band{i} = CAST((CAST(:h AS BIGINT) >> {shift}) & 65535 AS INTEGER)"
        for i, shift in enumerate(shifts)
    ]
    centre = [
        f"SELECT p.photo_id, {distance.format(a='p.chash', b='probe.v')} AS d, 1 AS by_centre "
        f"FROM {_PROBES[dialect]} JOIN photo_prints AS p "
        f"ON p.cband{i} = CAST((probe.v >> {shift}) & 65535 AS INTEGER)"
        for i, shift in enumerate(shifts)
    ]
    union = "\nUNION ALL ".join(whole + centre)
    return text(
        f"SELECT photo_id, MIN(d) AS d, by_centre FROM ({union}) AS found "
        "WHERE d <= CAST(:max AS INTEGER) GROUP BY photo_id, by_centre"
    )


@functools.cache
def _lookup(dialect: str) -> Prepared:
    """:func:`_lookup_sql` compiled once, run on the DB-API cursor (no SQLAlchemy
    execution context per look-up: 0.2–0.5 ms of the client's CPU, "Eighth run")."""
    return Prepared(_lookup_sql(dialect))


def _with_hamming(conn: Connection) -> None:
    """SQLite has no popcount: register ``duban_hamming`` once per DBAPI connection."""
    raw = conn.connection
    if raw.info.get("duban_hamming") is not raw.driver_connection:
        raw.driver_connection.create_function(  # type: ignore[union-attr]
            "duban_hamming", 2, _hamming_sqlite, deterministic=True
        )
        raw.info["duban_hamming"] = raw.driver_connection


def near_hashes(
    session: Session,
    phash: int,
    *,
    max_distance: int,
    probes: Sequence[int] = (),
    exclude: Sequence[str] = (),
) -> list[tuple[str, int, bool]]:
    """Photos whose hash is within ``max_distance`` of ``phash`` (photo id, distance,
    False), or else whose centre hash is within it of one of ``probes`` (a crop of that
    photo, perhaps; see ``prints.CROP_PROBES``: photo id, the nearest probe's distance,
    True); nearest first. Candidates by equality on an indexed band, measured in the same
    statement (:func:`_lookup_sql`), never a scan: every hash within distance 3 shares a
    band (pigeonhole), most copies much farther do too, and a crop's probes share a band
    with the original's centre hash. (Each band with its 16 one-bit neighbours as well
    found fewer crops than the probes, at 68 values against 4; since the probes, it is
    gone: BENCHMARKS.md, "Photo checks".)"""
    conn = session.connection()
    dialect = conn.dialect.name
    if dialect == "sqlite":
        _with_hamming(conn)
    signed = [to_signed(p) for p in probes]
    params = {
        "h": to_signed(phash),
        "max": max_distance,
        "probes": json.dumps(signed) if dialect == "sqlite" else signed,
    }
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        _lookup(dialect).execute(cursor, conn.dialect, params)
        rows = cursor.fetchall()
    finally:
        cursor.close()
    whole: dict[str, int] = {}
    cropped: dict[str, int] = {}
    for photo_id, distance, by_centre in rows:
        if photo_id not in exclude:
            (cropped if by_centre else whole)[photo_id] = distance
    found = [(pid, d, False) for pid, d in whole.items()] + [
        (pid, d, True) for pid, d in cropped.items() if pid not in whole
    ]
    return sorted(found, key=lambda row: (row[1], row[0]))


#: At most this many candidates farther than ``reuse_max_distance`` are compared by
#: features (each ≈ 1 ms), nearest first.
MAX_COPY_CANDIDATES = 8


def _neighbours(
    session: Session, case: Case, pr: PhotoPrint, t: Thresholds, batch: Sequence[str]
) -> list[Neighbour]:
    """Photos near this one and where they are used. The photos of this very feedback are
    not neighbours of each other (two shots of one fix look alike) unless a case already
    uses them: the same upload attached as the before-photo, or to another case, counts.
    Candidates too far by hash for a copy, but near enough for a crop of one, are compared
    by their features (``match_copy``), except the case's own before-photos (the after-photo
    is meant to show their scene)."""
    reach = max(t.reuse_max_distance, t.copy_max_distance)
    near = near_hashes(session, pr.phash, max_distance=reach, probes=unpack_hashes(pr.probes))
    if not near:
        return []
    ids = [pid for pid, _, _ in near]
    uses: dict[str, tuple[str, bool]] = {}
    rows = session.execute(
        select(CasePhoto.photo_id, Case.code, Case.id, CasePhoto.stage)
        .join(Case, Case.id == CasePhoto.case_id)
        .where(CasePhoto.photo_id.in_(ids))
    )
    for pid, code, case_id, stage in rows:
        same_before = case_id == case.id and stage == "before"
        if pid not in uses or same_before:
            uses[pid] = (code, same_before)
    out: list[Neighbour] = []
    farther: list[tuple[int, str]] = []
    for pid, dist, by_centre in near:
        if pid in batch and pid not in uses:
            continue
        use = uses.get(pid)
        same_before = bool(use and use[1])
        if dist <= t.reuse_max_distance and not by_centre:
            out.append(Neighbour(pid, dist, use[0] if use else None, same_before))
        elif not same_before:
            farther.append((dist, pid))
    farther = sorted(farther)[:MAX_COPY_CANDIDATES]
    if farther:
        points, desc = unpack_points(pr.keypoints), unpack_descriptors(pr.descriptors)
        others = session.scalars(
            select(PhotoPrint).where(PhotoPrint.photo_id.in_([pid for _, pid in farther]))
        )
        dist_of = {pid: dist for dist, pid in farther}
        for other in others:
            m = match_copy(
                points, desc, unpack_points(other.keypoints), unpack_descriptors(other.descriptors)
            )
            if m.is_copy(
                min_inliers=t.copy_min_inliers,
                min_share=t.copy_min_share,
                max_rotation=t.copy_max_rotation,
            ):
                use = uses.get(other.photo_id)
                out.append(
                    Neighbour(
                        other.photo_id,
                        dist_of[other.photo_id],
                        use[0] if use else None,
                        False,
                        m.inliers,
                    )
                )
    return out


def _exact_copies(session: Session, case: Case, photo: Photo) -> list[Neighbour]:
    """The same bytes (its own upload, or another upload of the same file) already used
    on a case: found by SHA-256 even where the hash says nothing (a picture of one colour)."""
    rows = session.execute(
        select(CasePhoto.photo_id, Case.code, Case.id, CasePhoto.stage)
        .join(Case, Case.id == CasePhoto.case_id)
        .join(Photo, Photo.id == CasePhoto.photo_id)
        .where(Photo.sha256 == photo.sha256)
    )
    return [
        Neighbour(pid, 0, code, case_id == case.id and stage == "before")
        for pid, code, case_id, stage in rows
        if case_id != case.id or stage == "before"  # earlier feedback: the hash judges
    ]


@dataclass(frozen=True)
class Examined:
    verdict: Verdict
    findings: dict[str, list[Finding]]  # by photo id
    blocked: bool = False  # a fail, and the category's policy refuses failing feedback

    def failing(self, lang: str = "en") -> list[tuple[str, Finding, str]]:
        """The failing findings: photo id, finding and its sentence in ``lang``."""
        return [
            (pid, f, sentence(f.reason, f.values, lang))
            for pid, fs in self.findings.items()
            for f in fs
            if f.result == Result.FAIL
        ]


def examine_feedback(
    session: Session, case: Case, photos: Sequence[Photo], *, now: datetime, tz: ZoneInfo
) -> Examined:
    """Run the category's checks on a feedback's after-photos and write the findings (call
    inside the feedback's unit of work). Photos without a print (uploaded before the
    checks existed) get ``skipped`` findings."""
    t = thresholds_for(case.category_code)
    ids = [p.id for p in photos]
    prints = {
        p.photo_id: p
        for p in session.scalars(select(PhotoPrint).where(PhotoPrint.photo_id.in_(ids)))
    }
    before_ids = [cp.photo_id for cp in case.photos if cp.stage == "before"]
    befores = (
        list(session.scalars(select(PhotoPrint).where(PhotoPrint.photo_id.in_(before_ids))))
        if before_ids
        else []
    )
    out: dict[str, list[Finding]] = {}
    for photo in photos:
        pr = prints.get(photo.id)
        findings: list[Finding] = []
        for check in Check:
            if check not in t.checks:
                findings.append(Finding(check, Result.SKIPPED, "not_run"))
            elif pr is None:
                findings.append(Finding(check, Result.SKIPPED, "not_checked"))
            else:
                findings.append(_run(session, check, case, photo, pr, befores, t, ids, now, tz))
        out[photo.id] = findings
    session.execute(
        delete(PhotoFinding).where(PhotoFinding.case_id == case.id, PhotoFinding.photo_id.in_(ids))
    )
    for pid, findings in out.items():
        for f in findings:
            session.add(
                PhotoFinding(
                    case_id=case.id,
                    photo_id=pid,
                    check=f.check.value,
                    result=f.result.value,
                    reason=f.reason,
                    values=dict(f.values),
                    created_at=now,
                )
            )
    found = verdict(f.result for fs in out.values() for f in fs)
    return Examined(found, out, blocked=t.fail_blocks and found == Verdict.FAIL)


def _run(
    session: Session,
    check: Check,
    case: Case,
    photo: Photo,
    pr: PhotoPrint,
    befores: Sequence[PhotoPrint],
    t: Thresholds,
    batch: Sequence[str],
    now: datetime,
    tz: ZoneInfo,
) -> Finding:
    meta = Meta.from_json(pr.meta)
    if check == Check.ORIGINAL:
        return check_original(meta, t, tz=tz, now=now, cameras=_cameras())
    if check == Check.TIME:
        return check_time(meta, t, tz=tz, dispatched_at=case.dispatched_at, feedback_at=now)
    if check == Check.PLACE:
        gps = (photo.gps_lat, photo.gps_lon) if photo.gps_lat is not None else None
        return check_place(gps, t, case_lat=case.lat, case_lon=case.lon)  # type: ignore[arg-type]
    if check == Check.REUSED:
        copies = _exact_copies(session, case, photo)
        if meta.flat and not copies:
            return check_reused((), t, flat=True)
        near = [] if meta.flat else _neighbours(session, case, pr, t, batch)
        return check_reused([*copies, *near], t)
    best: tuple[int, str] | None = None
    points, desc = unpack_points(pr.keypoints), unpack_descriptors(pr.descriptors)
    usable = [b for b in befores if len(b.descriptors) >= MIN_FEATURES * 32]
    if befores and (len(desc) < MIN_FEATURES or not usable):
        return Finding(Check.SAME_SCENE, Result.SKIPPED, "flat")
    for before in usable:
        m = match_scene(
            points, desc, unpack_points(before.keypoints), unpack_descriptors(before.descriptors)
        )
        if best is None or m.inliers > best[0]:
            best = (m.inliers, before.photo_id)
    return check_same_scene(best[0] if best else None, t, before=best[1] if best else None)


# --------------------------------------------------------------------------- reads


@dataclass(frozen=True)
class FindingView:
    check: str
    result: str
    detail: str


def _views(rows: Sequence[PhotoFinding], lang: str) -> list[FindingView]:
    order = {c.value: i for i, c in enumerate(Check)}
    return [
        FindingView(r.check, r.result, sentence(r.reason, r.values, lang))
        for r in sorted(rows, key=lambda r: order.get(r.check, 99))
    ]


def photo_findings(
    session: Session, *, actor: Actor, photo_id: str, lang: str
) -> list[FindingView]:
    """The findings on a photo the actor may see: those of its latest feedback, or, for a
    photo in no feedback, what its print alone tells (*original*) and the rest skipped."""
    photo = photo_for_viewer(session, actor=actor, photo_id=photo_id)
    rows = list(session.scalars(select(PhotoFinding).where(PhotoFinding.photo_id == photo.id)))
    if rows:
        latest = max(r.case_id for r in rows)
        return _views([r for r in rows if r.case_id == latest], lang)
    pr = session.get(PhotoPrint, photo.id)
    views = []
    for check in Check:
        if check == Check.ORIGINAL and pr is not None:
            tz = ZoneInfo("Asia/Shanghai")
            f = check_original(
                Meta.from_json(pr.meta),
                Thresholds(),
                tz=tz,
                now=photo.created_at,
                cameras=_cameras(),
            )
            views.append(
                FindingView(check.value, f.result.value, sentence(f.reason, f.values, lang))
            )
        else:
            views.append(FindingView(check.value, "skipped", sentence("not_checked", {}, lang)))
    return views


@dataclass(frozen=True)
class FeedbackPhotoView:
    photo: str
    before: str | None
    findings: list[FindingView]


@dataclass(frozen=True)
class EvidenceView:
    verdict: str | None
    suggested_rework_reason: str | None
    feedback: list[FeedbackPhotoView]


def case_evidence(session: Session, *, actor: Actor, case_id: int, lang: str) -> EvidenceView:
    """The findings on the after-photos of a case's latest feedback and their verdict
    (``None`` before any feedback)."""
    case = get_case(session, actor=actor, case_id=case_id)
    after = [cp for cp in case.photos if cp.stage == "after"]
    if not after:
        return EvidenceView(None, None, [])
    latest_seq = max(cp.event_seq or 0 for cp in after)
    ids = [cp.photo_id for cp in after if (cp.event_seq or 0) == latest_seq]
    rows = list(
        session.scalars(
            select(PhotoFinding).where(
                PhotoFinding.case_id == case.id, PhotoFinding.photo_id.in_(ids)
            )
        )
    )
    feedback = []
    for pid in ids:
        mine = [r for r in rows if r.photo_id == pid]
        scene = next((r for r in mine if r.check == Check.SAME_SCENE.value), None)
        before = (scene.values or {}).get("before") if scene else None
        feedback.append(FeedbackPhotoView(pid, before, _views(mine, lang)))
    results = [Result(r.result) for r in rows]
    suggested = suggested_rework([(r.check, r.result) for r in rows])
    return EvidenceView(verdict(results).value if rows else None, suggested.value, feedback)


def latest_verdict(session: Session, case: Case) -> str | None:
    """The verdict on the after-photos of ``case``'s latest feedback (``None`` if none)."""
    return verdicts_of(session, [case.id]).get(case.id)


def verdicts_of(session: Session, case_ids: Sequence[int]) -> dict[int, str]:
    """The verdict on each case's latest feedback (or fix on the spot), for a list of
    cases in two queries; cases without one are left out. The work lists show it."""
    if not case_ids:
        return {}
    latest: dict[int, tuple[int, set[str]]] = {}
    for case_id, photo_id, seq in session.execute(
        select(CasePhoto.case_id, CasePhoto.photo_id, CasePhoto.event_seq).where(
            CasePhoto.case_id.in_(case_ids), CasePhoto.stage == "after"
        )
    ):
        seq = seq or 0
        have = latest.get(case_id)
        if have is None or seq > have[0]:
            latest[case_id] = (seq, {photo_id})
        elif seq == have[0]:
            have[1].add(photo_id)
    if not latest:
        return {}
    results: dict[int, list[Result]] = {}
    for case_id, photo_id, result in session.execute(
        select(PhotoFinding.case_id, PhotoFinding.photo_id, PhotoFinding.result).where(
            PhotoFinding.case_id.in_(list(latest))
        )
    ):
        if photo_id in latest[case_id][1]:
            results.setdefault(case_id, []).append(Result(result))
    return {case_id: verdict(found).value for case_id, found in results.items()}


def suggested_reason(session: Session, case: Case) -> str:
    """The rework reason the latest findings on ``case`` point to (``not_fixed`` if none)."""
    rows = session.execute(
        select(PhotoFinding.check, PhotoFinding.result).where(PhotoFinding.case_id == case.id)
    ).all()
    return suggested_rework([(c, r) for c, r in rows]).value
