"""The 2027 deadlines (issue 12, item 9): holidays for a year chinesecalendar lacks.

chinesecalendar 1.11.0 ends at 2026. For 2027 the ``holidays`` package's statutory days
stand in (provisional: no 调休), until an admin pastes the State Council's schedule.

2027 as the holidays package has it: 元旦 Fri 1 Jan; 春节 Fri 5 Feb (eve) to Wed 10 Feb
(Sat 6 and Sun 7 moved to Tue 9 and Wed 10). The "official" schedule pasted below is an
illustration with the usual shape (nine days off, two make-up weekend days), not the
real notice.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from duban.cli import app as cli_app
from duban.kernel.context import Actor
from duban.kernel.errors import InvalidInput, PermissionDenied
from duban.kernel.roles import Role
from duban.reference.calendar import TimeLimit, WorkingCalendar
from duban.reference.holidays import (
    CalendarGap,
    calendar_gaps,
    paste_year_schedule,
    set_calendar_day,
    special_days,
    year_sources,
)
from duban.reference.national import (
    ScheduleError,
    YearSchedule,
    YearSource,
    packaged_schedule,
    read_schedule_lists,
    read_schedule_text,
)
from duban.reference.policy import load_policy
from tests.factories.world import World
from tests.fakes import FixedClock
from tests.http import API, Api
from tests.web.test_server import sign_in

SH = ZoneInfo("Asia/Shanghai")
ADMIN = Actor(user_id=None, username="admin", role=Role.ADMIN)
TODAY = datetime(2026, 12, 2, 9, 0, tzinfo=SH)  # four weeks before 2027
ONE_DAY = TimeLimit.parse("1 work_days")
TWO_DAYS = TimeLimit.parse("2 work_days")

#: An illustrative 2027 notice, pasted as text.
NOTICE_2027 = """\
# 2027 年部分节假日安排（示例）
2027-01-01..2027-01-03 休     # 元旦
2027-02-05..2027-02-13 休     # 春节
2027-02-14 班                 # Sunday
2月20日（星期六）上班
"""


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SH)


def local(moment: datetime) -> str:
    assert moment.tzinfo is UTC
    return moment.astimezone(SH).strftime("%Y-%m-%d %H:%M")


# -- the sources, without a database ----------------------------------------------------------


def test_2027_is_provisional_from_the_holidays_package() -> None:
    assert packaged_schedule(2026).source is YearSource.OFFICIAL
    year = packaged_schedule(2027)
    if year.source is YearSource.OFFICIAL:  # a chinesecalendar release with 2027 arrived
        pytest.skip("the installed chinesecalendar knows 2027")
    assert year.source is YearSource.PROVISIONAL
    assert year.workdays == frozenset()  # the package knows no 调休
    assert {date(2027, 1, 1), date(2027, 2, 5), date(2027, 2, 8)} <= year.days_off
    assert {date(2027, 2, 9), date(2027, 2, 10)} <= year.days_off  # weekend days moved
    assert date(2027, 2, 11) not in year.days_off
    assert packaged_schedule(2101).source is YearSource.UNKNOWN


def test_a_2027_deadline_across_new_year_skips_it_with_no_admin_data() -> None:
    calendar = WorkingCalendar()
    if calendar.year_source(2027) is YearSource.OFFICIAL:
        pytest.skip("the installed chinesecalendar knows 2027")
    # Thu 31 Dec 2026 10:00 + 1 work day: Fri 1 Jan is 元旦, then the weekend.
    assert not calendar.is_workday(date(2027, 1, 1))
    assert local(calendar.due_at(at("2026-12-31 10:00"), ONE_DAY)) == "2027-01-04 10:00"
    # What it was before: Monday to Friday, New Year's Day a working day.
    assert (
        local(WorkingCalendar(use_national_calendar=False).due_at(at("2026-12-31 10:00"), ONE_DAY))
        == "2027-01-01 10:00"
    )


def test_a_2027_deadline_across_spring_festival_provisional_then_official() -> None:
    start = at("2027-02-04 16:00")  # Thursday: 2 h left today
    provisional = WorkingCalendar()
    if provisional.year_source(2027) is YearSource.OFFICIAL:
        pytest.skip("the installed chinesecalendar knows 2027")
    # 5–10 Feb off: 2 h Thu 4, then Thu 11 (7.5 h) and Fri 12 until 16:00.
    assert local(provisional.due_at(start, TWO_DAYS)) == "2027-02-12 16:00"
    pasted = read_schedule_text(NOTICE_2027, 2027)
    official = WorkingCalendar(
        extra_holidays=pasted.days_off, extra_workdays=pasted.workdays, entered_years={2027}
    )
    assert official.year_source(2027) is YearSource.ENTERED
    # 5–13 Feb off, Sunday 14 Feb is a make-up workday: 2 h, 7.5 h, then Mon 15 until 16:00.
    assert local(official.due_at(start, TWO_DAYS)) == "2027-02-15 16:00"
    # From a day off, one work day is the whole make-up Sunday (an exact fit ends at 18:00).
    assert local(official.due_at(at("2027-02-13 10:00"), ONE_DAY)) == "2027-02-14 18:00"
    # The provisional guesses the notice does not have are gone (Labour Day's moved days).
    assert not provisional.is_workday(date(2027, 5, 4))
    assert official.is_workday(date(2027, 5, 4))
    # Long spans (the prefix sums) agree with the day-by-day answer.
    seconds = official.working_seconds_between(at("2027-01-01 00:00"), at("2027-03-01 00:00"))
    workdays = sum(
        official.is_workday(date(2027, month, day))
        for month, last in ((1, 31), (2, 28))
        for day in range(1, last + 1)
    )
    assert seconds == workdays * official.working_day_seconds


def test_sources_come_in_order_local_then_official_then_provisional() -> None:
    def fake(year: int) -> YearSchedule:
        if year == 2030:
            return YearSchedule(
                2030,
                YearSource.OFFICIAL,
                frozenset({date(2030, 1, 1)}),
                frozenset({date(2030, 1, 5)}),
            )
        if year == 2031:
            return YearSchedule(2031, YearSource.PROVISIONAL, frozenset({date(2031, 1, 1)}))
        return YearSchedule(year, YearSource.UNKNOWN)

    cal = WorkingCalendar(
        national=fake, extra_workdays={date(2030, 1, 1)}, extra_holidays={date(2031, 3, 3)}
    )
    assert cal.is_workday(date(2030, 1, 1))  # local beats official
    assert cal.is_workday(date(2030, 1, 5))  # official 调休 Saturday
    assert cal.year_source(2030) is YearSource.OFFICIAL
    # A local day off in a provisional year stacks on the statutory days...
    assert not cal.is_workday(date(2031, 1, 1))
    assert not cal.is_workday(date(2031, 3, 3))
    assert cal.year_source(2031) is YearSource.PROVISIONAL
    # ...until the year is entered whole.
    entered = WorkingCalendar(
        national=fake, extra_holidays={date(2031, 3, 3)}, entered_years={2031}
    )
    assert entered.is_workday(date(2031, 1, 1))
    assert entered.year_source(2031) is YearSource.ENTERED
    # In a year nobody knows, one day off entered counts as the year entered (as before).
    assert WorkingCalendar(national=fake).year_source(2032) is YearSource.UNKNOWN
    assert (
        WorkingCalendar(national=fake, extra_holidays={date(2032, 2, 2)}).year_source(2032)
        is YearSource.ENTERED
    )
    assert (
        WorkingCalendar(national=fake, use_national_calendar=False).year_source(2030)
        is YearSource.UNKNOWN
    )


@pytest.mark.parametrize(
    ("text", "line", "says"),
    [
        ("2027-01-01", 1, "must be a day or a range ending with 休"),
        ("2027-01-01 休\n\n2027-13-01 休", 3, "is not a date in the calendar"),
        ("2027-01-01 休\n2026-12-31 休", 2, "2026-12-31 is not in 2027"),
        ("2027-02-10..2027-02-01 休", 1, "ends before it starts"),
        ("2027-01-01..2027-03-01 休", 1, "60 days long"),
        ("hello 班", 1, "is not a date or a range"),
    ],
)
def test_a_paste_that_cannot_be_read_names_its_line(text: str, line: int, says: str) -> None:
    with pytest.raises(ScheduleError, match=says) as caught:
        read_schedule_text(text, 2027)
    assert caught.value.line == line
    assert str(caught.value).startswith(f"line {line}: ")


def test_a_paste_reads_ranges_short_dates_and_both_lists() -> None:
    text = read_schedule_text("10月1日至7日放假\n2027/9/26 班\n2027-04-05: off", 2027)
    assert len(text.days_off) == 8
    assert text.workdays == {date(2027, 9, 26)}
    lists = read_schedule_lists(["2027-01-01", "2027-02-05..2027-02-13"], ["2027-02-14"], 2027)
    assert len(lists.days_off) == 10
    assert lists.workdays == {date(2027, 2, 14)}
    with pytest.raises(ScheduleError, match="both as a day off and as a workday"):
        read_schedule_lists(["2027-02-14"], ["2027-02-14"], 2027)
    with pytest.raises(ScheduleError, match="lists no day off"):
        read_schedule_text("2027-02-14 班", 2027)


# -- the use cases, on SQLite and PostgreSQL ----------------------------------------------------


def test_gaps_say_provisional_for_2027_and_nothing_once_pasted(
    session: Session, clock: FixedClock
) -> None:
    clock.set(TODAY)
    if load_policy(session).calendar.year_source(2027) is YearSource.OFFICIAL:
        pytest.skip("the installed chinesecalendar knows 2027")
    assert year_sources(session, clock.now()) == [
        (2026, YearSource.OFFICIAL),
        (2027, YearSource.PROVISIONAL),
    ]
    assert calendar_gaps(session, clock.now()) == [CalendarGap(2027, YearSource.PROVISIONAL)]
    # One local day off does not make the year entered (the statutory days stay).
    set_calendar_day(session, actor=ADMIN, clock=clock, day=date(2027, 3, 15), kind="holiday")
    assert calendar_gaps(session, clock.now())[0].provisional
    assert not load_policy(session).calendar.is_workday(date(2027, 2, 10))
    schedule = paste_year_schedule(session, actor=ADMIN, clock=clock, year=2027, text=NOTICE_2027)
    assert schedule.source is YearSource.ENTERED
    assert calendar_gaps(session, clock.now()) == []
    calendar = load_policy(session).calendar  # what every process now loads
    assert local(calendar.due_at(at("2027-02-04 16:00"), TWO_DAYS)) == "2027-02-15 16:00"
    # The paste replaced the year's local days: 15 March went with it.
    assert calendar.is_workday(date(2027, 3, 15))
    days = {item.day: item for item in special_days(session, 2027)}
    assert days[date(2027, 2, 14)].is_workday
    assert days[date(2027, 2, 14)].source == "entered"
    # The holidays package ends at 2100; beyond, nobody knows.
    assert calendar_gaps(session, datetime(2100, 6, 1, tzinfo=UTC)) == [
        CalendarGap(2100, YearSource.PROVISIONAL),
        CalendarGap(2101, YearSource.UNKNOWN),
    ]


def test_a_refused_paste_writes_nothing(session: Session, clock: FixedClock) -> None:
    before = load_policy(session).calendar
    with pytest.raises(InvalidInput, match="line 2") as caught:
        paste_year_schedule(
            session, actor=ADMIN, clock=clock, year=2027, text="2027-01-01 休\n2027-02-30 休"
        )
    assert caught.value.field == "schedule"
    assert caught.value.detail["line"] == 2
    with pytest.raises(PermissionDenied):
        paste_year_schedule(
            session,
            actor=Actor(user_id=None, username="d", role=Role.DISPATCHER),
            clock=clock,
            year=2027,
            text=NOTICE_2027,
        )
    assert load_policy(session).calendar == before


# -- the faces ------------------------------------------------------------------------------------


def test_the_api_pastes_a_year_as_lists_or_text(api: Api, clock: FixedClock) -> None:
    clock.set(TODAY)
    url = f"{API}/admin/calendar/2027"
    body = {
        "days_off": ["2027-01-01..2027-01-03", "2027-02-05..2027-02-13"],
        "workdays": ["2027-02-14", "2027-02-20"],
    }
    refused = api.client.put(url, headers=api.headers("dispatcher"), json=body)
    assert refused.status_code == 403
    bad = api.client.put(
        url, headers=api.headers("admin"), json={"text": "2027-01-01 休\n2027-02-3x 休"}
    )
    assert bad.status_code == 422
    error = bad.json()["error"]
    assert error["message"].startswith("line 2: ")
    assert error["detail"]["line"] == 2
    assert (
        api.client.put(url, headers=api.headers("admin"), json={**body, "text": "x"}).status_code
        == 422
    )
    shown = api.get("/admin/calendar/2027", "admin").json()
    if shown["source"] == "official":
        pytest.skip("the installed chinesecalendar knows 2027")
    assert shown["source"] == "provisional"
    done = api.client.put(url, headers=api.headers("admin"), json=body)
    assert done.status_code == 200, done.text
    assert done.json()["source"] == "entered"
    days = {d["day"]: d for d in done.json()["days"]}
    assert days["2027-02-14"] == {"day": "2027-02-14", "workday": True, "source": "entered"}
    again = api.client.put(url, headers=api.headers("admin"), json={"text": NOTICE_2027})
    assert again.status_code == 200
    assert api.get("/admin/calendar/2027", "admin").json() == again.json()


def test_the_cli_sets_and_shows_a_year(db_url: str, tmp_path: Path, session: Session) -> None:
    env = {"DUBAN_DATABASE_URL": db_url, "DUBAN_VAR_DIR": str(tmp_path / "var")}
    runner = CliRunner()
    if load_policy(session).calendar.year_source(2027) is YearSource.OFFICIAL:
        pytest.skip("the installed chinesecalendar knows 2027")
    shown = runner.invoke(cli_app, ["calendar", "show", "2027"], env=env)
    assert shown.exit_code == 0, shown.output
    assert shown.output.startswith("2027: provisional")
    assert "2027-02-10 休  Wed  provisional" in shown.output
    bad = tmp_path / "bad.txt"
    bad.write_text("2027-01-01 休\n2027-02-14 上班 加班\n", encoding="utf-8")
    refused = runner.invoke(cli_app, ["calendar", "set", "2027", str(bad)], env=env)
    assert refused.exit_code == 2
    assert "line 2" in refused.output
    notice = tmp_path / "2027.txt"
    notice.write_text(NOTICE_2027, encoding="utf-8")
    done = runner.invoke(cli_app, ["calendar", "set", "2027", str(notice)], env=env)
    assert done.exit_code == 0, done.output
    assert "2027: entered; 12 days off" in done.output
    shown = runner.invoke(cli_app, ["calendar", "show", "2027"], env=env)
    assert "2027-02-14 班  Sun  entered" in shown.output
    assert "2027-02-10 休  Wed  entered" in shown.output


def test_the_admin_page_shows_provisional_and_takes_a_paste(
    client: TestClient, app: FastAPI, world: World, clock: FixedClock
) -> None:
    clock.set(TODAY)
    token = sign_in(client, app, world, "admin")
    page = client.get("/admin/calendar")
    assert page.status_code == 200
    if 'data-year="2027" data-source="official"' in page.text:
        pytest.skip("the installed chinesecalendar knows 2027")
    assert 'data-year="2027" data-source="provisional"' in page.text
    assert "临时（仅法定节假日，无调休上班日）" in page.text
    assert 'id="calendar-provisional"' in page.text
    assert "2027 年的节假日为临时数据" in page.text
    form = {"csrf_token": token, "year": "2027", "schedule": "2027-01-01 休\n2027-02-3x 休"}
    refused = client.post("/admin/calendar/schedule", data=form)
    assert refused.status_code == 422
    assert "第 2 行" in refused.text
    assert "2027-02-3x" in refused.text  # the paste is kept for correcting
    assert client.post("/admin/calendar/schedule", data={**form, "year": "27"}).status_code == 422
    client.get("/lang/en", params={"next": "/admin/calendar"})
    english = client.post("/admin/calendar/schedule", data=form)
    assert "Line 2: " in english.text
    assert "provisional (statutory holidays, no make-up workdays)" in english.text
    done = client.post(
        "/admin/calendar/schedule", data={**form, "schedule": NOTICE_2027}, follow_redirects=False
    )
    assert done.status_code == 303, done.text
    page = client.get("/admin/calendar")
    assert 'data-year="2027" data-source="entered"' in page.text
    assert 'id="calendar-provisional"' not in page.text
    assert "2027-02-14" in page.text
