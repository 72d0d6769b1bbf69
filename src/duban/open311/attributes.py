"""Service attributes (pure): the attributes of a service definition and the checks of
the values a request gives for them (all six Open311 datatypes).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC
from typing import Final

from duban.kernel.errors import InvalidInput, Msg
from duban.kernel.parsing import parse_number
from duban.open311.parsing import many_errors, parse_when

MAX_ATTRIBUTES: Final = 50
MAX_ATTRIBUTE_CHARS: Final = 4000


@dataclass(frozen=True)
class AttributeView:
    """One attribute of a service definition."""

    code: str
    variable: bool
    datatype: str
    required: bool
    datatype_description: str
    order: int
    description: str
    values: tuple[tuple[str, str], ...]
    automated: str | None


@dataclass(frozen=True)
class DefinitionView:
    """GET services/{code}."""

    service_code: str
    attributes: tuple[AttributeView, ...]


def check_attribute(spec: AttributeView, value: str | Sequence[str]) -> str | list[str]:
    name = f"attribute[{spec.code}]"
    if spec.datatype == "multivaluelist":
        items = [value] if isinstance(value, str) else list(value)
        items = [v for v in (i.strip() for i in items) if v]
        keys = {k for k, _ in spec.values}
        bad = [v for v in items if v not in keys]
        if bad:
            raise InvalidInput(
                Msg(
                    "{name}: {choices} not among {choices2}",
                    name=name,
                    choices=", ".join(bad),
                    choices2=", ".join(sorted(keys)),
                ),
                field=name,
            )
        return items
    if not isinstance(value, str):
        if len(value) != 1:
            raise InvalidInput(Msg("{name} takes one value", name=name), field=name)
        value = value[0]
    text = value.strip()
    if len(text) > MAX_ATTRIBUTE_CHARS:
        raise InvalidInput(
            Msg(
                "{name} is longer than {MAX_ATTRIBUTE_CHARS} characters",
                name=name,
                MAX_ATTRIBUTE_CHARS=MAX_ATTRIBUTE_CHARS,
            ),
            field=name,
        )
    if spec.datatype == "number":
        parse_number(text, name)
    elif spec.datatype == "datetime":
        parse_when(text, name, UTC)
    elif spec.datatype == "singlevaluelist":
        keys = {k for k, _ in spec.values}
        if text not in keys:
            raise InvalidInput(
                Msg(
                    "{name}: '{text}' is not one of {choices}",
                    name=name,
                    text=text,
                    choices=", ".join(sorted(keys)),
                ),
                field=name,
            )
    elif spec.datatype == "string" and ("\n" in text or len(text) > 1000):
        raise InvalidInput(
            Msg("{name} must be one line of at most 1000 characters", name=name), field=name
        )
    return text


def check_attributes(
    definition: DefinitionView, given: Mapping[str, str | Sequence[str]]
) -> dict[str, str | list[str]]:
    if len(given) > MAX_ATTRIBUTES:
        raise InvalidInput(
            Msg("at most {MAX_ATTRIBUTES} attributes", MAX_ATTRIBUTES=MAX_ATTRIBUTES),
            field="attribute",
        )
    specs = {a.code: a for a in definition.attributes}
    errors: list[InvalidInput] = []
    clean: dict[str, str | list[str]] = {}
    for code, value in given.items():
        spec = specs.get(code)
        try:
            if spec is None:
                # Unknown codes (e.g. FixMyStreet's server-set uprn) are kept, not checked.
                items = [value] if isinstance(value, str) else list(value)
                if any(len(v) > MAX_ATTRIBUTE_CHARS for v in items) or len(code) > 64:
                    raise InvalidInput(
                        Msg("attribute[{code}] is too long", code=code), field=f"attribute[{code}]"
                    )
                clean[code] = value if isinstance(value, str) else list(value)
            elif spec.variable:
                clean[code] = check_attribute(spec, value)
        except InvalidInput as err:
            errors.append(err)
    for spec in definition.attributes:
        if spec.required and spec.code not in given:
            errors.append(
                InvalidInput(
                    f"attribute[{spec.code}] is required: {spec.description}",
                    field=f"attribute[{spec.code}]",
                )
            )
    if errors:
        raise many_errors(errors)
    return clean
