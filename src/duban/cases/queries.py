"""Read-side queries: filtered, paginated case lists."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Select,
    String,
    and_,
    bindparam,
    column,
    false,
    func,
    literal,
    literal_column,
    or_,
    select,
    table,
    text,
    union_all,
)
from sqlalchemy.orm import Session, selectinload

from duban.accounts import Unit
from duban.cases.access import in_territory, visible_cases
from duban.cases.models import Case
from duban.cases.presenters import DeadlineView, deadline_view
from duban.cases.workflow import CLOCK_RUNNING, CaseStatus, Source
from duban.kernel.context import Actor
from duban.kernel.errors import InvalidInput, Msg
from duban.reference import Category, Policy


@dataclass(frozen=True)
class CaseFilter:
    """Which cases a list wants: the one filter model of the API's and the web's case
    lists, the map, the workbench, Open311's GET requests and the bulk export.

    Empty or None means "any". Each face reads its own parameters into it (with
    :mod:`duban.kernel.parsing`); :func:`apply_case_filter` turns it into SQL.
    """

    codes: Sequence[str] = ()  # 案卷号 (Open311's service_request_id)
    statuses: Sequence[CaseStatus] = ()
    unit_code: str | None = None
    categories: Sequence[str] = ()  # a subclass, or a major class for all its subclasses
    services: Sequence[str] = ()  # subclass codes matched exactly (Open311's service_code)
    sources: Sequence[Source] = ()
    overdue: bool | None = None
    supervised: bool | None = None
    grid: str | None = None  # a grid code or a prefix of one (a community, a street)
    created_from: datetime | None = None  # inclusive
    created_to: datetime | None = None  # exclusive
    bbox: tuple[float, float, float, float] | None = None  # min lon, min lat, max lon, max lat
    nothing: bool = False  # no case passes (an Open311 status word that no status has)
    text: str | None = None  # a 案卷号, or words in the description or the address
    region: str | None = None  # a district or street: its territory (an Open311 key's, export)


def overdue_condition(now: datetime) -> ColumnElement[bool]:
    """Cases past their deadline at ``now``: running late, handled late or parked late."""
    running = and_(Case.status.in_(list(CLOCK_RUNNING)), Case.due_at < now)
    handled_late = and_(
        Case.status.not_in(list(CLOCK_RUNNING)),
        Case.handled_at.is_not(None),
        Case.due_at.is_not(None),
        Case.handled_at > Case.due_at,
    )
    parked_late = and_(Case.status == CaseStatus.PARKED, Case.parked_at > Case.due_at)
    return or_(running, handled_late, parked_late)


def apply_case_filter(stmt: Select[Any], f: CaseFilter, now: datetime) -> Select[Any]:
    """``stmt`` (a select over cases) narrowed to the cases ``f`` wants."""
    if f.nothing:
        return stmt.where(false())
    if f.codes:
        stmt = stmt.where(Case.code.in_(list(f.codes)))
    if f.statuses:
        stmt = stmt.where(Case.status.in_(list(f.statuses)))
    if f.unit_code:
        stmt = stmt.where(Case.unit_id.in_(select(Unit.id).where(Unit.code == f.unit_code)))
    if f.categories:
        # A major class code selects all its subclasses (their codes extend it). Their
        # codes are read from the categories, so an index on status and category seeks
        # each one (open cases of a major class at a million cases: 1 ms to count to
        # 10,001, against 12 ms for a LIKE on every open case's code).
        subclasses = select(Category.code).where(
            or_(*(Category.code.startswith(c, autoescape=True) for c in f.categories))
        )
        stmt = stmt.where(Case.category_code.in_(subclasses))
    if f.services:
        stmt = stmt.where(Case.category_code.in_(list(f.services)))
    if f.sources:
        stmt = stmt.where(Case.source.in_(list(f.sources)))
    if f.overdue is not None:
        cond = overdue_condition(now)
        stmt = stmt.where(cond if f.overdue else ~cond)
    if f.grid:
        stmt = stmt.where(Case.grid_code.startswith(f.grid, autoescape=True))
    if f.created_from:
        stmt = stmt.where(Case.created_at >= f.created_from)
    if f.created_to:
        stmt = stmt.where(Case.created_at < f.created_to)
    if f.supervised is not None:
        stmt = stmt.where(Case.is_supervised.is_(f.supervised))
    if f.bbox is not None:
        min_lon, min_lat, max_lon, max_lat = f.bbox
        stmt = stmt.where(Case.lon.between(min_lon, max_lon), Case.lat.between(min_lat, max_lat))
    if f.region:
        stmt = stmt.where(in_territory(f.region))
    return stmt


#: The shortest word the trigram indexes find; shorter words are matched with LIKE.
TRIGRAM = 3

#: Up to this many hits a search is ranked; beyond, newest first after an exact 案卷号.
RANKED_HITS = 1_000

#: The orders a case list can take: ``-`` in front reverses one (``-due``).
SORTS = ("reported", "due", "status", "category", "unit")


def _like(word: str) -> str:
    escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _words(query: str) -> list[str]:
    return [w for w in query.split() if w][:8]


def _contains(word: str, *, sqlite: bool) -> ColumnElement[bool]:
    """Cases whose description or address holds ``word``."""
    # SQLite's LIKE ignores ASCII case already (ILIKE would add lower() per row);
    # PostgreSQL: the pg_trgm indexes serve LIKE and ILIKE alike.
    if sqlite:
        return or_(
            Case.description.like(_like(word), escape="\\"),
            Case.address.like(_like(word), escape="\\"),
        )
    # PostgreSQL: the pattern is written into the statement, so every plan sees it. As a
    # parameter, psycopg prepares a statement run five times on a connection, and
    # PostgreSQL then plans it once for any word: a common word's capped count went
    # from 60 ms to 1–2 s (the walk that stops at 1,001 hits replaced by bitmaps).
    pattern = bindparam(None, _like(word), type_=String(), literal_execute=True)
    if word.isascii():
        return or_(
            Case.description.ilike(pattern, escape="\\"),
            Case.address.ilike(pattern, escape="\\"),
        )
    # ILIKE costs several times LIKE on Chinese text, where case means nothing.
    return or_(
        Case.description.like(pattern, escape="\\"),
        Case.address.like(pattern, escape="\\"),
    )


def _fts_words(words: Sequence[str]) -> str:
    """An FTS5 query that every one of ``words`` matches (each a quoted phrase)."""
    return " AND ".join('"' + w.replace('"', '""') + '"' for w in words)


def search_condition(
    session: Session, query: str, *, per_row: bool = False
) -> ColumnElement[bool] | None:
    """The cases a search finds (:func:`search_hits`), as a condition on ``cases``.

    PostgreSQL, and SQLite when ``per_row``: the 案卷号 or every word, in place, so a
    list can walk its order's index, check each row and stop at a page (a word one case
    in twenty holds: 1 ms at a million cases, against 3.6 s to gather its 50,000 hits
    first). SQLite otherwise: words too short for the trigram table in place; the
    others through the FTS5 table ``case_search``, its hits gathered (``id IN``: few
    hits, ranked). A word in every address (许昌市) gathered cost 0.6 s per page; in
    place, 0.1 ms.
    """
    words = _words(query)
    if not words:
        return None
    code = query.strip()
    sqlite = session.get_bind().dialect.name == "sqlite"
    long_words = [w for w in words if sqlite and not per_row and len(w) >= TRIGRAM]
    in_place = [_contains(w, sqlite=sqlite) for w in words if w not in long_words]
    if not long_words:
        return or_(Case.code == code, and_(*in_place))
    matched = select(table("case_search", column("rowid")).c.rowid).where(
        text("case_search MATCH :match").bindparams(match=_fts_words(long_words))
    )
    # A 案卷号 has no spaces and is longer than two characters: never with in_place words.
    by_code = select(Case.id).where(Case.code == code)
    return and_(*in_place, Case.id.in_(union_all(by_code, matched)))


def search_hits(session: Session, query: str, *, ranked: bool = True) -> CompoundSelect[Any] | None:
    """The cases a search finds, as a select of ``(id, rank)``: lower rank first.

    An exact 案卷号 ranks first (rank -1e9); then text over the description and the
    address, every word required. SQLite: the FTS5 trigram table ``case_search`` for
    words of three or more characters, ranked by bm25; PostgreSQL: ``ILIKE`` served by
    the ``pg_trgm`` GIN indexes, ranked by word similarity. Words shorter than three
    characters (e.g. 井盖 is two) are matched with LIKE. None when there is nothing to
    search for. ``ranked=False`` leaves the rank out (all 0), for counting.
    """
    words = _words(query)
    if not words:
        return None
    exact = select(Case.id.label("id"), literal(-1e9).label("rank")).where(
        Case.code == query.strip()
    )
    long_words = [w for w in words if len(w) >= TRIGRAM]
    short_words = [w for w in words if len(w) < TRIGRAM]
    sqlite = session.get_bind().dialect.name == "sqlite"

    def contains(word: str) -> ColumnElement[bool]:
        return _contains(word, sqlite=sqlite)

    in_text = [contains(w) for w in short_words]
    if sqlite and long_words:
        match = _fts_words(long_words)
        fts: Any = (
            select(
                literal_column("case_search.rowid").label("id"),
                literal_column("bm25(case_search)" if ranked else "0.0").label("rank"),
            )
            .select_from(text("case_search"))
            .where(text("case_search MATCH :match").bindparams(match=match))
        )
        if in_text:
            found = fts.subquery()
            fts = select(found.c.id, found.c.rank).join(Case, Case.id == found.c.id).where(*in_text)
    elif sqlite:
        fts = select(Case.id.label("id"), literal(0.0).label("rank")).where(*in_text)
    else:
        in_text += [contains(w) for w in long_words]
        phrase = " ".join(words)
        rank: ColumnElement[Any] = -func.greatest(
            func.word_similarity(phrase, Case.description),
            func.word_similarity(phrase, Case.address),
        )
        if not ranked:
            rank = literal(0.0)
        fts = select(Case.id.label("id"), rank.label("rank")).where(*in_text)
    return union_all(exact, fts)


#: A list counts its cases up to this many; beyond, it says "10,000+" (counting a
#: million cases costs a scan of them, and nobody pages that far).
COUNTED = 10_000

#: One key of a list's order: an expression and whether it runs descending.
SortKey = tuple[Any, bool]


def _sort_keys(sort: str) -> list[SortKey]:
    key = sort.lstrip("-")
    desc = sort.startswith("-")
    columns: dict[str, Any] = {
        "reported": Case.created_at,
        "due": Case.due_at,
        "status": Case.status,
        "category": Case.category_code,
        "unit": Unit.name,
    }
    column: ColumnElement[Any] = columns[key]
    keys: list[SortKey] = []
    if key in ("due", "unit"):
        keys.append((column.is_(None), False))  # cases without a deadline or a unit last
    keys.append((column, desc))
    keys.append((Case.id, desc))
    return keys


def encode_cursor(values: Sequence[Any]) -> str:
    """A keyset cursor: the sort-key values of one row, URL-safe."""
    tagged = [["t", v.isoformat()] if isinstance(v, datetime) else v for v in values]
    raw = json.dumps(tagged, separators=(",", ":"), ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, length: int) -> list[Any]:
    """The sort-key values a cursor holds; :class:`InvalidInput` if it is not one of
    this list's cursors."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
        if not isinstance(values, list) or len(values) != length:
            raise ValueError(cursor)
        return [
            datetime.fromisoformat(v[1]) if isinstance(v, list) and v[:1] == ["t"] else v
            for v in values
        ]
    except (ValueError, TypeError, IndexError) as exc:
        raise InvalidInput(
            Msg("this page link is not valid any more: start from the first page"),
            field="after",
        ) from exc


