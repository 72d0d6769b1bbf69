"""The 部件/事件 taxonomy (管理部件和事件分类) with its filing conditions (立案条件) as data.

A taxonomy has *kinds* (部件 component, 事件 event), *major classes* (大类) per kind,
*subclasses* (小类) under each major class, and under each subclass one or more *filing
conditions* (立案条件). A condition is what a shift lead files a case under: it carries the
time limit (处置时限) and the rule for closing (结案条件), so limits are set per condition,
finer than a subclass (standards.md §2.4).

Codes are the standard's two-digit major and four-digit subclass codes made unique across
kinds by the kind's prefix: 部件 0102 污水井盖 is ``C0102`` and 事件 0102 暴露垃圾 is
``E0102``. A condition's full code is its subclass's full code plus its own code
(``E010201``). All full codes share one namespace.

The national codes are not frozen by us (the standard texts are not public and local
systems deviate), so the whole taxonomy is data: a city replaces the shipped file
(``duban/data/taxonomy.yaml``) and :func:`load_taxonomy` tells it every problem at once.

Pure: the loader takes an already parsed mapping; reading files happens elsewhere.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import IntEnum
from functools import cached_property
from types import MappingProxyType
from typing import Any, Final

from duban.kernel.errors import InvalidInput, Listing, Msg, PolicyError, cause
from duban.reference.calendar import TimeLimit
from duban.reference.wording import Matcher, Subclass

__all__ = [
    "EVIDENCE_LABELS",
    "SUPPORTED_VERSIONS",
    "Category",
    "CategoryLevel",
    "FilingCondition",
    "Kind",
    "Taxonomy",
    "TaxonomyError",
    "UnknownTaxonomyCode",
    "load_taxonomy",
]

#: Versions of the taxonomy format this loader reads.
SUPPORTED_VERSIONS: Final = frozenset({1})
#: Evidence labels of the research notes: verified, corroborated, implementation, unverified.
EVIDENCE_LABELS: Final = ("V", "C", "I", "U")


class TaxonomyError(PolicyError, ValueError):
    """The taxonomy data is unusable, or a code asked for does not exist in it.

    ``problem_texts`` lists every problem found (a catalogue message each, naming where it
    is), so that whoever edits the file can fix them all in one go; ``problems`` is their
    English (for logs), ``detail["problems"]`` the messages, which each face renders in its
    reader's language.
    """

    code = "invalid_taxonomy"

    def __init__(
        self, message: str | Msg, *, problems: Sequence[Msg] = (), field: str | None = "taxonomy"
    ) -> None:
        super().__init__(message, field=field, problems=list(problems))
        self.problem_texts: tuple[Msg, ...] = tuple(problems)

    @property
    def problems(self) -> tuple[str, ...]:
        """The problems' English (for logs and programs), read from the messages."""
        return tuple(str(problem) for problem in self.problem_texts)


class UnknownTaxonomyCode(TaxonomyError):
    """A category or filing-condition code that the taxonomy does not have."""

    code = "unknown_taxonomy_code"

    def __init__(self, message: str | Msg, *, requested: str, field: str) -> None:
        super().__init__(message, field=field)
        self.requested = requested


class CategoryLevel(IntEnum):
    """Depth of a category: a major class (大类) or a subclass (小类)."""

    MAJOR = 1
    SUBCLASS = 2


@dataclass(frozen=True)
class Kind:
    """部件 or 事件 (or a kind a city adds); ``code_prefix`` makes codes unique across kinds."""

    key: str
    name: str
    name_en: str
    code_prefix: str


@dataclass(frozen=True)
class FilingCondition:
    """A filing condition (立案条件) of a subclass, with its own time limit and close rule."""

    code: str  # full code, e.g. "E010201"
    name: str
    limit: TimeLimit
    close_rule: str  # 结案条件
    urgent: bool
    subclass_code: str  # full code of the subclass, e.g. "E0102"
    local_code: str = ""  # the code as written under its subclass, e.g. "01"
    evidence: str | None = None  # V/C/I/U as in standards.md; None = a Duban proposal
    note: str = ""
    name_en: str = ""  # the English face shows it, or the Chinese name when it is empty

    def display_name(self, lang: str) -> str:
        """The name in ``lang`` ("en" or "zh"): the Chinese one where no English is given."""
        return (self.name_en or self.name) if lang == "en" else self.name


