"""Benchmark: tagging a campaign's cases and reading its figures.

    python bench/campaigns.py [--cases 100000] [--backend sqlite|postgresql|both]
                              [--pg-url postgresql+psycopg://postgres@127.0.0.1:5432/duban_bench_camp]

Fills a fresh database with a month of ``--cases`` cases as ``bench/evaluate.py`` does
(100 streets, 10 districts, 20 units), then times, on a district-wide campaign over the
whole month (a tenth of the cases):

- **create**: :func:`create_campaign`, whose one ``INSERT … SELECT`` tags them;
- **sweep**: :func:`tag_active_campaigns` with nothing new (the steady cost per sweep);
- **stats**: :func:`campaign_stats` (found, fixed, open, overdue by unit, category, day);
- **hand**: one hand-written ``SELECT count(*)`` of the same cases, for scale.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
try:
    import duban  # noqa: F401
except ImportError:  # running from a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from _city import fresh_database  # type: ignore[import-not-found]
from evaluate import fill  # type: ignore[import-not-found]
from sqlalchemy import Engine, select, text

from duban.kernel.context import SYSTEM_ACTOR, Actor
from duban.kernel.db.session import make_engine, make_session_factory
from duban.kernel.roles import Role
from duban.places.models import Region
from duban.reference.models import Category
from duban.supervision.campaigns import (
    CampaignInput,
    campaign_stats,
    create_campaign,
    tag_active_campaigns,
)


class Clock:
    def now(self) -> datetime:
        return datetime(2026, 12, 2, 1, 0, tzinfo=UTC)


def measure(engine: Engine) -> None:
    factory = make_session_factory(engine)
    with factory() as session:
        session.add(
            Region(
                code="D1", level="district", name="区1", parent_code=None, geometry=b"",
                min_lon=0, min_lat=0, max_lon=0, max_lat=0, area_m2=0, attributes={},
                source="bench", valid_from=datetime(2020, 1, 1, tzinfo=UTC),
            )
        )  # fmt: skip
        session.execute(
            text("INSERT INTO users (id, username, display_name, password_hash, role, is_active,"
                 " created_at, token_epoch) VALUES (9000, 'boss', 'boss', 'x', 'supervisor',"
                 " TRUE, '2026-01-01 00:00:00', 0)")
        )  # fmt: skip
        session.commit()
        boss = Actor(user_id=9000, username="boss", role=Role.SUPERVISOR)
        major = session.scalar(
            select(Category.parent_code).where(Category.level == 2).order_by(Category.code).limit(1)
        )
        assert major is not None
        t0 = time.perf_counter()
        made = create_campaign(
            session,
            actor=boss,
            clock=Clock(),
            data=CampaignInput(
                name="区1专项整治",
                kind="rectification",
                starts_on=date(2026, 11, 1),
                ends_on=date(2026, 11, 30),
                categories=[major],
                regions=["D1"],
            ),
        )
        create_s = time.perf_counter() - t0
        tagged = session.scalar(
            text("SELECT count(*) FROM campaign_cases WHERE campaign_id = :c"), {"c": made.id}
        )
        t0 = time.perf_counter()
        tag_active_campaigns(session, clock=Clock(), actor=SYSTEM_ACTOR)
        sweep_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        stats = campaign_stats(session, actor=boss, campaign=made, now=Clock().now())
        stats_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        hand = session.scalar(
            text("SELECT count(*) FROM cases WHERE district_code = 'D1' AND category_code"
                 " LIKE :major AND created_at >= :a AND created_at < :b"),
            {"a": made.starts_at, "b": made.ends_at, "major": f"{major}%"},
        )  # fmt: skip
        hand_s = time.perf_counter() - t0
    print(
        f"  tagged {tagged:,} (hand count {hand:,}, stats found {stats.found:,})\n"
        f"  create + tag: {create_s:.3f} s\n"
        f"  sweep, nothing new: {sweep_s:.3f} s\n"
        f"  stats: {stats_s:.3f} s\n"
        f"  hand count: {hand_s:.3f} s",
        flush=True,
    )


def run(backend: str, url: str, cases: int) -> None:
    print(f"{backend}: {cases:,} cases", flush=True)
    fresh_database(url)
    engine = make_engine(url)
    fill(engine, cases)
    measure(engine)
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument(
        "--pg-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/duban_bench_camp"
    )
    args = parser.parse_args()
    if args.backend in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as tmp:
            run("sqlite", f"sqlite:///{tmp}/bench.db", args.cases)
    if args.backend in ("postgresql", "both"):
        run("postgresql", args.pg_url, args.cases)


if __name__ == "__main__":
    main()