def _past(keys: Sequence[SortKey], values: Sequence[Any]) -> ColumnElement[bool]:
    """Rows that come after ``values`` in the order of ``keys`` (a keyset condition).

    Lexicographic: equal on the first keys and past on the next. A NULL value only
    occurs in a group that a leading ``IS NULL`` key set apart, where it ties. The
    first key's bound is repeated alone so an index on it can start at the cursor.
    """
    alternatives: list[ColumnElement[bool]] = []
    equal: list[ColumnElement[bool]] = []
    for (expr, desc), raw in zip(keys, values, strict=True):
        # A boolean key (``IS NULL`` first) compares as a literal: SQLAlchemy refuses
        # ``expr > True``.
        value = literal(raw) if isinstance(raw, bool) else raw
        if value is not None:
            alternatives.append(and_(*equal, expr < value if desc else expr > value))
        equal.append(expr.is_(None) if value is None else expr == value)
    first, desc = keys[0]
    bound = literal(values[0]) if isinstance(values[0], bool) else values[0]
    if bound is None:
        return or_(*alternatives)
    return and_(first <= bound if desc else first >= bound, or_(*alternatives))


@dataclass(frozen=True)
class CaseListing:
    """One page of a case list: its cases, how many there are, and the cursors of the
    pages before and after it (None at either end)."""

    rows: list[Case]
    total: int
    total_exact: bool  # False: more than :data:`COUNTED` (``total`` is then COUNTED)
    before: str | None
    after: str | None