@dataclass(frozen=True)
class Category:
    """A major class (大类) or a subclass (小类) of a kind."""

    code: str  # full code, e.g. "E01" or "E0102"
    kind: str  # key of its Kind, e.g. "event"
    level: CategoryLevel
    name: str
    name_en: str
    parent_code: str | None  # full code of the major class; None for a major class
    keywords: tuple[str, ...]
    conditions: tuple[FilingCondition, ...]  # empty for a major class
    local_code: str = ""  # the code as in the standard, e.g. "0102"
    evidence: str | None = None
    note: str = ""
    #: Everyday words citizens type for it (摆摊 for 无照经营游商); searched like keywords.
    synonyms: tuple[str, ...] = ()

    @property
    def is_major(self) -> bool:
        return self.level is CategoryLevel.MAJOR

    @property
    def is_subclass(self) -> bool:
        return self.level is CategoryLevel.SUBCLASS

    @property
    def label(self) -> str:
        """Code and name for people, e.g. ``E0102 暴露垃圾``."""
        return f"{self.code} {self.name}"


def _fold(text: str) -> str:
    """Normalise for search: full-width to half-width (NFKC) and case-folded."""
    return unicodedata.normalize("NFKC", text).casefold()


# Search ranks per matching field: lower is better.
_RANK_EXACT: Final = 0  # code prefix or whole name
_RANK_NAME: Final = 1
_RANK_NAME_EN: Final = 2
_RANK_KEYWORD: Final = 3
_RANK_CONDITION: Final = 4


