"""Checks of what people send, shared by reports and actions: text fields."""

from __future__ import annotations

from duban.kernel.errors import InvalidInput

MAX_DESCRIPTION_CHARS = 5000
MAX_NOTE_CHARS = 2000
MAX_PHOTOS_PER_ACTION = 20


def clean_text(value: str, *, field_name: str, limit: int, required: bool = False) -> str:
    """``value`` stripped; :class:`InvalidInput` if blank when required or too long."""
    text = (value or "").strip()
    if required and not text:
        raise InvalidInput(f"'{field_name}' is required and must not be blank", field=field_name)
    if len(text) > limit:
        raise InvalidInput(
            f"'{field_name}' is {len(text)} characters long; the limit is {limit}",
            field=field_name,
        )
    return text