def list_cases(
    session: Session,
    *,
    actor: Actor,
    filters: CaseFilter,
    now: datetime,
    page: int = 1,
    page_size: int = 50,
    sort: str | None = None,
    after: str | None = None,
    before: str | None = None,
    counted: int | None = None,
) -> CaseListing:
    """The cases ``actor`` may see that match ``filters``, and how many (up to
    ``counted``, :data:`COUNTED` by default; a search's hits up to :data:`RANKED_HITS`).

    Newest first; with a search (``filters.text``), best match first; ``sort`` (one of
    :data:`SORTS`, ``-`` in front for descending) orders by a column instead. Every order
    ends with the case id, so pages neither repeat nor skip a case. Pages go by keyset:
    ``after`` (or ``before``) is the cursor a previous page gave, and the page starts
    right after (ends right before) that row, whatever page it is — an index walk, no
    rows skipped one by one. ``page`` numbers (OFFSET) remain for API clients that
    ask by number.
    """
    counted = COUNTED if counted is None else counted
    base = apply_case_filter(select(Case).where(visible_cases(actor)), filters, now)
    sorted_by = sort if sort and sort.lstrip("-") in SORTS else None
    keys: list[SortKey] = [(Case.created_at, True), (Case.id, True)]
    # The count needs no rank (word similarity per hit is most of a search's cost).
    found_by = search_condition(session, filters.text) if filters.text else None
    if found_by is not None and filters.text:
        # A search counts its hits only up to RANKED_HITS ("1,000+"): the count visits
        # every hit it counts, and a common word has tens of thousands.
        counted = min(counted, RANKED_HITS)
        total = _count_hits(session, base, filters.text, RANKED_HITS)
    else:
        total = _count(session, base, counted)
    if found_by is not None and filters.text:
        if total > RANKED_HITS:
            # Many hits: walk the list's order and check each row (LIKE, on SQLite too),
            # stopping at a page, rather than gather every hit first.
            walked = search_condition(session, filters.text, per_row=True)
            assert walked is not None
            base = base.where(walked)
        else:
            base = base.where(found_by)
        if sorted_by is None and total > RANKED_HITS:
            # Thousands of hits all hold the words: rank adds little and costs a score per
            # hit (word similarity on PostgreSQL), so newest first. No 案卷号 key in front:
            # it would stop the index walk (a sort of every hit), and a 案卷号 is in no
            # description, so it never has a thousand hits.
            pass
        elif sorted_by is None:
            hits = search_hits(session, filters.text)
            assert hits is not None
            hit = hits.subquery()
            found = (
                select(hit.c.id, func.min(hit.c.rank).label("rank")).group_by(hit.c.id).subquery()
            )
            base = apply_case_filter(select(Case).where(visible_cases(actor)), filters, now)
            base = base.join(found, found.c.id == Case.id)
            keys = [(found.c.rank, False), *keys]
    if sorted_by is not None:
        if sorted_by.lstrip("-") == "unit":
            base = base.outerjoin(Unit, Unit.id == Case.unit_id)
        keys = _sort_keys(sorted_by)
    cursor, backwards = (before, True) if before else (after, False)
    # Backwards: the same walk with every key reversed, read back to front.
    walk = [(expr, desc != backwards) for expr, desc in keys]
    # The page is chosen on ids and sort keys alone (an index can hold them: a filtered
    # list sorts thousands of candidates without reading their rows), then its rows are
    # read by id: 51 rows, not every candidate (open cases of a major class sorted by
    # time left at a million cases: 0.4 s of row reads, 47 ms without).
    chosen = base.with_only_columns(
        Case.id.label("id"), *(expr.label(f"k{i}") for i, (expr, _) in enumerate(keys))
    )
    if cursor:
        chosen = chosen.where(_past(walk, decode_cursor(cursor, len(keys))))
    elif page > 1:
        chosen = chosen.offset((page - 1) * page_size)
    chosen_page = (
        chosen.order_by(*(expr.desc() if desc else expr.asc() for expr, desc in walk))
        .limit(page_size + 1)
        .subquery("chosen")
    )
    chosen_keys = [chosen_page.c[f"k{i}"] for i in range(len(keys))]
    found_rows = list(
        session.execute(
            select(Case, *chosen_keys)
            .join(chosen_page, chosen_page.c.id == Case.id)
            .options(selectinload(Case.unit))
            .order_by(
                *(
                    key.desc() if desc else key.asc()
                    for key, (_, desc) in zip(chosen_keys, walk, strict=True)
                )
            )
        )
    )
    more = len(found_rows) > page_size
    found_rows = found_rows[:page_size]
    if backwards:
        found_rows.reverse()
    marks = [encode_cursor(tuple(row)[1:]) for row in found_rows]
    if backwards:
        prev_mark = marks[0] if more and marks else None
        next_mark = marks[-1] if marks else None
    else:
        prev_mark = marks[0] if (cursor or page > 1) and marks else None
        next_mark = marks[-1] if more else None
    return CaseListing(
        rows=[row[0] for row in found_rows],
        total=min(total, counted),
        total_exact=total <= counted,
        before=prev_mark,
        after=next_mark,
    )


