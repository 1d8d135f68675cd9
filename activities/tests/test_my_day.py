"""My day's sections: at most MY_DAY_LIMIT rows each, exact counts, "Show all N" links to the
activity list filtered to exactly that section, and the rows rendered in Python."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.template import engines
from django.urls import reverse
from django.utils import timezone

from activities.models import Activity
from activities.selectors import LIST_PAGE_SIZE, MY_DAY_LIMIT
from activities.tests.factories import ActivityFactory, CompanyFactory, ContactFactory, DealFactory, activity_type

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def noon(monkeypatch):
    """Today at 12:00 local time, so "due later today" and "this week" never straddle midnight."""
    fixed = timezone.localtime().replace(hour=12, minute=0, second=0, microsecond=0)
    monkeypatch.setattr(timezone, "now", lambda: fixed)
    return fixed


@pytest.fixture
def busy_day(owner, noon):
    """55 overdue, 3 due later today, 22 due this week, plus work the sections must leave out."""
    tomorrow = noon.replace(hour=0) + timedelta(days=1)
    overdue = [
        ActivityFactory(owner=owner, subject=f"Late {i:02d}", due_at=noon - timedelta(hours=i + 1)) for i in range(55)
    ]
    today = [ActivityFactory(owner=owner, subject=f"Today {i}", due_at=noon + timedelta(hours=i + 1)) for i in range(3)]
    week = [
        ActivityFactory(owner=owner, subject=f"Week {i:02d}", due_at=tomorrow + timedelta(hours=5 * i + 8))
        for i in range(22)
    ]
    ActivityFactory(owner=owner, subject="Next month", due_at=noon + timedelta(days=30))
    ActivityFactory(owner=owner, subject="Done late", due_at=noon - timedelta(hours=1), done_at=noon)
    ActivityFactory(owner=owner, subject="Done today", due_at=noon + timedelta(hours=1), done_at=noon)
    ActivityFactory(owner=owner, subject="Undated", due_at=None)
    return {"overdue": overdue, "today": today, "week": week}


def _show_all(html: str) -> dict[str, str]:
    """status → href of each "Show all" link on the page."""
    return {
        re.search(r"status=(\w+)", href).group(1): href.replace("&amp;", "&")
        for href in re.findall(r'class="day-show-all" href="([^"]+)"', html)
    }


def _list_pks(client, href: str) -> list[int]:
    """Every activity on the list behind ``href``, following the "Next" pages."""
    pks, params = [], dict(pair.split("=") for pair in href.split("?", 1)[1].split("&"))
    while True:
        response = client.get(reverse("activities:list"), params)
        assert response.status_code == 200
        pks += [activity.pk for activity in response.context["rows"]]
        if not response.context["next_cursor"]:
            return pks
        params["after"] = response.context["next_cursor"]


class TestSections:
    def test_each_section_shows_its_most_urgent_rows_and_its_exact_size(self, owner_client, busy_day):
        response = owner_client.get(reverse("activities:my-day"))
        day = response.context["day"]
        assert len(day["overdue"]) == MY_DAY_LIMIT == 20
        # Earliest due first, as before: the ones overdue the longest.
        by_due = sorted(busy_day["overdue"], key=lambda a: a.due_at)
        assert [a.pk for a in day["overdue"]] == [a.pk for a in by_due[:MY_DAY_LIMIT]]
        assert [a.subject for a in day["today"]] == ["Today 0", "Today 1", "Today 2"]
        assert [a.pk for a in day["upcoming"]] == [a.pk for a in busy_day["week"][:MY_DAY_LIMIT]]
        assert day["counts"] == {"overdue": 55, "today": 3, "upcoming": 22}
        html = response.content.decode()
        assert '<span class="badge text-bg-danger">55</span>' in html
        assert '<span class="badge text-bg-primary">3</span>' in html
        assert '<span class="badge text-bg-secondary">22</span>' in html
        assert html.count('class="list-group-item activity-row') == 2 * MY_DAY_LIMIT + 3

    def test_a_section_that_fits_has_no_show_all_link(self, owner_client, owner, busy_day):
        html = owner_client.get(reverse("activities:my-day")).content.decode()
        links = _show_all(html)
        assert set(links) == {"overdue", "week"}
        assert "Show all 55 overdue" in html and "Show all 22 due this week" in html
        assert links["overdue"] == f"{reverse('activities:list')}?owner={owner.pk}&status=overdue&sort=due"

    def test_empty_sections_say_so(self, owner_client, noon):
        html = owner_client.get(reverse("activities:my-day")).content.decode()
        assert "Nothing overdue." in html and "Nothing else due today." in html
        assert "Nothing planned for the next days." in html
        assert 'class="day-show-all"' not in html
        assert '<span class="badge text-bg-danger">0</span>' in html

    @pytest.mark.parametrize("status", ["overdue", "week"])
    def test_show_all_lists_exactly_that_sections_activities(self, owner_client, busy_day, status):
        href = _show_all(owner_client.get(reverse("activities:my-day")).content.decode())[status]
        expected = sorted(busy_day[status], key=lambda a: (a.due_at, a.pk))
        assert _list_pks(owner_client, href) == [a.pk for a in expected]

    def test_the_list_pages_a_long_section(self, owner_client, owner, busy_day):
        response = owner_client.get(reverse("activities:list"), {"owner": owner.pk, "status": "overdue", "sort": "due"})
        assert len(response.context["rows"]) == LIST_PAGE_SIZE
        assert response.context["next_cursor"]

    def test_the_due_today_filter_leaves_out_overdue_done_and_later_work(self, owner_client, owner, busy_day):
        pks = _list_pks(owner_client, f"/?owner={owner.pk}&status=today&sort=due")
        assert pks == [a.pk for a in busy_day["today"]]


class TestShowAllAccess:
    """The list behind "Show all" keeps the list's rules: whoever may read the assignee's
    activities sees them; anyone else gets an empty list, not their own or everyone's."""

    def _overdue(self, client, owner) -> list[str]:
        response = client.get(reverse("activities:list"), {"owner": owner.pk, "status": "overdue", "sort": "due"})
        assert response.status_code == 200
        return [a.subject for a in response.context["rows"]]

    def test_the_owner_manager_teammate_and_admin_see_the_owners_section(
        self, owner_client, manager_client, teammate_client, admin_client, owner, busy_day
    ):
        for client in (owner_client, manager_client, teammate_client, admin_client):
            subjects = self._overdue(client, owner)
            assert len(subjects) == LIST_PAGE_SIZE and all(s.startswith("Late ") for s in subjects)

    def test_an_outsider_gets_nothing(self, outsider_client, outsider, owner, busy_day, noon):
        ActivityFactory(owner=outsider, subject="Outsider's own", due_at=noon - timedelta(hours=1))
        assert self._overdue(outsider_client, owner) == []
        html = outsider_client.get(reverse("activities:list"), {"owner": owner.pk, "status": "overdue"}).content
        assert b"Late 0" not in html and b"Outsider&#x27;s own" not in html

    def test_a_manager_on_a_team_members_day_links_to_that_members_list(self, manager_client, owner, busy_day):
        response = manager_client.get(reverse("activities:my-day"), {"user": owner.pk})
        assert response.context["day"]["counts"]["overdue"] == 55
        links = _show_all(response.content.decode())
        assert f"owner={owner.pk}&" in links["overdue"]
        assert _list_pks(manager_client, links["overdue"])[:3] == [
            a.pk for a in sorted(busy_day["overdue"], key=lambda a: a.due_at)[:3]
        ]

    def test_a_manager_cannot_open_another_teams_day_or_its_list(self, manager_client, outsider, noon):
        ActivityFactory(owner=outsider, subject="South work", due_at=noon - timedelta(hours=1))
        response = manager_client.get(reverse("activities:my-day"), {"user": outsider.pk})
        assert response.context["day"]["counts"]["overdue"] == 0
        assert self._overdue(manager_client, outsider) == []