@dataclass(frozen=True, eq=False)
class Taxonomy:
    """A loaded, validated taxonomy. Build it with :func:`load_taxonomy`.

    Mappings keep file order (major class, then its subclasses), and are read-only.
    Two taxonomies are equal when their content is (see :meth:`fingerprint`).
    """

    version: int
    name: str
    name_en: str
    kinds: Mapping[str, Kind]
    categories: Mapping[str, Category]
    conditions: Mapping[str, FilingCondition]

    # -- lookups ------------------------------------------------------------------------

    def roots(self, kind: str | None = None) -> tuple[Category, ...]:
        """The major classes, in file order; only those of ``kind`` if given."""
        return tuple(
            category
            for category in self.categories.values()
            if category.is_major and (kind is None or category.kind == kind)
        )

    def subclasses(self, kind: str | None = None) -> tuple[Category, ...]:
        """All subclasses, in file order; only those of ``kind`` if given."""
        return tuple(
            category
            for category in self.categories.values()
            if category.is_subclass and (kind is None or category.kind == kind)
        )

    def children(self, code: str) -> tuple[Category, ...]:
        """The subclasses of major class ``code`` (empty for a subclass).

        Raises:
            UnknownTaxonomyCode: no category has this code.
        """
        category = self.require_category(code)
        return self._children.get(category.code, ())

    def find_category(self, code: str) -> Category | None:
        """The category with full code ``code`` (e.g. ``"E0102"``), or None."""
        return self.categories.get(code.strip()) if isinstance(code, str) else None

    def require_category(self, code: str) -> Category:
        """The category with full code ``code``.

        Raises:
            UnknownTaxonomyCode: with close matches in the message when there are some.
        """
        category = self.find_category(code)
        if category is None:
            raise UnknownTaxonomyCode(
                Msg(
                    "unknown category code {code!r}{value}",
                    code=code,
                    value=self._hint(code, self.categories),
                ),
                requested=str(code),
                field="category_code",
            )
        return category

    def find_condition(self, code: str) -> FilingCondition | None:
        """The filing condition with full code ``code`` (e.g. ``"E010201"``), or None."""
        return self.conditions.get(code.strip()) if isinstance(code, str) else None

    def require_condition(self, code: str) -> FilingCondition:
        """The filing condition with full code ``code``.

        Raises:
            UnknownTaxonomyCode: with close matches in the message when there are some.
        """
        condition = self.find_condition(code)
        if condition is None:
            raise UnknownTaxonomyCode(
                Msg(
                    "unknown filing-condition code {code!r}{value}",
                    code=code,
                    value=self._hint(code, self.conditions),
                ),
                requested=str(code),
                field="condition_code",
            )
        return condition

    def default_condition(self, category_code: str) -> FilingCondition:
        """The first filing condition of subclass ``category_code``: the usual one.

        Raises:
            UnknownTaxonomyCode: no category has this code.
            TaxonomyError: the code is a major class, which has no conditions of its own.
        """
        category = self.require_category(category_code)
        if not category.conditions:
            subclasses = ", ".join(child.label for child in self._children.get(category.code, ()))
            raise TaxonomyError(
                Msg(
                    "{label} is a major class; cases are filed under one of its subclasses "
                    "({subclasses})",
                    label=category.label,
                    subclasses=subclasses,
                ),
                field="category_code",
            )
        return category.conditions[0]

    def resolve_subclass(
        self, code: str, condition_code: str | None = None
    ) -> tuple[Category, FilingCondition | None]:
        """The subclass a case is reported or filed under, and its filing condition if one
        is named: what every face checks a report's codes with.

        Raises:
            InvalidInput: naming the field — an unknown code, a major class instead of a
                subclass, or a condition of another subclass.
        """
        category = self.find_category(code)
        if category is None:
            raise InvalidInput(
                Msg("unknown category '{code}'; see GET /api/v1/categories", code=code),
                field="category_code",
            )
        if not category.is_subclass:
            raise InvalidInput(
                Msg(
                    "category '{code}' ({category_name}) is a major class; choose one of "
                    "its subclasses",
                    code=code,
                    category_name=category.name,
                ),
                field="category_code",
            )
        if condition_code is None:
            return category, None
        condition = self.find_condition(condition_code)
        if condition is None:
            raise InvalidInput(
                Msg("unknown filing condition '{condition_code}'", condition_code=condition_code),
                field="condition_code",
            )
        if condition.subclass_code != category.code:
            raise InvalidInput(
                Msg(
                    "filing condition '{condition_code}' belongs to category "
                    "'{subclass_code}', not '{code}'",
                    condition_code=condition_code,
                    subclass_code=condition.subclass_code,
                    code=code,
                ),
                field="condition_code",
            )
        return category, condition

    def major_of(self, code: str) -> Category:
        """The major class of a category or filing condition (a major class is its own).

        Raises:
            UnknownTaxonomyCode: neither a category nor a condition has this code.
        """
        condition = self.find_condition(code)
        category = (
            self.require_category(condition.subclass_code)
            if condition is not None
            else self.require_category(code)
        )
        if category.parent_code is None:
            return category
        return self.require_category(category.parent_code)

    # -- search -------------------------------------------------------------------------

    def search(
        self, text: str, *, kind: str | None = None, limit: int | None = None
    ) -> tuple[Category, ...]:
        """Categories whose code, names, English names, keywords or condition names match.

        Case-insensitive substring match (full-width characters count as half-width).
        Several words separated by spaces must all match; the best matches come first
        (code prefix or whole name, then name, English name, keyword, condition name),
        then file order. An empty text finds nothing.
        """
        terms = [term for term in _fold(text).split() if term]
        if not terms:
            return ()
        scored: list[tuple[int, int, Category]] = []
        for position, (category, entry) in enumerate(self._search_index):
            if kind is not None and category.kind != kind:
                continue
            total = 0
            for term in terms:
                rank = _rank(term, entry)
                if rank is None:
                    break
                total += rank
            else:
                scored.append((total, position, category))
        scored.sort(key=lambda item: (item[0], item[1]))
        found = tuple(category for _, _, category in scored)
        return found if limit is None else found[: max(limit, 0)]

    # -- identity -----------------------------------------------------------------------

    def to_mapping(self) -> dict[str, Any]:
        """The content in the file format that :func:`load_taxonomy` reads back.

        Comments and ``x_`` extension keys of the original file are not kept.
        """
        classes: list[dict[str, Any]] = []
        for major in self.roots():
            entry = {"kind": major.kind, **_category_mapping(major)}
            entry["children"] = [
                {
                    **_category_mapping(child),
                    "conditions": [_condition_mapping(cond) for cond in child.conditions],
                }
                for child in self._children.get(major.code, ())
            ]
            classes.append(entry)
        data: dict[str, Any] = {"version": self.version, "name": self.name}
        if self.name_en:
            data["name_en"] = self.name_en
        data["kinds"] = {
            key: {"name": kind.name, "name_en": kind.name_en, "code_prefix": kind.code_prefix}
            for key, kind in self.kinds.items()
        }
        data["classes"] = classes
        return data

    def fingerprint(self) -> str:
        """A stable sha256 (hex) of the content, independent of formatting and comments.

        Used as the id of a taxonomy changeset: the same content always gives the same
        fingerprint; any change of a code, name, keyword, limit, rule or order changes it.
        """
        return self._fingerprint

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Taxonomy):
            return NotImplemented
        return self._fingerprint == other._fingerprint

    def __hash__(self) -> int:
        return hash(self._fingerprint)

    # -- internals ----------------------------------------------------------------------

    @cached_property
    def _fingerprint(self) -> str:
        canonical = json.dumps(
            self.to_mapping(), sort_keys=True, ensure_ascii=False, separators=(",", ":")
        )
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    @cached_property
    def _children(self) -> Mapping[str, tuple[Category, ...]]:
        grouped: dict[str, list[Category]] = {}
        for category in self.categories.values():
            if category.parent_code is not None:
                grouped.setdefault(category.parent_code, []).append(category)
        return MappingProxyType({code: tuple(items) for code, items in grouped.items()})

    @cached_property
    def matcher(self) -> Matcher:
        """The subclasses ready to be found by everyday words and pinyin
        (:mod:`duban.reference.wording`); built once per taxonomy."""
        return Matcher(
            Subclass(
                code=c.code,
                name=c.name,
                name_en=c.name_en,
                words=(*c.keywords, *c.synonyms),
                conditions=tuple(cond.name for cond in c.conditions),
                major=getattr(self.categories.get(c.parent_code or ""), "name", ""),
            )
            for c in self.categories.values()
            if c.is_subclass
        )

    @cached_property
    def _search_index(self) -> tuple[tuple[Category, _SearchEntry], ...]:
        return tuple((category, _SearchEntry.of(category)) for category in self.categories.values())

    def _hint(self, code: object, known: Mapping[str, object]) -> str:
        """Suggest codes: the same code under another kind's prefix first, then look-alikes."""
        if not isinstance(code, str) or not code.strip():
            return ""
        wanted = code.strip()
        local = wanted
        for kind in self.kinds.values():
            if wanted.upper().startswith(kind.code_prefix.upper()):
                local = wanted[len(kind.code_prefix) :]
                break
        suggestions = [
            candidate
            for kind in self.kinds.values()
            if (candidate := f"{kind.code_prefix}{local}") in known and candidate != wanted
        ]
        for candidate in difflib.get_close_matches(wanted, list(known), n=3, cutoff=0.7):
            if candidate not in suggestions:
                suggestions.append(candidate)
        return f"; did you mean {', '.join(suggestions[:3])}?" if suggestions else ""


