"""Finding a subclass by everyday words: 摆摊, 井盖丢了, 路灯不亮, 违章停车, or ``ld``.

Pure: the words come from the taxonomy (names, keywords, synonyms, filing conditions);
pinyin (full and initials) is computed once, when the matcher is built. A query is
scored against each subclass and the subclasses are returned best first:

- the code, or the whole name, typed;
- the query inside a name, or a name inside the query ("路灯不亮" holds 路灯);
- a keyword or synonym typed whole, inside the query ("流动摊贩" holds 摊贩), or the
  query inside one — longer words count more, and each further word found adds a little;
- pinyin: the initials of a name or word (``ld`` 路灯, ``bt`` 摆摊) or its full spelling
  (``ludeng``);
- English names; then the names of the filing conditions and of the major class.

Nothing found is an empty list: the form then offers the tree ("choose from the tree").
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from pypinyin import Style, lazy_pinyin

_ASCII_LETTERS = re.compile(r"[a-z]+")
_CODE = re.compile(r"[a-z]?\d{2,}")

# Scores of the ways a subclass matches (higher is better).
_CODE_MATCH: Final = 1000
_WHOLE_NAME: Final = 900
_IN_NAME: Final = 700
_NAME_IN_QUERY: Final = 600
_WHOLE_WORD: Final = 500
_INITIALS: Final = 450
_ENGLISH: Final = 400
_IN_WORD: Final = 300
_SPELLED: Final = 300
_WORD_IN_QUERY: Final = 200
_CONDITION: Final = 150
_MAJOR: Final = 100
_EACH_FURTHER_WORD: Final = 30


def fold(text: str) -> str:
    """Normalised for matching: full-width to half-width (NFKC), case-folded, no spaces."""
    return "".join(unicodedata.normalize("NFKC", text or "").casefold().split())


def _pinyin(text: str) -> tuple[str, str]:
    """(full spelling, initials) of the Chinese in ``text``; empty when there is none."""
    if not any("\u4e00" <= ch <= "\u9fff" for ch in text):
        return "", ""
    syllables = [s for s in lazy_pinyin(text, errors="ignore") if s.isalpha()]
    initials = [s for s in lazy_pinyin(text, style=Style.FIRST_LETTER, errors="ignore")]
    return "".join(syllables).lower(), "".join(i for i in initials if i.isalpha()).lower()


@dataclass(frozen=True)
class Subclass:
    """What a subclass can be found by (as written in the taxonomy)."""

    code: str
    name: str
    name_en: str = ""
    words: tuple[str, ...] = ()  # keywords and synonyms
    conditions: tuple[str, ...] = ()  # names of its filing conditions
    major: str = ""  # name of its major class


@dataclass(frozen=True)
class _Entry:
    subclass: Subclass
    code: str
    name: str
    name_en: str
    words: tuple[str, ...]
    conditions: tuple[str, ...]
    major: str
    spelled: tuple[str, ...]  # full pinyin of the name and each word
    initials: tuple[str, ...]  # pinyin initials of the name and each word
    name_pinyin: tuple[str, str]  # the name's full pinyin and initials


def _entry(sub: Subclass) -> _Entry:
    words = tuple(dict.fromkeys(w for w in (fold(w) for w in sub.words) if w))
    pinyins = [_pinyin(t) for t in (fold(sub.name), *words)]
    return _Entry(
        subclass=sub,
        code=fold(sub.code),
        name=fold(sub.name),
        name_en=fold(sub.name_en),
        words=words,
        conditions=tuple(fold(c) for c in sub.conditions),
        major=fold(sub.major),
        spelled=tuple(p for p, _ in pinyins if p),
        initials=tuple(i for _, i in pinyins if i),
        name_pinyin=pinyins[0],
    )


def _score(q: str, e: _Entry) -> int:
    if _CODE.fullmatch(q) and (e.code.startswith(q) or e.code[1:].startswith(q)):
        return _CODE_MATCH
    if q == e.name:
        return _WHOLE_NAME
    best = 0
    if q in e.name:
        best = _IN_NAME + len(q)
    elif len(e.name) >= 2 and e.name in q:
        best = _NAME_IN_QUERY + len(e.name)
    found = 0
    for word in e.words:
        if q == word:
            score = _WHOLE_WORD + len(word)
        elif word in q:
            score = _WORD_IN_QUERY + 10 * len(word)
        elif q in word:
            score = _IN_WORD + len(q)
        else:
            continue
        found += 1
        best = max(best, score)
    if found > 1:
        best += _EACH_FURTHER_WORD * (found - 1)
    if _ASCII_LETTERS.fullmatch(q):
        if len(q) >= 2 and q in e.name_pinyin:
            best = max(best, _INITIALS + 20 + len(q))  # the name itself, spelled
        elif len(q) >= 2 and q in e.initials:
            best = max(best, _INITIALS + len(q))
        elif len(q) >= 2 and any(i.startswith(q) for i in e.initials):
            best = max(best, _INITIALS - 50 + len(q))
        if len(q) >= 3 and any(s.startswith(q) for s in e.spelled):
            best = max(best, _SPELLED + len(q))
        if len(q) >= 3 and q in e.name_en:
            best = max(best, _ENGLISH + len(q))
    if best:
        return best
    if any(q in c for c in e.conditions):
        return _CONDITION + len(q)
    if e.major and q in e.major:
        return _MAJOR + len(q)
    return 0


class Matcher:
    """The subclasses of a taxonomy, ready to be searched by everyday words."""

    def __init__(self, subclasses: Iterable[Subclass]) -> None:
        self._entries = tuple(_entry(s) for s in subclasses)

    def search(self, query: str, limit: int = 30) -> list[Subclass]:
        """Subclasses matching ``query``, best first (file order among equals)."""
        q = fold(query)
        if not q:
            return []
        scored = [(s, i) for i, e in enumerate(self._entries) if (s := _score(q, e))]
        scored.sort(key=lambda pair: (-pair[0], pair[1]))
        return [self._entries[i].subclass for _s, i in scored[:limit]]
