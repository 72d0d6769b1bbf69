"""The Open311 catalogue: GET services, a service's definition, and discovery.

**Services are the taxonomy.** A service is a subclass (小类): ``service_code`` is its
full code (``E0102``), ``group`` and the FixMyStreet ``groups`` come from its major
class (大类), ``keywords`` from its keywords. Its definition lists the attributes of
the Open311 configuration (all six datatypes; the filing conditions 立案条件 of the
subclass as the ``condition`` list). The discovery ``changeset`` is the last time the
taxonomy or the Open311 configuration changed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from sqlalchemy.orm import Session

from duban.kernel.errors import InvalidInput, Msg, NotFound
from duban.kernel.parsing import parse_number
from duban.open311.attributes import AttributeView, DefinitionView
from duban.open311.config import Open311Config, load_config
from duban.open311.parsing import parse_area, parse_point
from duban.reference import Taxonomy, live_taxonomy
from duban.reference import TaxonomyCategory as Category
from duban.reference import TaxonomyCondition as FilingCondition

SPECIFICATION: Final = "http://wiki.open311.org/GeoReport_v2"


@dataclass(frozen=True)
class ServiceView:
    """One entry of GET services."""

    service_code: str
    service_name: str
    description: str
    metadata: bool
    type: str
    keywords: str
    group: str
    groups: tuple[str, ...]


def attributes_of(
    config: Open311Config,
    category: Category,
    conditions: Sequence[FilingCondition],
    *,
    english: bool = False,
) -> tuple[AttributeView, ...]:
    """The attributes of the configuration that a service (a subclass of the live
    taxonomy) carries; ``conditions`` fill the list that names its filing conditions
    (by their English names with ``english``, where they have one)."""
    views: list[AttributeView] = []
    for spec in config.attributes:
        if spec.kinds and category.kind not in spec.kinds:
            continue
        if spec.services and category.code not in spec.services:
            continue
        values = spec.values
        if spec.values_from_conditions:
            values = tuple((c.code, c.display_name("en" if english else "zh")) for c in conditions)
            if not values:
                continue
        views.append(
            AttributeView(
                code=spec.code,
                variable=spec.variable,
                datatype=spec.datatype,
                required=spec.required and spec.variable,
                datatype_description=spec.datatype_description,
                order=len(views) + 1,
                description=spec.description,
                values=values,
                automated=spec.automated,
            )
        )
    return tuple(views)


def _service_view(
    config: Open311Config, tax: Taxonomy, category: Category, *, english: bool = False
) -> ServiceView:
    major = tax.major_of(category.code)
    attributes = attributes_of(config, category, category.conditions)
    description = category.name_en or category.name
    group = (major.name_en or major.name) if english else major.name
    return ServiceView(
        service_code=category.code,
        service_name=(category.name_en or category.name) if english else category.name,
        description=f"{category.name} — {description}" if category.name_en else description,
        metadata=bool(attributes),
        type=config.service_type,
        keywords=",".join(dict.fromkeys(k for k in category.keywords if k)),
        group=group,
        groups=(group,),
    )


def list_services(
    session: Session,
    *,
    lat: str | None = None,
    lon: str | None = None,
    english: bool = False,
) -> list[ServiceView]:
    """GET services; with ``lat``/``long``, only services offered at that point. Names are
    the taxonomy's Chinese, or with ``english`` its English names (``name_en``) where
    given."""
    live = load_config(session)
    point = parse_point(parse_number(lat, "lat"), parse_number(lon, "long"))
    if point is not None and live.config.area is not None:
        from shapely.geometry import Point

        if not parse_area(live.config.area).covers(Point(point[1], point[0])):
            return []
    tax = live_taxonomy(session)
    return [_service_view(live.config, tax, c, english=english) for c in tax.subclasses()]


def service_definition(session: Session, code: str, *, english: bool = False) -> DefinitionView:
    """GET services/{code}: the attributes a request for this service carries (the filing
    conditions named in English with ``english``)."""
    live = load_config(session)
    category = active_service(session, code)
    return DefinitionView(
        service_code=category.code,
        attributes=attributes_of(live.config, category, category.conditions, english=english),
    )


def active_service(session: Session, code: str | None) -> Category:
    """The service (an active subclass of the live taxonomy) ``code`` names."""
    if not code or not code.strip():
        raise InvalidInput("'service_code' is required", field="service_code")
    category = live_taxonomy(session).find_category(code.strip())
    if category is None or not category.is_subclass:
        raise NotFound(Msg("unknown service_code '{code}'; see GET services", code=code))
    return category


@dataclass(frozen=True)
class DiscoveryView:
    """GET discovery (the endpoint URL is the API's to know)."""

    changeset: datetime
    contact: str
    key_service: str
    endpoint_type: str
    specification: str = SPECIFICATION


def discovery(session: Session) -> DiscoveryView:
    """What a client needs to find and use this endpoint."""
    live = load_config(session)
    return DiscoveryView(
        changeset=live.changeset,
        contact=live.config.contact,
        key_service=live.config.key_service,
        endpoint_type=live.config.endpoint_type,
    )