@dataclass(frozen=True)
class _SearchEntry:
    code: str
    local_code: str
    name: str
    name_en: str
    keywords: tuple[str, ...]
    condition_names: tuple[str, ...]

    @classmethod
    def of(cls, category: Category) -> _SearchEntry:
        return cls(
            code=_fold(category.code),
            local_code=_fold(category.local_code),
            name=_fold(category.name),
            name_en=_fold(category.name_en),
            keywords=tuple(_fold(word) for word in (*category.keywords, *category.synonyms)),
            condition_names=tuple(_fold(cond.name) for cond in category.conditions),
        )


def _rank(term: str, entry: _SearchEntry) -> int | None:
    if entry.code.startswith(term) or term == entry.local_code:
        return _RANK_EXACT
    if term in (entry.name, entry.name_en):
        return _RANK_EXACT
    if term in entry.name:
        return _RANK_NAME
    if term in entry.name_en:
        return _RANK_NAME_EN
    if any(term in keyword for keyword in entry.keywords):
        return _RANK_KEYWORD
    if any(term in name for name in entry.condition_names):
        return _RANK_CONDITION
    return None


def _category_mapping(category: Category) -> dict[str, Any]:
    data: dict[str, Any] = {"code": category.local_code, "name": category.name}
    if category.name_en:
        data["name_en"] = category.name_en
    if category.evidence is not None:
        data["evidence"] = category.evidence
    if category.note:
        data["note"] = category.note
    data["keywords"] = list(category.keywords)
    if category.synonyms:
        data["synonyms"] = list(category.synonyms)
    return data


