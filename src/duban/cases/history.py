"""History import: an old platform's cases replayed through the same use cases.

A city arrives with years of cases. Each row of its file is one action of one case, at
the time the row gives; :func:`import_history` replays a case's rows through
:func:`~duban.cases.intake.report` and :func:`~duban.cases.actions.perform_action` with
that time as the clock, so statuses, deadlines (on the working calendar of that day),
step timers and the hash-chained events come out as if Duban had been there.

- **One case, one transaction.** A refused row (unknown action or user, a time before
  the case's previous row, a bad category, an action the workflow does not allow …)
  names its line and reason and the whole case is left out; the other cases go in.
- **Idempotent.** The old system's id is kept (:class:`~duban.cases.models.ImportedCase`);
  importing the same file again skips the cases already in and says how many.
- **What is relaxed for history, and why.** Old platforms kept phone numbers in any
  shape: a ``reporter_phone`` that is not a phone number is left out (and counted) rather
  than refusing the case, since the number cannot be called back anyway. Old platforms
  kept photos elsewhere or not at all: a replayed ``feedback``, a body's
  ``transfer_done`` and a report ``fixed_on_site`` need none (their events are marked
  ``imported``). Everything else is checked as for a live request — a ``platform`` that
  runs no platform, a body that is not one, a platform dispatcher acting on another's case.
- **Silent.** Replayed history is not news: it queues no message to anyone (citizens,
  units, bodies, webhooks; :func:`duban.notify.silenced`) and the public alerts skip
  imported cases, whatever the time of their rows.
- **The system's own steps.** The user ``system`` (when no account is named so) stands
  for Duban's sweeps, e.g. a ``transfer_overdue`` the old platform recorded.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from duban import notify
from duban.accounts import User, actor_of
from duban.cases.actions import ActionInput, perform_action
from duban.cases.intake import NewCase, report
from duban.cases.models import ImportedCase
from duban.cases.workflow import Action, Rating, Source
from duban.kernel.context import SYSTEM_ACTOR, Actor, SystemClock
from duban.kernel.db.session import REQUEST_MEMO
from duban.kernel.errors import DubanError, InvalidInput, Msg
from duban.kernel.phones import normalize_phone
from duban.kernel.unitofwork import writing

#: The columns every row has; the others are the action's fields, named as in the API.
REQUIRED_COLUMNS = ("case", "at", "action", "user")
#: A citizen's score of an old platform, read as a rating: 5–4 satisfied, 3 basically,
#: 2–1 unsatisfied; a rating's name (or its Chinese label) is read as itself.
SCORE_RATINGS: Mapping[str, Rating] = {
    "5": Rating.SATISFIED,
    "4": Rating.SATISFIED,
    "3": Rating.BASICALLY_SATISFIED,
    "2": Rating.UNSATISFIED,
    "1": Rating.UNSATISFIED,
    "满意": Rating.SATISFIED,
    "基本满意": Rating.BASICALLY_SATISFIED,
    "不满意": Rating.UNSATISFIED,
    **{r.value: r for r in Rating},
}
_TRUE = frozenset({"true", "1", "yes", "y", "是", "通过"})
_FALSE = frozenset({"false", "0", "no", "n", "否", "不通过"})
_LOOKUP_CHUNK = 500
ALREADY_TAKEN = "imported at the same time by another run"


class HistoryFileError(ValueError):
    """The file as a whole cannot be read (no such columns, not CSV or XLSX); ``text`` is
    the catalogue template of what is wrong."""

    def __init__(self, message: str | Msg) -> None:
        self.text = message if isinstance(message, Msg) else Msg(message)
        super().__init__(str(self.text))


@dataclass(frozen=True)
class HistoryRow:
    """One row of the file: ``line`` is its line number (the header is line 1)."""

    line: int
    case: str
    at: str
    action: str
    user: str
    fields: Mapping[str, str]


@dataclass(frozen=True)
class Refusal:
    """A case left out: the line that was refused and why."""

    line: int
    case: str
    reason: str

    def __str__(self) -> str:
        return f"line {self.line} (case {self.case}): {self.reason}"


@dataclass
class HistoryReport:
    """What an import did."""

    rows: int = 0
    cases: int = 0
    imported: int = 0
    already: int = 0
    events: int = 0
    phones_dropped: int = 0
    refused: list[Refusal] = field(default_factory=list)


@dataclass(frozen=True)
class _At:
    """The clock of one replayed row: the row's time."""

    at: datetime

    def now(self) -> datetime:
        return self.at


