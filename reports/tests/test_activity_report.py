"""Activity report by hand (January 2026; the 5th and the 12th are Mondays):

owner:    2 calls done Mon 5th, 1 meeting done Wed 7th, 1 task done Tue 13th,
          1 task overdue (due Jan 2, open), 1 task due next year (not overdue),
          1 call not done and 1 note done (neither counts)
teammate: 1 call done Tue 6th
outsider: 5 calls done Mon 5th (team South: never in North's figures)

Manager of North, January: leaderboard owner 4 (1 overdue), teammate 1, manager 0;
week of the 5th: 3 calls, 1 meeting; week of the 12th: 1 task done.
"""

import datetime as dt

import pytest
from django.urls import reverse

from activities.models import Activity, ActivityType
from reports.services import rollups_rebuild
from reports.tests.html import table_rows


def at(day: int, month: int = 1, year: int = 2026) -> dt.datetime:
    return dt.datetime(year, month, day, 10, tzinfo=dt.UTC)


def activity(owner, key: str, *, done_at=None, due_at=None) -> Activity:
    return Activity.objects.create(
        type=ActivityType.objects.get(key=key), subject=key, owner=owner, done_at=done_at, due_at=due_at
    )


@pytest.fixture
def activities(owner, teammate, outsider):
    activity(owner, "call", done_at=at(5))
    activity(owner, "call", done_at=at(5))
    activity(owner, "meeting", due_at=at(7), done_at=at(7))
    activity(owner, "task", due_at=at(12), done_at=at(13))
    activity(owner, "task", due_at=at(2))
    activity(owner, "task", due_at=at(2, year=2099))
    activity(owner, "call")
    activity(owner, "note", done_at=at(5))
    activity(teammate, "call", done_at=at(6))
    for _ in range(5):
        activity(outsider, "call", done_at=at(5))
    rollups_rebuild()


def test_the_activity_report_counts_done_work_per_rep_and_week(activities, manager_client):
    response = manager_client.get(reverse("reports:activity"), {"from": "2026-01", "to": "2026-01"})
    report = response.context["activity"]
    board = [
        (line.label, line.calls, line.meetings, line.tasks_done, line.total, line.overdue)
        for line in report.leaderboard
    ]
    assert board == [
        ("Olga Owner", 2, 1, 1, 4, 1),
        ("Tom Teammate", 1, 0, 0, 1, 0),
        ("Mia Manager", 0, 0, 0, 0, 0),
    ]
    weeks = [(line.label, line.calls, line.meetings, line.tasks_done) for line in report.by_week]
    assert weeks == [("2026-01-05", 3, 1, 0), ("2026-01-12", 0, 0, 1)]


def test_a_rep_sees_only_their_own_activity(activities, teammate_client):
    report = teammate_client.get(reverse("reports:activity"), {"from": "2026-01"}).context["activity"]
    assert [(line.label, line.total) for line in report.leaderboard] == [("Tom Teammate", 1)]


def test_the_activity_csv_lists_each_rep_and_week(activities, manager_client):
    body = manager_client.get(reverse("reports:activity-csv"), {"from": "2026-01", "to": "2026-01"}).content.decode()
    lines = body.replace("\r", "").splitlines()
    assert lines[0] == "Week,Owner,Calls,Meetings,Tasks done"
    assert "2026-01-05,Olga Owner,2,1,0" in lines
    assert "2026-01-12,Olga Owner,0,0,1" in lines
    assert "Overdue tasks now,Olga Owner,,,1" in lines
    assert not any("Oscar" in line for line in lines)


def test_the_page_prints_the_leaderboard_and_the_weeks(activities, manager_client, owner):
    owner.first_name = "<Olga>"
    owner.save(update_fields=["first_name"])
    html = manager_client.get(reverse("reports:activity"), {"from": "2026-01", "to": "2026-01"}).content.decode()
    assert table_rows(html, "Leaderboard") == [
        ["1", "&lt;Olga&gt; Owner", "2", "1", "1", "4", "1"],
        ["2", "Tom Teammate", "1", "0", "0", "1", "0"],
        ["3", "Mia Manager", "0", "0", "0", "0", "0"],
    ]
    assert '<span class="badge text-bg-danger">1</span>' in html  # the overdue task
    assert table_rows(html, "Week of") == [["2026-01-05", "3", "1", "0"], ["2026-01-12", "0", "0", "1"]]


def test_a_period_without_activity_says_so_in_the_readers_language(activities, manager_client, manager):
    manager.language = "ru"
    manager.save(update_fields=["language"])
    html = manager_client.get(reverse("reports:activity"), {"from": "2025-01", "to": "2025-01"}).content.decode()
    assert table_rows(html, "Неделя с") == [["За период нет выполненных дел."]]
    assert sorted(row[1] for row in table_rows(html, "Рейтинг")) == ["Mia Manager", "Olga Owner", "Tom Teammate"]
