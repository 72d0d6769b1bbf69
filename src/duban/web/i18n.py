"""Chinese first, English switchable.

Texts are written in English in the code and the templates (``_("Sign in")``) and looked
up here for Chinese; a test checks that every text used has its Chinese. Labels of
statuses, actions, roles and sources come from :mod:`duban.cases.workflow`, the one
mapping of those. ``{name}`` placeholders are filled after translation.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from duban.web.messages_zh import ZH


def translate(text: str, lang: str, **values: Any) -> str:
    """``text`` in ``lang`` (``zh`` or ``en``), with ``values`` filled in."""
    out = text if lang == "en" else ZH.get(text, text)
    return out.format(**values) if values else out


# Messages of the services people meet most, in Chinese (others are shown as they are).
_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"needs a 'reason'"), "Please give a reason."),
    (
        re.compile(r"is not a readable image|unsupported image format"),
        "This file is not a photo that can be read: send a JPEG, PNG or WebP picture.",
    ),
    (re.compile(r"the uploaded file is empty"), "The file is empty."),
    (
        re.compile(r"the photo is \d+ bytes; the limit"),
        "The photo is too large: send a smaller one.",
    ),
    (
        re.compile(r"pixels; the limit|bytes to decode"),
        "The photo has too many pixels: send a smaller one.",
    ),
    (
        re.compile(r"does not exist or is not visible to you"),
        "This case does not exist, or it is not yours to see.",
    ),
    (re.compile(r"^no report has this tracking code"), "No report has this tracking code."),
    (
        re.compile(r"is not a phone number"),
        "Please give a mobile number (11 digits) or a landline with its area code, "
        "e.g. 0371-61234567.",
    ),
    (
        re.compile(r"give a 'reason' for the override"),
        "This is not the suggested unit: please give the reason for choosing it.",
    ),
    (re.compile(r"at least one photo is required"), "Please add at least one photo."),
    (re.compile(r"dispatch needs the lead 'unit'"), "Please choose the lead unit."),
    (
        re.compile(r"responsibility list gives this matter to"),
        "The responsibility list gives this matter to a body outside city management: hand it "
        "over, or give the reason for dispatching it to a unit of ours.",
    ),
    (re.compile(r"is not an active body outside"), "Please choose a body outside city management."),
    (re.compile(r"check needs 'passed'"), "Please choose pass or fail."),
    (re.compile(r"'description' is required"), "Please describe the problem."),
    (re.compile(r"merge needs 'duplicate_of'"), "Please give the case it duplicates."),
    (re.compile(r"unknown category"), "Please choose a category from the list."),
    (re.compile(r"is a major class"), "Please choose a subclass, not a major class."),
    (re.compile(r"is out of range"), "The location is out of range."),
    (re.compile(r"'note' is required"), "Please write a note."),
    (re.compile(r"give the new deadline"), "Please give the new deadline."),
    (re.compile(r"is not later than the current one"), "The new deadline must be later."),
    (re.compile(r"rate needs a 'rating'"), "Please choose a rating."),
    (re.compile(r"no collector's beat covers"), "No collector covers this place; choose one."),
    (re.compile(r"callback needs a 'rating'"), "Please choose a rating."),
    (
        re.compile(r"is the 12345 ticket number of a hotline case"),
        "Only hotline cases have a 12345 ticket number.",
    ),
    (re.compile(r"unknown territory"), "Please choose a district or street from the list."),
    (re.compile(r"at least one after photo"), "Please add at least one after photo."),
    (
        re.compile(r"fails the photo checks"),
        "Photo checks failed; this category does not accept the fix. "
        "Take a new photo at the place.",
    ),
    (
        re.compile(r"may not fix a problem on the spot"),
        "Only collectors, supervisors and leaders fix problems on the spot.",
    ),
    (
        re.compile(r"only that platform's dispatchers may|only the city's dispatchers send"),
        "This case is not at your level of dispatch.",
    ),
    (
        re.compile(r"a platform's dispatchers act only on the cases sent down"),
        "This case is not at your level of dispatch.",
    ),
    (
        re.compile(r"is not a unit of the platform"),
        "Please choose one of this platform's own units.",
    ),
    (
        re.compile(r"is a unit of the platform .*dispatch_to_platform"),
        "This unit belongs to a platform: send the case down to that platform.",
    ),
    (re.compile(r"runs no platform of its own"), "Please choose a platform from the list."),
    (
        re.compile(r"lies outside .*send it to the platform of its district"),
        "The case lies outside this platform's territory.",
    ),
    (
        re.compile(r"this city runs one level of dispatch"),
        "This city runs one level of dispatch: dispatch the case to a unit.",
    ),
    (
        re.compile(r"holds a control character"),
        "Please remove the control characters (such as NUL) from the text.",
    ),
]


@functools.cache
def _templates() -> tuple[tuple[re.Pattern[str], str], ...]:
    """Each catalogue entry with ``{name}`` placeholders as a pattern of its English, the
    one with the most fixed text first."""
    out = []
    # The most specific first: "no ledger entry {id}" before "no ledger {id}".
    for key, zh in sorted(ZH.items(), key=lambda kv: -len(re.sub(r"\{\w+\}", "", kv[0]))):
        parts = re.split(r"\{(\w+)\}", key)
        if len(parts) < 3 or not any(parts[::2]):
            continue  # no placeholder, or nothing but placeholders
        body = "".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>.+?)" for i, p in enumerate(parts))
        try:
            out.append((re.compile(f"^{body}$", re.DOTALL), zh))
        except re.error:  # the same placeholder twice
            continue
    return tuple(out)


def localize(message: str, lang: str, *, _nested: bool = False) -> str:
    """A service message in ``lang``: its catalogue entry when the message is one (one with
    ``{name}`` placeholders matched, its values filled in — a value that is itself a
    message in its turn), else the plain wording of the common ones (:data:`_PATTERNS`),
    else the message as it is."""
    if lang != "en" and message in ZH:
        return ZH[message]
    if lang != "en":
        for pattern, zh in _templates():
            found = pattern.match(message)
            if found:
                values = found.groupdict()
                if not _nested:
                    values = {k: localize(v, lang, _nested=True) for k, v in values.items()}
                try:
                    return zh.format(**values)
                except (KeyError, IndexError, ValueError):
                    break
        if _nested:
            return message
    for pattern, text in _PATTERNS:
        if pattern.search(message):
            return translate(text, lang)
    return message