# --------------------------------------------------------------------------- reading


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _table_rows(path: Path) -> Iterator[list[str]]:
    suffix = path.suffix.lower()
    if suffix == ".xlsx":
        from openpyxl import load_workbook  # deferred: heavy

        book = load_workbook(path, read_only=True, data_only=True)
        try:
            for values in book.worksheets[0].iter_rows(values_only=True):
                yield [_cell(v) for v in values]
        finally:
            book.close()
        return
    if suffix != ".csv":
        raise HistoryFileError(Msg("{path_name}: give a .csv or .xlsx file", path_name=path.name))
    with path.open(encoding="utf-8-sig", newline="") as f:
        for values in csv.reader(f):
            yield [v.strip() for v in values]


def read_history(path: Path) -> list[HistoryRow]:
    """The rows of a CSV (UTF-8) or XLSX (first sheet) file with a header row."""
    rows = _table_rows(path)
    header = [h.strip().lower() for h in next(rows, [])]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise HistoryFileError(
            Msg(
                "{path_name}: missing column(s) {columns}",
                path_name=path.name,
                columns=", ".join(missing),
            )
        )
    out: list[HistoryRow] = []
    for line, values in enumerate(rows, start=2):
        if not any(values):
            continue
        cells = dict(zip(header, values, strict=False))
        out.append(
            HistoryRow(
                line=line,
                case=cells.get("case", ""),
                at=cells.get("at", ""),
                action=cells.get("action", "").lower(),
                user=cells.get("user", ""),
                fields={k: v for k, v in cells.items() if k not in REQUIRED_COLUMNS and v},
            )
        )
    return out


def read_user_map(path: Path) -> dict[str, str]:
    """``--users MAP.csv``: the old system's name, then the Duban username, a pair a line
    (a header ``name,username`` is skipped)."""
    mapping: dict[str, str] = {}
    with path.open(encoding="utf-8-sig", newline="") as f:
        for n, values in enumerate(csv.reader(f)):
            if len(values) < 2 or not values[0].strip():
                continue
            if n == 0 and values[1].strip().lower() == "username":
                continue
            mapping[values[0].strip()] = values[1].strip()
    return mapping


# --------------------------------------------------------------------------- parsing a row


def _time(text: str, name: str) -> datetime:
    try:
        at = datetime.fromisoformat(text)
    except ValueError as err:
        raise InvalidInput(
            Msg("'{name}' is not an ISO 8601 time: {text!r}", name=name, text=text), field=name
        ) from err
    if at.tzinfo is None:
        raise InvalidInput(
            Msg(
                "'{name}' needs an offset, e.g. 2025-10-01T09:00:00+08:00: {text!r}",
                name=name,
                text=text,
            ),
            field=name,
        )
    return at.astimezone(UTC)


def _float(fields: Mapping[str, str], name: str) -> float | None:
    text = fields.get(name)
    if not text:
        return None
    try:
        return float(text)
    except ValueError as err:
        raise InvalidInput(
            Msg("'{name}' is not a number: {text!r}", name=name, text=text), field=name
        ) from err


def _flag(fields: Mapping[str, str], name: str) -> bool | None:
    text = fields.get(name)
    if not text:
        return None
    low = text.strip().lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise InvalidInput(
        Msg("'{name}' is true or false, not {text!r}", name=name, text=text), field=name
    )


def _rating(fields: Mapping[str, str]) -> str | None:
    text = fields.get("rating") or fields.get("score")
    if not text:
        return None
    rating = SCORE_RATINGS.get(text.strip().lower().removesuffix(".0"))
    if rating is None:
        raise InvalidInput(
            Msg(
                "'score' is 1–5 or one of {choices}, not {text!r}",
                choices=", ".join(r.value for r in Rating),
                text=text,
            ),
            field="score",
        )
    return rating.value


