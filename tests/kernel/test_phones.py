"""Reporters' phone numbers: mainland mobiles, landlines with area codes, international."""

from __future__ import annotations

import pytest

from duban.kernel.errors import InvalidInput
from duban.kernel.phones import normalize_phone


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("13800001111", "13800001111"),
        ("138 0000 1111", "13800001111"),
        ("+86 199-0000-1111", "19900001111"),
        ("0371-61234567", "0371-61234567"),
        ("(0371) 6123 4567", "0371-61234567"),
        ("010-62345678", "010-62345678"),
        ("021 5123456", "021-5123456"),
        ("0371-61234567转123", "0371-61234567-123"),
        ("+44 7700 900000", "+447700900000"),
        ("", None),
        ("  ", None),
    ],
)
def test_numbers_people_type_are_read_and_written_one_way(typed: str, stored: str | None) -> None:
    assert normalize_phone(typed) == stored


@pytest.mark.parametrize(
    "typed",
    [
        "12345",
        "12800001111",
        "1380000111",
        "138000011112",
        "phone",
        "0371-0234567",
        "0371-12345678",
        "110",
        "+86123",
    ],
)
def test_anything_else_is_refused_naming_the_field(typed: str) -> None:
    with pytest.raises(InvalidInput, match="not a phone number") as caught:
        normalize_phone(typed)
    assert caught.value.detail["field"] == "reporter_phone"