def _count_hits(session: Session, base: Select[Any], query: str, cap: int) -> int:
    """How many of the cases ``base`` selects a search finds, counting no further than
    ``cap`` + 1.

    PostgreSQL, and SQLite's words too short for the trigram table: in place. SQLite's
    other words: driven by the FTS5 table, which yields its hits one by one, each case
    then looked up by id (2–10 ms for 1,001 of a common word's 50,000 hits at a million
    cases), rather than through ``id IN (…)``, which gathers every hit first (~0.2 s);
    the exact 案卷号 is counted beside (a case that both is it and holds it counted
    once).
    """
    condition = search_condition(session, query)
    assert condition is not None
    sqlite = session.get_bind().dialect.name == "sqlite"
    long_words = [w for w in _words(query) if sqlite and len(w) >= TRIGRAM]
    if not long_words:
        # In place: a scan that stops at the cap, or the trigram bitmaps for rare words.
        # (Counting newest first walked the list's index instead, fast while the table
        # lies in report order, 109 ms for a common word where it does not.)
        return _count(session, base.where(condition), cap)
    code = query.strip()
    in_place = [_contains(w, sqlite=True) for w in _words(query) if w not in long_words]
    search = table("case_search", column("rowid"))
    by_code = base.where(Case.code == code, *in_place).with_only_columns(Case.id)
    by_text = (
        base.join(search, search.c.rowid == Case.id)
        .where(
            text("case_search MATCH :match").bindparams(match=_fts_words(long_words)),
            Case.code != code,
            *in_place,
        )
        .with_only_columns(Case.id)
    )
    capped = union_all(by_code, by_text).limit(cap + 1).subquery()
    return int(session.scalar(select(func.count()).select_from(capped)) or 0)


