"""The archive of monthly bulletins (通报存档): every bulletin made is kept as it was made.

Making a bulletin — on request or by the scheduled job — renders it once in every
format (DOCX, PDF, XLSX) and keeps the three files with the month, the kind of object,
the scheme and the effective date of the scheme's version that scored it. Rows are only
ever added: the same month made again is a new version beside the earlier ones. The
job's rows carry a unique ``job_key``, so the job makes each month's bulletin once even
when two runs overlap.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Final

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from duban.accounts import User
from duban.evaluation.bulletin import (
    BAD_FORMAT,
    FORMATS,
    NOT_ALLOWED,
    Bulletin,
    BulletinFile,
    build_bulletin,
    render_chart,
    render_docx,
    render_pdf,
    render_xlsx,
)
from duban.evaluation.models import Bulletin as ArchivedBulletin
from duban.evaluation.models import BulletinFile as ArchivedFile
from duban.evaluation.service import DEFAULT_SCHEME, SEE_ALL
from duban.kernel.context import SYSTEM_ACTOR, Actor, Clock
from duban.kernel.errors import Conflict, InvalidInput, Msg, NotFound, PermissionDenied
from duban.kernel.ports import PhotoStore
from duban.kernel.unitofwork import writing
from duban.reference import load_policy

REQUEST: Final = "request"
JOB: Final = "job"
#: What the scheduled job makes each month: these kinds under the default scheme.
JOB_OBJECTS: Final = ("district", "street")

# The messages a person reads (zh-CN in duban.web.messages_zh).
NO_BULLETIN = "no archived bulletin {id}"
NO_FILE = "archived bulletin {id} has no {format} file"
BUSY = "another bulletin of this month is being archived; try again"


@dataclass(frozen=True)
class Archived:
    """One archived bulletin as lists and pages show it (no file bytes)."""

    id: int
    period: str
    object: str
    scheme: str
    scheme_version: date
    version: int
    source: str
    title: str
    created_at: datetime
    created_by: str | None
    formats: tuple[str, ...]


def render_all(bulletin: Bulletin, font: Path | None = None) -> dict[str, bytes]:
    """The bulletin in every format (the chart drawn once)."""
    chart = render_chart(bulletin, font) if bulletin.chart else b""
    return {
        "docx": render_docx(bulletin, chart),
        "pdf": render_pdf(bulletin, chart, font),
        "xlsx": render_xlsx(bulletin),
    }


def _job_key(period: str, obj: str, scheme: str) -> str:
    return f"{period}/{obj}/{scheme}"


def _archive(
    session: Session,
    *,
    bulletin: Bulletin,
    files: dict[str, bytes],
    actor: Actor,
    source: str,
    clock: Clock,
) -> ArchivedBulletin:
    """Add the bulletin and its files as the next version (one transaction)."""
    assert bulletin.scheme_version is not None
    job_key = _job_key(bulletin.period, bulletin.object, bulletin.scheme)
    with writing(session):
        latest = session.scalar(
            select(func.max(ArchivedBulletin.version)).where(
                ArchivedBulletin.period == bulletin.period,
                ArchivedBulletin.object == bulletin.object,
                ArchivedBulletin.scheme == bulletin.scheme,
            )
        )
        row = ArchivedBulletin(
            period=bulletin.period,
            object=bulletin.object,
            scheme=bulletin.scheme,
            scheme_version=bulletin.scheme_version,
            version=(latest or 0) + 1,
            source=source,
            job_key=job_key if source == JOB else None,
            title=bulletin.title,
            created_at=clock.now().astimezone(UTC),
            created_by_id=actor.user_id,
        )
        session.add(row)
        session.flush()
        for fmt, data in files.items():
            session.add(
                ArchivedFile(
                    bulletin_id=row.id,
                    format=fmt,
                    filename=f"{bulletin.file_stem}-v{row.version}.{fmt}",
                    sha256=hashlib.sha256(data).hexdigest(),
                    size_bytes=len(data),
                    data=data,
                )
            )
    return row


def make_bulletin(
    session: Session,
    *,
    actor: Actor,
    clock: Clock,
    period: str | None,
    fmt: str | None = None,
    obj: str | None = None,
    scheme_code: str | None = None,
    font: Path | None = None,
    store: PhotoStore | None = None,
) -> tuple[int, BulletinFile]:
    """Make the month's bulletin on request: render it in every format, archive it as a
    new version and hand back the id and the file in ``fmt`` (default docx)."""
    if actor.role not in SEE_ALL:
        raise PermissionDenied(NOT_ALLOWED)
    fmt = fmt or "docx"
    if fmt not in FORMATS:
        raise InvalidInput(BAD_FORMAT, field="format")
    bulletin = build_bulletin(
        session, actor=actor, period=period, obj=obj, scheme_code=scheme_code, store=store
    )
    files = render_all(bulletin, font)
    try:
        row = _archive(
            session, bulletin=bulletin, files=files, actor=actor, source=REQUEST, clock=clock
        )
    except IntegrityError as err:  # two requests took the same version number at once
        raise Conflict(BUSY) from err
    return row.id, BulletinFile(files[fmt], FORMATS[fmt], f"{bulletin.file_stem}.{fmt}")


def make_job_bulletin(
    session: Session,
    *,
    clock: Clock,
    period: str,
    obj: str,
    scheme_code: str = DEFAULT_SCHEME,
    font: Path | None = None,
    store: PhotoStore | None = None,
) -> int | None:
    """The scheduled job's bulletin of one month, kind and scheme, made once: its id, or
    None when the job made it before (or another run is making it now)."""
    key = _job_key(period, obj, scheme_code)
    if _job_row(session, key) is not None:
        return None
    bulletin = build_bulletin(
        session,
        actor=SYSTEM_ACTOR,
        period=period,
        obj=obj,
        scheme_code=scheme_code,
        store=store,
    )
    files = render_all(bulletin, font)
    for _attempt in range(2):
        try:
            row = _archive(
                session,
                bulletin=bulletin,
                files=files,
                actor=SYSTEM_ACTOR,
                source=JOB,
                clock=clock,
            )
        except IntegrityError:
            if _job_row(session, key) is not None:
                return None  # the other run won
            continue  # a request took the version number: take the next
        return row.id
    return None


def _job_row(session: Session, key: str) -> int | None:
    found = session.scalar(select(ArchivedBulletin.id).where(ArchivedBulletin.job_key == key))
    session.rollback()  # end the read: the next write begins its own transaction
    return found


def last_month(session: Session, now: datetime) -> str:
    """``YYYY-MM`` of the month before the one ``now`` falls in, in the city's zone."""
    local = now.astimezone(load_policy(session).tz)
    year, month = (local.year, local.month - 1) if local.month > 1 else (local.year - 1, 12)
    return f"{year:04d}-{month:02d}"