class TestQueries:
    def test_my_day_queries_do_not_grow_with_rows(self, owner_client, owner, busy_day, django_assert_max_num_queries):
        company = CompanyFactory(owner=owner)
        contact = ContactFactory(owner=owner, company=company)
        deal = DealFactory(owner=owner, company=company)
        Activity.objects.filter(owner=owner).update(company=company, contact=contact, deal=deal)
        # Session, user, the day (rows and counts in one), stale deals, and the home panels; a
        # rep has no one to switch to, so the people are not loaded.
        with django_assert_max_num_queries(5):
            response = owner_client.get(reverse("activities:my-day"))
        assert response.content.decode().count(f">{company.name}</a>") == 2 * MY_DAY_LIMIT + 3

    def test_a_managers_view_of_a_members_day(self, manager_client, owner, busy_day, django_assert_max_num_queries):
        # No home panels on someone else's day.
        with django_assert_max_num_queries(4):
            manager_client.get(reverse("activities:my-day"), {"user": owner.pk})

    def test_the_show_all_list(self, manager_client, owner, busy_day, django_assert_max_num_queries):
        # The activity list's: with the saved views menu and the last bulk action's banner.
        with django_assert_max_num_queries(6):
            manager_client.get(reverse("activities:list"), {"owner": owner.pk, "status": "week", "sort": "due"})