def _new_case(fields: Mapping[str, str], out: HistoryReport) -> NewCase:
    try:
        source = Source(fields.get("source", ""))
    except ValueError as err:
        names = ", ".join(s.value for s in Source)
        raise InvalidInput(Msg("'source' is one of {names}", names=names), field="source") from err
    lat, lon = _float(fields, "lat"), _float(fields, "lon")
    if lat is None or lon is None:
        raise InvalidInput("a report needs 'lon' and 'lat'", field="lat")
    phone = fields.get("reporter_phone")
    if phone:
        try:
            normalize_phone(phone)
        except InvalidInput:
            phone = None  # relaxed for history: see the module's docstring
            out.phones_dropped += 1
    return NewCase(
        source=source,
        category_code=fields.get("category_code", ""),
        condition_code=fields.get("condition_code") or None,
        lat=lat,
        lon=lon,
        crs=fields.get("crs", "wgs84"),
        description=fields.get("description", ""),
        address=fields.get("address", ""),
        reporter_name=fields.get("reporter_name") or None,
        reporter_phone=phone,
        hotline_ticket=fields.get("hotline_ticket") or None,
        fixed_on_site=bool(_flag(fields, "fixed_on_site")),
        historic=True,
    )


def _action_input(fields: Mapping[str, str]) -> ActionInput:
    until = fields.get("until")
    helpers = fields.get("helper_units", "")
    return ActionInput(
        note=fields.get("note", ""),
        reason=fields.get("reason", ""),
        unit=fields.get("unit") or None,
        helper_units=tuple(h.strip() for h in helpers.split(",") if h.strip()),
        passed=_flag(fields, "passed"),
        until=_time(until, "until") if until else None,
        amount=_float(fields, "amount"),
        collector=fields.get("collector") or None,
        duplicate_of=fields.get("duplicate_of") or None,
        category_code=fields.get("category_code") or None,
        condition_code=fields.get("condition_code") or None,
        lat=_float(fields, "lat"),
        lon=_float(fields, "lon"),
        crs=fields.get("crs", "wgs84"),
        address=fields.get("address") or None,
        rating=_rating(fields),
        rework_reason=fields.get("rework_reason") or None,
        public_reply=fields.get("public_reply", ""),
        platform=fields.get("platform") or None,
        historic=True,
    )


# --------------------------------------------------------------------------- replaying


class _People:
    """Usernames (through the map) to actors, each user read once."""

    def __init__(self, session: Session, names: Mapping[str, str]) -> None:
        self._session = session
        self._names = names
        self._actors: dict[str, Actor | None] = {}

    def actor(self, name: str) -> Actor:
        username = self._names.get(name, name)
        if username not in self._actors:
            user = self._session.scalars(select(User).where(User.username == username)).first()
            if user is not None:
                self._actors[username] = actor_of(user)
            else:  # no account called so: Duban's own sweeps (see the module's docstring)
                self._actors[username] = SYSTEM_ACTOR if username == "system" else None
        found = self._actors[username]
        if found is None:
            shown = f"'{name}'" + (f" (mapped to '{username}')" if username != name else "")
            raise InvalidInput(Msg("unknown user {shown}", shown=shown), field="user")
        return found


def _by_case(rows: Iterable[HistoryRow]) -> dict[str, list[HistoryRow]]:
    cases: dict[str, list[HistoryRow]] = {}
    for row in rows:
        cases.setdefault(row.case, []).append(row)
    return cases


