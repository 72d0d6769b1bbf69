"""Checks of what people send, shared by every face: text fields.

Text enters through JSON bodies, form fields, query parameters, imported files and
headers; whatever the face, it is refused at the edge if it holds a control character
(NUL and the rest of C0, DEL, C1) other than newline, carriage return and tab — a 422
(Open311: its 400) naming the field, never a failure deeper down (PostgreSQL refuses NUL
in text, and one such report used to take its neighbours' transactions with it).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, Final

from duban.kernel.errors import InvalidInput, Msg

MAX_DESCRIPTION_CHARS = 5000
MAX_NOTE_CHARS = 2000
MAX_PHOTOS_PER_ACTION = 20

#: Control characters a person's text never holds: C0 but tab, newline and carriage
#: return; DEL; C1.
CONTROL_CHARACTERS: Final = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def refuse_control_characters(value: str, *, field_name: str) -> str:
    """``value`` unchanged; :class:`InvalidInput` if it holds a control character."""
    found = CONTROL_CHARACTERS.search(value)
    if found is not None:
        raise InvalidInput(
            Msg(
                "'{field_name}' holds a control character (U+{value:04X}) at position "
                "{value2}; only text, newlines and tabs are accepted",
                field_name=field_name,
                value=ord(found.group()),
                value2=found.start(),
            ),
            field=field_name,
            code="control_character",
        )
    return value


def refuse_control_characters_in(pairs: Iterable[tuple[str, Any]]) -> None:
    """:func:`refuse_control_characters` over named values (form fields, query
    parameters; the names too): the first bad one is named. Values that are not text
    (uploaded files) are skipped."""
    for name, value in pairs:
        refuse_control_characters(name, field_name="parameter name")
        if isinstance(value, str):
            refuse_control_characters(value, field_name=name)


def refuse_control_characters_deep(value: Any, path: str = "body") -> None:
    """:func:`refuse_control_characters` over every string (and key) of decoded JSON."""
    if isinstance(value, str):
        refuse_control_characters(value, field_name=path)
    elif isinstance(value, dict):
        for key, item in value.items():
            refuse_control_characters(str(key), field_name=path)
            refuse_control_characters_deep(item, f"{path}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            refuse_control_characters_deep(item, f"{path}[{i}]")


def clean_text(value: str, *, field_name: str, limit: int, required: bool = False) -> str:
    """``value`` stripped; :class:`InvalidInput` if it holds a control character, is
    blank when required, or is too long."""
    text = refuse_control_characters((value or "").strip(), field_name=field_name)
    if required and not text:
        raise InvalidInput(
            Msg("'{field_name}' is required and must not be blank", field_name=field_name),
            field=field_name,
        )
    if len(text) > limit:
        raise InvalidInput(
            Msg(
                "'{field_name}' is {count} characters long; the limit is {limit}",
                field_name=field_name,
                count=len(text),
                limit=limit,
            ),
            field=field_name,
        )
    return text