def list_bulletins(
    session: Session,
    *,
    actor: Actor,
    period: str | None = None,
    obj: str | None = None,
    scheme_code: str | None = None,
) -> list[Archived]:
    """The archive, newest first, optionally of one month, kind or scheme."""
    if actor.role not in SEE_ALL:
        raise PermissionDenied(NOT_ALLOWED)
    query = (
        select(ArchivedBulletin, User.username)
        .outerjoin(User, User.id == ArchivedBulletin.created_by_id)
        .options(selectinload(ArchivedBulletin.files))
        .order_by(ArchivedBulletin.period.desc(), ArchivedBulletin.id.desc())
    )
    if period:
        query = query.where(ArchivedBulletin.period == period)
    if obj:
        query = query.where(ArchivedBulletin.object == obj)
    if scheme_code:
        query = query.where(ArchivedBulletin.scheme == scheme_code)
    return [
        Archived(
            id=row.id,
            period=row.period,
            object=row.object,
            scheme=row.scheme,
            scheme_version=row.scheme_version,
            version=row.version,
            source=row.source,
            title=row.title,
            created_at=row.created_at,
            created_by=username if row.source == REQUEST else JOB,
            formats=tuple(f.format for f in row.files),
        )
        for row, username in session.execute(query)
    ]


def archived_file(session: Session, *, actor: Actor, bulletin_id: int, fmt: str) -> BulletinFile:
    """One file of an archived bulletin, byte for byte as it was made."""
    if actor.role not in SEE_ALL:
        raise PermissionDenied(NOT_ALLOWED)
    if fmt not in FORMATS:
        raise InvalidInput(BAD_FORMAT, field="format")
    if session.get(ArchivedBulletin, bulletin_id) is None:
        raise NotFound(Msg(NO_BULLETIN, id=bulletin_id))
    found = session.scalar(
        select(ArchivedFile).where(
            ArchivedFile.bulletin_id == bulletin_id, ArchivedFile.format == fmt
        )
    )
    if found is None:
        raise NotFound(Msg(NO_FILE, id=bulletin_id, format=fmt))
    return BulletinFile(found.data, FORMATS[fmt], found.filename)
