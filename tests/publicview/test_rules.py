"""The public view's pure rules: areas, masking, signed links and the Atom document."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from duban.publicview.rules import (
    ATOM_NS,
    AreaKind,
    BadArea,
    BadLink,
    FeedEntry,
    LinkPurpose,
    area_from_query,
    atom_feed,
    mask_contacts,
    normalize_email,
    parse_area,
    read_link,
    sign_link,
)


def _area(**kw: str) -> object:
    values = {"region": "", "bbox": "", "lat": "", "lon": "", "radius": "", **kw}
    return area_from_query(**values, default_radius_m=1000)


def test_an_area_is_a_region_a_box_or_a_point_and_reads_back_from_its_spec() -> None:
    for area in (
        _area(region="411002001"),
        _area(bbox="113.8,34.0,113.9,34.1"),
        _area(lat="34.03", lon="113.82", radius="500"),
        _area(lat="34.03", lon="113.82"),
    ):
        assert area is not None
        assert parse_area(area.spec) == area  # type: ignore[attr-defined]
    near = _area(lat="34.03", lon="113.82")
    assert near.kind == AreaKind.POINT
    assert near.radius_m == 1000
    assert _area() is None


@pytest.mark.parametrize(
    "kw",
    [
        {"region": "abc"},
        {"bbox": "1,2,3"},
        {"bbox": "113.9,34.0,113.8,34.1"},
        {"lat": "nan", "lon": "113"},
        {"lat": "34", "lon": "113", "radius": "999999"},
    ],
)
def test_a_bad_area_is_refused_with_a_catalogue_message(kw: dict[str, str]) -> None:
    from duban.publicview.messages import ZH

    with pytest.raises(BadArea) as raised:
        _area(**kw)
    assert str(raised.value) in ZH


def test_a_point_area_covers_what_lies_within_its_radius() -> None:
    area = parse_area("point:34.03,113.82,500")
    assert area.covers(lat=34.032, lon=113.82, region_codes=[])  # ~220 m north
    assert not area.covers(lat=34.04, lon=113.82, region_codes=[])  # ~1.1 km
    region = parse_area("region:411002")
    assert region.covers(lat=0, lon=0, region_codes=[None, "411002001"])
    assert not region.covers(lat=0, lon=0, region_codes=["411003001"])


def test_phone_numbers_and_emails_typed_into_a_text_are_masked() -> None:
    text = "门口垃圾，请联系13812345678或 0374-2961122，邮件 zhang.san@example.cn"
    masked = mask_contacts(text)
    assert "13812345678" not in masked
    assert "138****5678" in masked
    assert "2961122" not in masked
    assert "zhang.san" not in masked
    assert mask_contacts("案卷号 2026000123 与 3 号楼") == "案卷号 2026000123 与 3 号楼"


def test_emails_are_checked_and_kept_with_the_domain_in_lower_case() -> None:
    assert normalize_email(" Li.Si@Example.CN ") == "Li.Si@example.cn"
    assert normalize_email("not an address") == ""
    assert normalize_email("a@b") == ""


def test_a_signed_link_opens_its_subscription_only_untampered_and_unexpired() -> None:
    token = sign_link("s3cret", LinkPurpose.CONFIRM, 42, expires=2000)
    assert read_link("s3cret", LinkPurpose.CONFIRM, token, now=1999) == 42
    with pytest.raises(BadLink):
        read_link("s3cret", LinkPurpose.CONFIRM, token, now=2000)  # expired
    with pytest.raises(BadLink):
        read_link("other", LinkPurpose.CONFIRM, token, now=0)  # another key
    with pytest.raises(BadLink):
        read_link("s3cret", LinkPurpose.UNSUBSCRIBE, token, now=0)  # another purpose
    with pytest.raises(BadLink):
        read_link("s3cret", LinkPurpose.CONFIRM, token.replace(".42.", ".43."), now=0)
    forever = sign_link("s3cret", LinkPurpose.UNSUBSCRIBE, 7)
    assert read_link("s3cret", LinkPurpose.UNSUBSCRIBE, forever, now=10**12) == 7


def test_the_feed_is_atom_with_times_in_the_city_zone_and_their_offset() -> None:
    at = datetime(2026, 12, 1, 2, 30, tzinfo=UTC)
    body = atom_feed(
        feed_id="tag:example.org,2026:public:all",
        title="<全部> & 区域",
        self_link="http://example.org/public/feed.atom",
        alternate_link="http://example.org/public",
        updated=at,
        entries=[
            FeedEntry(
                id="tag:example.org,2026:case:C1",
                title="C1 暴露垃圾",
                link="http://example.org/public/C1",
                updated=at,
                published=at,
                summary="a < b",
                category="E0102",
            )
        ],
        lang="zh",
        tz=ZoneInfo("Asia/Shanghai"),
    )
    root = ET.fromstring(body)
    ns = {"a": ATOM_NS}
    assert root.tag == f"{{{ATOM_NS}}}feed"
    assert root.findtext("a:title", namespaces=ns) == "<全部> & 区域"
    assert root.findtext("a:updated", namespaces=ns) == "2026-12-01T10:30:00+08:00"
    entry = root.find("a:entry", ns)
    assert entry is not None
    assert entry.findtext("a:summary", namespaces=ns) == "a < b"
    assert datetime.fromisoformat(entry.findtext("a:updated", namespaces=ns) or "") == at