def _condition_mapping(condition: FilingCondition) -> dict[str, Any]:
    data: dict[str, Any] = {
        "code": condition.local_code,
        "name": condition.name,
        **({"name_en": condition.name_en} if condition.name_en else {}),
        "limit": condition.limit.to_mapping(),
        "close_rule": condition.close_rule,
        "urgent": condition.urgent,
    }
    if condition.evidence is not None:
        data["evidence"] = condition.evidence
    if condition.note:
        data["note"] = condition.note
    return data


# -- loading ----------------------------------------------------------------------------

_CODE: Final = re.compile(r"[0-9A-Za-z]+")
_KIND_KEY: Final = re.compile(r"[a-z][a-z0-9_]*")
_TOP_KEYS: Final = ("version", "name", "name_en", "description", "kinds", "classes")
_KIND_KEYS: Final = ("name", "name_en", "code_prefix")
_CLASS_KEYS: Final = (
    "kind",
    "code",
    "name",
    "name_en",
    "keywords",
    "evidence",
    "note",
    "children",
)
_SUBCLASS_KEYS: Final = (
    "code",
    "name",
    "name_en",
    "keywords",
    "synonyms",
    "evidence",
    "note",
    "conditions",
)
_CONDITION_KEYS: Final = (
    "code",
    "name",
    "name_en",
    "limit",
    "close_rule",
    "urgent",
    "evidence",
    "note",
)
_EXAMPLE_LIMIT: Final = "{amount: 4, unit: work_hours}"
_EXAMPLE_KIND: Final = "component: {name: 部件, code_prefix: C}"


class _Checker:
    """Collects problems while reading, so that one run reports all of them."""

    def __init__(self) -> None:
        self.problems: list[Msg] = []
        self.seen_codes: dict[str, str] = {}

    def add(self, where: str, problem: Msg) -> None:
        """Note ``problem`` (a catalogue message) at ``where``, a place in the file."""
        self.problems.append(
            Msg("{where}: {problem}", where=where, problem=problem) if where else problem
        )

    def mapping(self, value: object, where: str, what: Msg) -> Mapping[str, Any] | None:
        if isinstance(value, Mapping):
            return value
        self.add(
            where,
            Msg("{what} must be a mapping of fields, got {value}", what=what, value=_show(value)),
        )
        return None

    def keys(self, data: Mapping[str, Any], allowed: Sequence[str], where: str) -> None:
        for key in data:
            if isinstance(key, str) and key.startswith("x_"):
                continue  # extension fields of a city or tool: ignored
            if key not in allowed:
                close = difflib.get_close_matches(str(key), allowed, n=1)
                known = ", ".join(allowed)
                self.add(
                    where,
                    Msg(
                        "unknown field {field} (did you mean '{close}'?); known fields are "
                        "{known} (prefix your own fields with 'x_')",
                        field=_show(key),
                        close=close[0],
                        known=known,
                    )
                    if close
                    else Msg(
                        "unknown field {field}; known fields are {known} "
                        "(prefix your own fields with 'x_')",
                        field=_show(key),
                        known=known,
                    ),
                )

    def text(self, data: Mapping[str, Any], key: str, where: str, *, required: bool = True) -> str:
        if key not in data or data[key] is None:
            if required:
                self.add(where, Msg("'{key}' is missing", key=key))
            return ""
        value = data[key]
        if not isinstance(value, str):
            self.add(where, Msg("'{key}' must be text, got {value}", key=key, value=_show(value)))
            return ""
        if not value.strip():
            self.add(where, Msg("'{key}' is empty", key=key))
            return ""
        return value.strip()

    def code(self, data: Mapping[str, Any], where: str) -> str:
        if "code" not in data or data["code"] is None:
            self.add(where, Msg("'{key}' is missing", key="code"))
            return ""
        value = data["code"]
        if isinstance(value, int) and not isinstance(value, bool):
            self.add(
                where,
                Msg(
                    "'code' must be a quoted string such as \"01\", got the number {value}: "
                    "YAML reads an unquoted code as a number (dropping leading zeros, or as octal)",
                    value=value,
                ),
            )
            return ""
        if not isinstance(value, str) or not _CODE.fullmatch(value.strip()):
            self.add(
                where,
                Msg(
                    "'code' must be letters and digits such as \"0102\", got {value}",
                    value=_show(value),
                ),
            )
            return ""
        return value.strip()

    def keywords(
        self, data: Mapping[str, Any], where: str, key: str = "keywords"
    ) -> tuple[str, ...]:
        value = data.get(key)
        if value is None:
            return ()
        if isinstance(value, str) or not isinstance(value, Sequence):
            self.add(
                where,
                Msg("'{key}' must be a list of words, got {value}", key=key, value=_show(value)),
            )
            return ()
        words: list[str] = []
        for index, word in enumerate(value):
            if not isinstance(word, str) or not word.strip():
                self.add(
                    where,
                    Msg(
                        "{key}[{index}] must be non-empty text, got {value}",
                        key=key,
                        index=index,
                        value=_show(word),
                    ),
                )
            elif word.strip() not in words:
                words.append(word.strip())
        return tuple(words)

    def evidence(self, data: Mapping[str, Any], where: str) -> str | None:
        value = data.get("evidence")
        if value is None:
            return None
        if value not in EVIDENCE_LABELS:
            self.add(
                where,
                Msg(
                    "'evidence' must be one of {choices}, got {value}",
                    choices=", ".join(EVIDENCE_LABELS),
                    value=_show(value),
                ),
            )
            return None
        return str(value)

    def items(self, data: Mapping[str, Any], key: str, where: str) -> list[Any]:
        value = data.get(key)
        if value is None:
            self.add(where, Msg("'{key}' is missing; it must list at least one entry", key=key))
            return []
        if isinstance(value, str) or not isinstance(value, Sequence):
            self.add(where, Msg("'{key}' must be a list, got {value}", key=key, value=_show(value)))
            return []
        if not value:
            self.add(where, Msg("'{key}' is empty; it must list at least one entry", key=key))
        return list(value)

    def unique(self, full_code: str, where: str) -> None:
        first = self.seen_codes.get(full_code)
        if first is not None:
            self.add(
                where,
                Msg("duplicate code {code}: already used by {first}", code=full_code, first=first),
            )
        else:
            self.seen_codes[full_code] = where


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:57]}..."


