"""Phone numbers a reporter leaves: a mainland mobile, a landline with its area code, or
an international number — checked and written one way, so staff can call them back.

Pure. Spaces, hyphens, dots and brackets are ignored when reading.
"""

from __future__ import annotations

import re
from typing import Final

from duban.kernel.errors import InvalidInput, Msg

#: 中国大陆手机号: 11 digits, 1 then 3-9 (an optional +86 / 0086 in front).
MOBILE: Final = re.compile(r"(?:\+?86|0086)?(1[3-9]\d{9})")
#: 固定电话: area code 0 + 2-3 digits (010, 02x: 3 digits in all; others 4), then a
#: 7-8 digit number not starting with 0 or 1; an extension after it is allowed.
LANDLINE: Final = re.compile(r"(0(?:10|2\d|[3-9]\d{2}))([2-9]\d{6,7})(?:(?:ext|转|#|-)(\d{1,6}))?")
#: Another country's number: + and 8-15 digits (E.164).
INTERNATIONAL: Final = re.compile(r"\+(?!86)[1-9]\d{7,14}")
_SEPARATORS: Final = re.compile(r"[\s\-.()（）]")


def normalize_phone(text: str | None, *, field: str = "reporter_phone") -> str | None:
    """The number as stored (``13800001111``, ``0371-61234567``, ``+447700900000``);
    None when blank. Raises :class:`InvalidInput` naming ``field`` for anything else."""
    raw = (text or "").strip()
    if not raw:
        return None
    compact = _SEPARATORS.sub("", raw).replace("＋", "+")
    if m := MOBILE.fullmatch(compact):
        return m.group(1)
    if m := LANDLINE.fullmatch(compact):
        area, number, ext = m.groups()
        return f"{area}-{number}" + (f"-{ext}" if ext else "")
    if INTERNATIONAL.fullmatch(compact):
        return compact
    raise InvalidInput(
        Msg(
            "'{field}' is not a phone number: give a mainland mobile (11 digits, "
            "e.g. 13800001111) or a landline with its area code (e.g. "
            "0371-61234567)",
            field=field,
        ),
        field=field,
        code="invalid_phone",
    )