def _already_in(session: Session, refs: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for i in range(0, len(refs), _LOOKUP_CHUNK):
        chunk = refs[i : i + _LOOKUP_CHUNK]
        found.update(session.scalars(select(ImportedCase.ref).where(ImportedCase.ref.in_(chunk))))
    return found


def _first_time(rows: Sequence[HistoryRow]) -> datetime:
    try:
        return _time(rows[0].at, "at")
    except InvalidInput:
        return datetime.min.replace(tzinfo=UTC)  # refused when replayed, first


def _replay_row(
    session: Session,
    row: HistoryRow,
    case_id: int | None,
    people: _People,
    report_: HistoryReport,
) -> int:
    """Replay one row; the case's id."""
    actor = people.actor(row.user)
    clock = _At(_time(row.at, "at"))
    if row.action == Action.REPORT.value:
        if case_id is not None:
            raise InvalidInput("the case was already reported: 'report' comes once, first")
        done = report(session, actor=actor, clock=clock, data=_new_case(row.fields, report_))
        return done.case_id
    if case_id is None:
        raise InvalidInput("a case's first row is its 'report'", field="action")
    try:
        action = Action(row.action)
    except ValueError as err:
        raise InvalidInput(
            Msg("unknown action '{action}'", action=row.action), field="action"
        ) from err
    perform_action(
        session,
        case_id=case_id,
        action=action,
        actor=actor,
        clock=clock,
        params=_action_input(row.fields),
    )
    return case_id


def _replay_case(
    session: Session, ref: str, rows: Sequence[HistoryRow], people: _People, out: HistoryReport
) -> Refusal | None:
    """All of one case's rows in one transaction; the refusal that left it out, if any."""
    line = rows[0].line
    # One case is like one request of the API: the reference data (policy, map, taxonomy)
    # is checked against its stamps once for the case, not once per row.
    session.info[REQUEST_MEMO] = {}
    try:
        with writing(session), notify.silenced(session):
            case_id: int | None = None
            last: datetime | None = None
            for row in rows:
                line = row.line
                if not row.case or len(row.case) > 100:
                    raise InvalidInput("'case' is the old system's id (1–100 characters)")
                at = _time(row.at, "at")
                if last is not None and at < last:
                    raise InvalidInput(
                        Msg(
                            "time goes backwards: {at} is before the case's previous row", at=row.at
                        ),
                        field="at",
                    )
                last = at
                case_id = _replay_row(session, row, case_id, people, out)
                # A live request's later ones read what it wrote (a hand-over waiting for
                # its answer, a closing before its return call): so do the later rows.
                session.flush()
            assert case_id is not None
            session.add(
                ImportedCase(
                    ref=ref, case_id=case_id, rows=len(rows), imported_at=SystemClock().now()
                )
            )
    except DubanError as err:
        return Refusal(line=line, case=ref, reason=err.message)
    except IntegrityError:  # another import of the same file took this case first
        return Refusal(line=line, case=ref, reason=ALREADY_TAKEN)
    finally:
        session.info.pop(REQUEST_MEMO, None)
    return None


def import_history(
    session: Session,
    *,
    rows: Sequence[HistoryRow],
    users: Mapping[str, str] | None = None,
    progress: Callable[[int], None] | None = None,
) -> HistoryReport:
    """Replay ``rows`` case by case, oldest case first (by its first row's time).

    ``users`` maps the old system's names onto Duban usernames. ``progress(n)`` is told
    after each case how many rows it took. A refused row leaves its case out (the
    report names the line and why); cases imported before are skipped.
    """
    out = HistoryReport(rows=len(rows))
    cases = _by_case(rows)
    out.cases = len(cases)
    people = _People(session, users or {})
    done = _already_in(session, [ref for ref in cases if ref])
    session.rollback()  # end the read: each case is its own transaction
    for ref, case_rows in sorted(cases.items(), key=lambda item: _first_time(item[1])):
        if ref in done:
            out.already += 1
        else:
            refusal = _replay_case(session, ref, case_rows, people, out)
            if refusal is None:
                out.imported += 1
                out.events += len(case_rows)
            else:
                out.refused.append(refusal)
        if progress is not None:
            progress(len(case_rows))
    out.refused.sort(key=lambda r: r.line)
    return out


def write_history_csv(rows: Iterable[Mapping[str, object]], columns: Sequence[str]) -> str:
    """A history file's text from dicts (for tests, the bench and examples)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if v is None else v) for k, v in row.items()})
    return buffer.getvalue()