def _label(where: str, full_code: str, name: str) -> str:
    shown = " ".join(part for part in (full_code, name) if part)
    return f"{where} ({shown})" if shown else where


def load_taxonomy(data: Mapping[str, Any]) -> Taxonomy:
    """Validate parsed taxonomy data (see ``duban/data/taxonomy.yaml``) and build it.

    Raises:
        TaxonomyError: with ``problems`` listing everything wrong (duplicate full codes,
            subclass codes not starting with their major class code, unknown kinds,
            missing or unreadable limits, empty names, unknown fields, ...), each naming
            where it is. Nothing is returned unless the data is entirely valid.
    """
    if not isinstance(data, Mapping):
        raise TaxonomyError(
            Msg(
                "a taxonomy is a mapping with 'version', 'name', 'kinds' and "
                "'classes', got {value}",
                value=_show(data),
            ),
            problems=[Msg("the document is not a mapping")],
        )
    check = _Checker()
    check.keys(data, _TOP_KEYS, "")

    version = data.get("version")
    if isinstance(version, bool) or not isinstance(version, int):
        check.add(
            "", Msg("'version' must be a whole number such as 1, got {value}", value=_show(version))
        )
        version = 0
    elif version not in SUPPORTED_VERSIONS:
        supported = ", ".join(str(item) for item in sorted(SUPPORTED_VERSIONS))
        check.add(
            "",
            Msg(
                "'version' {version} is not supported; this Duban reads {supported}",
                version=version,
                supported=supported,
            ),
        )
    name = check.text(data, "name", "")
    name_en = check.text(data, "name_en", "", required=False)
    kinds = _load_kinds(data, check)

    categories: dict[str, Category] = {}
    conditions: dict[str, FilingCondition] = {}
    for index, raw in enumerate(check.items(data, "classes", "")):
        _load_class(raw, f"classes[{index}]", kinds, check, categories, conditions)

    if check.problems:
        count = len(check.problems)
        listing = Listing(check.problems)
        raise TaxonomyError(
            Msg(
                "the taxonomy has {count} problem{value}:\n{listing}",
                count=count,
                value="s" if count != 1 else "",
                listing=listing,
            ),
            problems=check.problems,
        )
    return Taxonomy(
        version=version,
        name=name,
        name_en=name_en,
        kinds=MappingProxyType(kinds),
        categories=MappingProxyType(categories),
        conditions=MappingProxyType(conditions),
    )


