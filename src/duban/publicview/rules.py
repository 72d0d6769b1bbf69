"""The public view as pure rules: areas, masking, signed subscription links, the Atom feed.

An *area* is what a citizen looks at or subscribes to (FixMyStreet's "reports near"):
a region by its code (区、街道、社区 or 单元网格 — a case's codes start with it), a box
(``west,south,east,north``) or a point with a radius in metres. It is written as one
string, ``region:410102001``, ``bbox:113.8,34.0,113.9,34.1`` or
``point:34.03,113.81,800``, which is what a subscription keeps.

Subscription links carry no account: ``<purpose>.<subscription id>.<expiry>.<mac>``, the MAC
an HMAC-SHA256 keyed from the app's secret (as the hand-over links). The confirmation
link expires; the unsubscribe link does not (expiry 0), so an old email still works.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Final

from duban.kernel.errors import InvalidInput, Msg

#: Metres per degree of latitude (a sphere of the mean radius: close enough for a radius).
METRES_PER_DEGREE: Final = 111_195.0
#: The largest radius of a point area, in metres.
MAX_RADIUS_M: Final = 20_000
#: Mainland mobile numbers and landlines with an area code, as people type them into a
#: description ("请联系13812345678"): masked on the public page and in the feed.
_PHONE: Final = re.compile(
    r"(?<!\d)(1[3-9]\d)[\s-]?(\d{4})[\s-]?(\d{4})(?!\d)"  # 138 1234 5678
    r"|(?<!\d)(0\d{2,3})-?(\d{7,8})(?!\d)"  # 0374-2961122
)
_EMAIL: Final = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
_REGION_CODE: Final = re.compile(r"\d{6,15}")
_SIMPLE_EMAIL: Final = re.compile(r"[^@\s<>\"',;]{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+")
ATOM_NS: Final = "http://www.w3.org/2005/Atom"


class AreaKind(StrEnum):
    """How an area is given."""

    REGION = "region"
    BBOX = "bbox"
    POINT = "point"


class BadArea(InvalidInput):
    """The area cannot be read (the message is a catalogue template; ``field`` is
    ``area`` unless the caller names another)."""

    def __init__(self, message: str | Msg, /, *, field: str | None = "area", **detail: Any) -> None:
        super().__init__(message, field=field, **detail)


@dataclass(frozen=True)
class Area:
    """A region code, a box or a point with a radius (see the module's docstring)."""

    kind: AreaKind
    region_code: str = ""
    south: float = 0.0
    west: float = 0.0
    north: float = 0.0
    east: float = 0.0
    lat: float = 0.0
    lon: float = 0.0
    radius_m: int = 0

    @property
    def spec(self) -> str:
        """The area as one string (what a subscription keeps, what a link carries)."""
        if self.kind == AreaKind.REGION:
            return f"region:{self.region_code}"
        if self.kind == AreaKind.BBOX:
            return f"bbox:{self.west:.6f},{self.south:.6f},{self.east:.6f},{self.north:.6f}"
        return f"point:{self.lat:.6f},{self.lon:.6f},{self.radius_m}"

    @property
    def query(self) -> str:
        """The area as query parameters of the public pages and the feed."""
        if self.kind == AreaKind.REGION:
            return f"region={self.region_code}"
        if self.kind == AreaKind.BBOX:
            return "bbox=" + self.spec.removeprefix("bbox:")
        return f"lat={self.lat:.6f}&lon={self.lon:.6f}&radius={self.radius_m}"

    def box(self) -> tuple[float, float, float, float] | None:
        """``(south, west, north, east)`` around the area; None for a region."""
        if self.kind == AreaKind.BBOX:
            return (self.south, self.west, self.north, self.east)
        if self.kind == AreaKind.POINT:
            dlat = self.radius_m / METRES_PER_DEGREE
            dlon = dlat / max(math.cos(math.radians(self.lat)), 0.01)
            return (self.lat - dlat, self.lon - dlon, self.lat + dlat, self.lon + dlon)
        return None

    def covers(self, *, lat: float, lon: float, region_codes: Sequence[str | None]) -> bool:
        """Whether a case at ``lat, lon`` in these regions lies in the area."""
        if self.kind == AreaKind.REGION:
            return any(code and code.startswith(self.region_code) for code in region_codes)
        if self.kind == AreaKind.BBOX:
            return self.south <= lat <= self.north and self.west <= lon <= self.east
        return distance_m(self.lat, self.lon, lat, lon) <= self.radius_m


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6_371_000.0 * math.asin(math.sqrt(min(1.0, a)))


def _number(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(text)
    return value


def region_area(code: str) -> Area:
    """A region by its code (digits only)."""
    code = code.strip()
    if not _REGION_CODE.fullmatch(code):
        raise BadArea("A region is given by its code (6 to 15 digits).")
    return Area(AreaKind.REGION, region_code=code)


def bbox_area(text: str) -> Area:
    """A box written ``west,south,east,north``."""
    try:
        west, south, east, north = (_number(p) for p in text.split(","))
    except ValueError as err:
        raise BadArea("A box is four numbers: west,south,east,north.") from err
    if not (-90 <= south < north <= 90 and -180 <= west < east <= 180):
        raise BadArea("A box is four numbers: west,south,east,north.")
    return Area(AreaKind.BBOX, south=south, west=west, north=north, east=east)


def point_area(lat: str, lon: str, radius: str, *, default_radius_m: int) -> Area:
    """A point (WGS84 degrees) with a radius in metres."""
    try:
        at = (_number(lat), _number(lon))
        metres = round(_number(radius)) if radius.strip() else default_radius_m
    except ValueError as err:
        raise BadArea("A place is a latitude and a longitude in degrees.") from err
    if not (-90 <= at[0] <= 90 and -180 <= at[1] <= 180):
        raise BadArea("A place is a latitude and a longitude in degrees.")
    if not 1 <= metres <= MAX_RADIUS_M:
        raise BadArea("The radius is 1 to 20000 metres.")
    return Area(AreaKind.POINT, lat=at[0], lon=at[1], radius_m=metres)


def parse_area(spec: str) -> Area:
    """An area from its one-string form (:attr:`Area.spec`)."""
    kind, _, rest = spec.partition(":")
    if kind == AreaKind.REGION:
        return region_area(rest)
    if kind == AreaKind.BBOX:
        return bbox_area(rest)
    if kind == AreaKind.POINT:
        parts = rest.split(",")
        if len(parts) != 3:
            raise BadArea("A place is a latitude and a longitude in degrees.")
        return point_area(*parts, default_radius_m=0)
    raise BadArea("Choose a region, a box or a place on the map.")


def area_from_query(
    *, region: str, bbox: str, lat: str, lon: str, radius: str, default_radius_m: int
) -> Area | None:
    """The area the query parameters name, if any (region, then box, then point)."""
    if region.strip():
        return region_area(region)
    if bbox.strip():
        return bbox_area(bbox)
    if lat.strip() or lon.strip():
        return point_area(lat, lon, radius, default_radius_m=default_radius_m)
    return None


def mask_contacts(text: str) -> str:
    """``text`` with phone numbers and email addresses a reporter typed in masked."""

    def phone(found: re.Match[str]) -> str:
        if found.group(1):
            return f"{found.group(1)}****{found.group(3)}"
        return f"{found.group(4)}-****"

    return _EMAIL.sub("***@***", _PHONE.sub(phone, text))


def approximate(value: float) -> float:
    """A coordinate rounded to about 100 m: where a case is, not whose door it is."""
    return round(value, 3)


def normalize_email(text: str) -> str:
    """The address as kept (trimmed, domain in lower case); "" if it is not one."""
    text = (text or "").strip()
    if len(text) > 254 or not _SIMPLE_EMAIL.fullmatch(text):
        return ""
    local, _, domain = text.rpartition("@")
    return f"{local}@{domain.lower()}"


# --- signed links ------------------------------------------------------------------------


class LinkPurpose(StrEnum):
    """What a subscription link does."""

    CONFIRM = "c"
    UNSUBSCRIBE = "u"


class BadLink(Exception):
    """The link is forged, altered or expired."""


def _mac(secret: str, body: str) -> str:
    key = hashlib.sha256(b"duban-public-subscription\x00" + secret.encode("utf-8")).digest()
    digest = hmac.new(key, body.encode("ascii"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def sign_link(secret: str, purpose: LinkPurpose, subscription_id: int, expires: int = 0) -> str:
    """The token of a subscription link; ``expires`` in Unix seconds, 0 for never."""
    body = f"{purpose.value}.{subscription_id}.{expires}"
    return f"{body}.{_mac(secret, body)}"


def read_link(secret: str, purpose: LinkPurpose, token: str, now: int) -> int:
    """The subscription id a token names; :class:`BadLink` if forged or expired."""
    parts = token.split(".")
    if len(token) > 200 or len(parts) != 4 or parts[0] != purpose.value:
        raise BadLink(token)
    if not (parts[1].isdigit() and parts[2].isdigit()):
        raise BadLink(token)
    if not hmac.compare_digest(parts[3], _mac(secret, ".".join(parts[:3]))):
        raise BadLink(token)
    expires = int(parts[2])
    if expires and now >= expires:
        raise BadLink(token)
    return int(parts[1])


# --- messages to subscribers ---------------------------------------------------------------


@dataclass(frozen=True)
class OutgoingEmail:
    """One email to send: what the notifications outbox takes (recipient, subject, body
    and the links the body names, for channels that render them as buttons)."""

    recipient: str
    subject: str
    body: str
    links: dict[str, str] = field(default_factory=dict)
    #: The subscription (for the outbox's record and the List-Unsubscribe header).
    subscription_id: int = 0
    #: The language it is written in (the subscriber's: zh | en).
    lang: str = "zh"


# --- the Atom feed -------------------------------------------------------------------------


@dataclass(frozen=True)
class FeedEntry:
    """One case in the feed."""

    id: str  # a tag: URI, stable for the case
    title: str
    link: str
    updated: datetime
    published: datetime
    summary: str
    category: str


def rfc3339(moment: datetime, tz: object | None = None) -> str:
    """An aware time as RFC 3339 with its offset (in ``tz`` if given, e.g. +08:00)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if tz is not None:
        moment = moment.astimezone(tz)  # type: ignore[arg-type]
    return moment.isoformat(timespec="seconds")


def atom_feed(
    *,
    feed_id: str,
    title: str,
    self_link: str,
    alternate_link: str,
    updated: datetime,
    entries: Sequence[FeedEntry],
    lang: str,
    tz: object | None = None,
) -> bytes:
    """An Atom 1.0 document (RFC 4287) of ``entries``, as UTF-8 bytes."""
    ET.register_namespace("", ATOM_NS)

    def sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
        node = ET.SubElement(parent, f"{{{ATOM_NS}}}{tag}", attrs)
        if text is not None:
            node.text = text
        return node

    xml_lang = "{http://www.w3.org/XML/1998/namespace}lang"
    root = ET.Element(f"{{{ATOM_NS}}}feed", {xml_lang: "zh-CN" if lang == "zh" else "en"})
    sub(root, "id", feed_id)
    sub(root, "title", title)
    sub(root, "updated", rfc3339(updated, tz))
    sub(root, "link", rel="self", type="application/atom+xml", href=self_link)
    sub(root, "link", rel="alternate", type="text/html", href=alternate_link)
    author = sub(root, "author")
    sub(author, "name", "Duban")
    sub(root, "generator", "Duban")
    for e in entries:
        entry = sub(root, "entry")
        sub(entry, "id", e.id)
        sub(entry, "title", e.title)
        sub(entry, "link", rel="alternate", type="text/html", href=e.link)
        sub(entry, "published", rfc3339(e.published, tz))
        sub(entry, "updated", rfc3339(e.updated, tz))
        sub(entry, "category", term=e.category)
        sub(entry, "summary", e.summary, type="text")
    text = ET.tostring(root, encoding="unicode")
    return ('<?xml version="1.0" encoding="utf-8"?>\n' + text).encode("utf-8")
