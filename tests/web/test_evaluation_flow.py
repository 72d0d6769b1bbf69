"""The evaluation page in the browser (desktop and phone): the ECharts chart, served from
/static, draws on its canvas; a number of the ranking opens the cases behind it; the
bulletin archive lists what was made."""

from __future__ import annotations

import pytest

from tests.evaluation.conftest import build
from tests.web.conftest import Browse, Shots

#: A real browser on a real server: seconds per test.
pytestmark = pytest.mark.slow


@pytest.mark.parametrize("phone", [False, True], ids=["desktop", "phone"])
def test_a_leader_reads_the_ranking_chart_and_opens_the_cases_behind_a_number(
    browse: Browse, shots: Shots, phone: bool
) -> None:
    november = build(browse.world)
    leader = browse.signed_in("leader", phone=phone)
    loaded: list[str] = []
    leader.on("response", lambda r: loaded.append(r.url) if "echarts" in r.url else None)
    leader.goto("/evaluation?object=street&from=2026-11-01&to=2026-12-01")
    assert any(url.endswith("/static/vendor/echarts/echarts.min.js") for url in loaded)
    leader.wait_for_selector("#eval-chart[data-ready] canvas")
    size = leader.locator("#eval-chart canvas").first.bounding_box()
    assert size is not None
    assert size["width"] > 200
    assert size["height"] > 200
    # The canvas has pixels drawn on it (not a blank box).
    painted = leader.locator("#eval-chart canvas").first.evaluate(
        """c => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                  let n = 0; for (let i = 3; i < d.length; i += 4) { if (d[i]) n++; }
                  return n; }"""
    )
    assert painted > 1000
    assert leader.locator("tr[data-code='S1']").count() == 1
    shots.take(leader, "ranking")

    # 西街街道's rework count opens the case that was sent back.
    leader.locator("tr[data-code='S2'] td[data-indicator='rework_count'] a[data-drill]").click()
    leader.wait_for_selector("[data-drill-cases]")
    assert "/evaluation/cases" in leader.url
    assert leader.locator(f"tr[data-case='{november.cases['C'].code}']").count() == 1
    shots.take(leader, "drill-down")
    leader.locator(f"tr[data-case='{november.cases['C'].code}'] a").click()
    leader.wait_for_url(f"**/cases/{november.cases['C'].id}")

    # The archive: make the month's bulletin, then find it with its downloads.
    leader.goto("/evaluation/bulletins")
    leader.locator("input[name=period]").fill("2026-11")
    leader.get_by_role("button", name="立即生成通报").click()
    leader.wait_for_selector("[data-bulletins] tr[data-bulletin]")
    row = leader.locator("[data-bulletins] tr[data-bulletin]").first
    assert "2026-11" in row.inner_text()
    assert row.locator("a[href$='/pdf']").count() == 1
    shots.take(leader, "bulletins")