def _count(session: Session, stmt: Select[Any], cap: int) -> int:
    """How many rows ``stmt`` finds, counting no further than ``cap`` + 1."""
    capped = stmt.order_by(None).with_only_columns(Case.id).limit(cap + 1).subquery()
    return int(session.scalar(select(func.count()).select_from(capped)) or 0)


@dataclass(frozen=True)
class CaseLine:
    """One line of the case list: the case, its clock as read now, and its names."""

    case: Case
    deadline: DeadlineView
    category_name: str
    category_name_en: str


def case_lines(
    session: Session, cases: Sequence[Case], policy: Policy, now: datetime
) -> list[CaseLine]:
    """The cases as list lines: category names (one query) and time left."""
    codes = {c.category_code for c in cases}
    names: dict[str, tuple[str, str]] = {}
    if codes:
        names = {
            code: (name, name_en or name)
            for code, name, name_en in session.execute(
                select(Category.code, Category.name, Category.name_en).where(
                    Category.code.in_(codes)
                )
            )
        }
    return [
        CaseLine(
            case=c,
            deadline=deadline_view(c, policy, now),
            category_name=names.get(c.category_code, (c.category_code, ""))[0],
            category_name_en=names.get(c.category_code, ("", c.category_code))[1],
        )
        for c in cases
    ]