def _load_kinds(data: Mapping[str, Any], check: _Checker) -> dict[str, Kind]:
    kinds: dict[str, Kind] = {}
    raw_kinds = data.get("kinds")
    if raw_kinds is None:
        check.add(
            "",
            Msg("'kinds' is missing; e.g. {example}", example=_EXAMPLE_KIND),
        )
        return kinds
    kind_map = check.mapping(raw_kinds, "kinds", Msg("the field '{key}'", key="kinds"))
    if kind_map is None:
        return kinds
    if not kind_map:
        check.add("kinds", Msg("no kinds are defined"))
    prefixes: dict[str, str] = {}
    for key, raw in kind_map.items():
        where = f"kinds.{key}"
        if not isinstance(key, str) or not _KIND_KEY.fullmatch(key):
            check.add(where, Msg("a kind key is lower-case letters, digits and '_', e.g. 'event'"))
            continue
        entry = check.mapping(raw, where, Msg("a kind"))
        if entry is None:
            continue
        check.keys(entry, _KIND_KEYS, where)
        kind_name = check.text(entry, "name", where)
        kind_name_en = check.text(entry, "name_en", where, required=False)
        prefix = check.text(entry, "code_prefix", where)
        if prefix and not _CODE.fullmatch(prefix):
            check.add(
                where,
                Msg("'code_prefix' must be letters or digits, got {value}", value=_show(prefix)),
            )
            prefix = ""
        if prefix:
            if prefix in prefixes:
                check.add(
                    where,
                    Msg(
                        "code_prefix {prefix} is already used by kind {kind}",
                        prefix=_show(prefix),
                        kind=prefixes[prefix],
                    ),
                )
            prefixes[prefix] = key
        if kind_name and prefix:
            kinds[key] = Kind(key=key, name=kind_name, name_en=kind_name_en, code_prefix=prefix)
    return kinds


def _load_class(
    raw: object,
    where: str,
    kinds: Mapping[str, Kind],
    check: _Checker,
    categories: dict[str, Category],
    conditions: dict[str, FilingCondition],
) -> None:
    entry = check.mapping(raw, where, Msg("a major class"))
    if entry is None:
        return
    code = check.code(entry, where)
    name = check.text(entry, "name", where)
    kind_key = entry.get("kind")
    kind: Kind | None = None
    if kind_key is None:
        check.add(
            where,
            Msg("'kind' is missing; use one of {kinds}", kinds=", ".join(kinds))
            if kinds
            else Msg("'{key}' is missing", key="kind"),
        )
    elif not isinstance(kind_key, str) or kind_key not in kinds:
        close = difflib.get_close_matches(str(kind_key), list(kinds), n=1)
        known = ", ".join(kinds)
        check.add(
            where,
            Msg(
                "unknown kind {value} (did you mean '{close}'?); known kinds are {known}",
                value=_show(kind_key),
                close=close[0],
                known=known,
            )
            if close
            else Msg(
                "unknown kind {value}; known kinds are {known}", value=_show(kind_key), known=known
            )
            if kinds
            else Msg("unknown kind {value}; no kinds are defined", value=_show(kind_key)),
        )
    else:
        kind = kinds[kind_key]
    full_code = f"{kind.code_prefix}{code}" if kind is not None and code else ""
    where = _label(where, full_code, name)
    check.keys(entry, _CLASS_KEYS, where)
    if "conditions" in entry:
        check.add(
            where, Msg("a major class has no filing conditions; put them under its subclasses")
        )
    name_en = check.text(entry, "name_en", where, required=False)
    keywords = check.keywords(entry, where)
    evidence = check.evidence(entry, where)
    note = check.text(entry, "note", where, required=False)
    if full_code:
        check.unique(full_code, where)

    children: list[tuple[Category, list[FilingCondition]]] = []
    for index, raw_child in enumerate(check.items(entry, "children", where)):
        child = _load_subclass(
            raw_child, f"{where} / children[{index}]", code, full_code, kind, check
        )
        if child is not None:
            children.append(child)

    if not (full_code and name and kind is not None):
        return
    categories[full_code] = Category(
        code=full_code,
        kind=kind.key,
        level=CategoryLevel.MAJOR,
        name=name,
        name_en=name_en,
        parent_code=None,
        keywords=keywords,
        conditions=(),
        local_code=code,
        evidence=evidence,
        note=note,
    )
    for category, child_conditions in children:
        categories[category.code] = category
        for condition in child_conditions:
            conditions[condition.code] = condition