class TestRows:
    """The markup the htmx toggle and reschedule menu rely on (the old row template's)."""

    def _row(self, activity, **context) -> str:
        template = engines["django"].from_string("{% load activity_rows %}{% activity_row activity %}")
        return template.render({"activity": activity, "csrf_token": "tok", **context})

    def test_an_open_row(self, owner, noon):
        company = CompanyFactory(owner=owner, name="Acme & Sons")
        contact = ContactFactory(owner=owner, company=company, first_name="Ann", last_name="<Lee>")
        deal = DealFactory(owner=owner, company=company, title="Big 'one'")
        activity = ActivityFactory(
            owner=owner,
            subject='<script>alert("x")</script>',
            type=activity_type("call"),
            due_at=noon - timedelta(days=1),
            company=company,
            contact=contact,
            deal=deal,
        )
        html = self._row(activity, now=noon)
        pk = activity.pk
        toggle = reverse("activities:toggle-done", args=[pk])
        reschedule = reverse("activities:reschedule", args=[pk])
        assert html.startswith(f'<li class="list-group-item activity-row" id="activity-row-{pk}">')
        assert (
            f'<form method="post" action="{toggle}" hx-post="{toggle}" hx-target="#activity-row-{pk}" '
            'hx-swap="outerHTML">' in html
        )
        assert html.count('<input type="hidden" name="csrfmiddlewaretoken" value="tok">') == 3
        assert 'title="Mark done"' in html and "Reopen" not in html
        assert html.count(f'action="{reschedule}" hx-post="{reschedule}"') == 2
        for shift in ("1h", "tomorrow", "next_week"):
            assert f'name="shift" value="{shift}"' in html
        local = timezone.localtime(activity.due_at)
        assert f'id="due-{pk}" required value="{local:%Y-%m-%dT%H:%M}"' in html
        assert '<span class="text-danger"><i class="bi bi-clock" aria-hidden="true"></i> ' in html
        year = "" if local.year == timezone.localdate().year else f" {local.year}"
        assert f"{local.day} {local:%b}{year}, {local:%H:%M}</span>" in html
        # The menu button keeps its name when its text is hidden below 768 px.
        assert 'aria-expanded="false" aria-label="Reschedule" title="Reschedule">' in html
        assert f'href="{activity.get_absolute_url()}">&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;</a>' in html
        assert f'· <a href="{company.get_absolute_url()}">Acme &amp; Sons</a>' in html
        assert f'· <a href="{contact.get_absolute_url()}">Ann &lt;Lee&gt;</a>' in html
        assert f'· <a href="{deal.get_absolute_url()}">Big &#39;one&#39;</a>' in html
        kind = activity.type
        assert f'<i class="bi {kind.icon}" style="color: {kind.color}" aria-hidden="true" title="{kind.name}">' in html

    def test_an_item_overdue_since_last_year_shows_the_year(self, owner, noon):
        due = noon.replace(year=noon.year - 1, month=6, day=8, hour=9)
        html = self._row(ActivityFactory(owner=owner, due_at=due), now=noon)
        assert f"8 Jun {noon.year - 1}, 09:00</span>" in html

    def test_a_done_row_can_be_reopened_and_has_no_reschedule_menu(self, owner, noon):
        activity = ActivityFactory(owner=owner, due_at=noon - timedelta(days=1), done_at=noon)
        html = self._row(activity, now=noon)
        assert 'class="list-group-item activity-row is-done"' in html
        assert 'class="btn btn-sm btn-success" title="Reopen"' in html
        assert "reschedule-menu" not in html and "text-danger" not in html

    def test_an_undated_row_in_the_future(self, owner, noon):
        activity = ActivityFactory(owner=owner, due_at=None)
        html = self._row(activity, now=noon)
        assert "bi-clock" not in html and 'required value=""' in html

    def test_the_htmx_toggle_returns_the_same_row(self, owner_client, owner, noon):
        activity = ActivityFactory(owner=owner, due_at=noon + timedelta(hours=2))
        html = owner_client.post(reverse("activities:toggle-done", args=[activity.pk]), **HTMX).content.decode()
        assert html.strip().startswith(
            f'<li class="list-group-item activity-row is-done" id="activity-row-{activity.pk}">'
        )
        assert 'name="csrfmiddlewaretoken"' in html