def _load_subclass(
    raw: object,
    where: str,
    major_code: str,
    major_full_code: str,
    kind: Kind | None,
    check: _Checker,
) -> tuple[Category, list[FilingCondition]] | None:
    entry = check.mapping(raw, where, Msg("a subclass"))
    if entry is None:
        return None
    code = check.code(entry, where)
    name = check.text(entry, "name", where)
    if code and major_code and (not code.startswith(major_code) or code == major_code):
        check.add(
            _label(where, code, name),
            Msg(
                "subclass code {code} must start with its major class code {major} "
                "and be longer, e.g. {example}",
                code=repr(code),
                major=repr(major_code),
                example=repr(major_code + "01"),
            ),
        )
        code = ""
    full_code = f"{kind.code_prefix}{code}" if kind is not None and code else ""
    where = _label(where, full_code, name)
    check.keys(entry, _SUBCLASS_KEYS, where)
    if "children" in entry:
        check.add(where, Msg("only two levels are supported: a subclass cannot have children"))
    name_en = check.text(entry, "name_en", where, required=False)
    keywords = check.keywords(entry, where)
    synonyms = check.keywords(entry, where, "synonyms")
    evidence = check.evidence(entry, where)
    note = check.text(entry, "note", where, required=False)
    if full_code:
        check.unique(full_code, where)

    loaded: list[FilingCondition] = []
    for index, raw_condition in enumerate(check.items(entry, "conditions", where)):
        condition = _load_condition(
            raw_condition, f"{where} / conditions[{index}]", full_code, check
        )
        if condition is not None:
            loaded.append(condition)

    if not (full_code and name and major_full_code and kind is not None):
        return None
    category = Category(
        code=full_code,
        kind=kind.key,
        level=CategoryLevel.SUBCLASS,
        name=name,
        name_en=name_en,
        parent_code=major_full_code,
        keywords=keywords,
        conditions=tuple(loaded),
        local_code=code,
        evidence=evidence,
        note=note,
        synonyms=synonyms,
    )
    return category, loaded


def _load_condition(
    raw: object, where: str, subclass_full_code: str, check: _Checker
) -> FilingCondition | None:
    entry = check.mapping(raw, where, Msg("a filing condition"))
    if entry is None:
        return None
    code = check.code(entry, where)
    name = check.text(entry, "name", where)
    full_code = f"{subclass_full_code}{code}" if subclass_full_code and code else ""
    where = _label(where, full_code, name)
    check.keys(entry, _CONDITION_KEYS, where)

    limit: TimeLimit | None = None
    raw_limit = entry.get("limit")
    if raw_limit is None:
        check.add(
            where, Msg("'limit' is missing; write e.g. limit: {example}", example=_EXAMPLE_LIMIT)
        )
    else:
        try:
            limit = TimeLimit.parse(raw_limit)
        except (ValueError, TypeError) as exc:
            # TimeLimit says what is wrong as a catalogue message (cause() reads it out).
            check.add(where, Msg("limit: {problem}", problem=cause(exc)))
    close_rule = check.text(entry, "close_rule", where)
    urgent = entry.get("urgent", False)
    if not isinstance(urgent, bool):
        check.add(where, Msg("'urgent' must be true or false, got {value}", value=_show(urgent)))
        urgent = False
    evidence = check.evidence(entry, where)
    note = check.text(entry, "note", where, required=False)
    name_en = check.text(entry, "name_en", where, required=False)
    if full_code:
        check.unique(full_code, where)

    if not (full_code and name and limit is not None and close_rule):
        return None
    return FilingCondition(
        code=full_code,
        name=name,
        limit=limit,
        close_rule=close_rule,
        urgent=urgent,
        subclass_code=subclass_full_code,
        local_code=code,
        evidence=evidence,
        note=note,
        name_en=name_en,
    )


#: The taxonomy's entries under the names other capabilities import them by, through the
#: face (``duban.reference.Category`` is the table row of :mod:`duban.reference.models`).
TaxonomyCategory = Category
TaxonomyCondition = FilingCondition
