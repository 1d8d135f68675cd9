from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from activities.models import ActivityType
from contacts.models import Company, Contact
from service import services
from service.models import Case, CaseActivity
from service.tests.factories import make_case, policy

pytestmark = pytest.mark.django_db


@pytest.fixture
def case(north, owner):
    policy()
    return make_case(team=north, owner=owner, assignee=owner, subject="North's broken printer")


READ_PAGES = ["service:detail"]
WRITE_GETS = ["service:edit"]
WRITE_POSTS = {
    "service:status": {"status": "open"},
    "service:assign": {"take": "1"},
    "service:reply": {"type": "note", "subject": "Looked at it"},
}


class TestAccess:
    def test_the_queue_team_reads_the_case(self, case, owner_client, teammate_client, manager_client, admin_client):
        for client in (owner_client, teammate_client, manager_client, admin_client):
            response = client.get(reverse("service:detail", args=[case.pk]))
            assert response.status_code == 200
            assert "North&#x27;s broken printer" in response.content.decode()

    def test_an_outsider_gets_404_on_every_case_url(self, case, outsider_client):
        for name in [*READ_PAGES, *WRITE_GETS]:
            assert outsider_client.get(reverse(name, args=[case.pk])).status_code == 404
        for name, data in WRITE_POSTS.items():
            assert outsider_client.post(reverse(name, args=[case.pk]), data).status_code == 404
        case.refresh_from_db()
        assert case.status == "new" and not CaseActivity.objects.exists()

    def test_an_outsider_does_not_see_it_in_lists_or_on_the_company(self, case, outsider, outsider_client):
        assert "broken printer" not in outsider_client.get(reverse("service:list")).content.decode()
        case.company.owner = outsider  # even on a company the outsider may see
        case.company.save()
        page = outsider_client.get(case.company.get_absolute_url())
        # The cases panel leaves the case out (the company's timeline, like its activities,
        # is the company's: whoever reads the company reads it).
        assert page.status_code == 200 and f'href="{case.get_absolute_url()}"' not in page.content.decode()
        assert "No cases." in page.content.decode()

    def test_one_compiled_cases_panel_answers_each_viewer_with_their_own_queues(
        self, case, south, outsider, owner_client, outsider_client, admin_client
    ):
        # A south case of the same company and contact, assigned to the outsider.
        other = services.case_create(
            actor=outsider, subject="South's leaking roof", team=south, company=case.company, contact=case.contact,
            priority="normal", channel="email", assignee=outsider,
        )  # fmt: skip
        Company.objects.filter(pk=case.company_id).update(owner=outsider)
        Contact.objects.filter(pk=case.contact_id).update(owner=outsider)
        for record in (case.company, case.contact):
            seen = {
                who: client.get(record.get_absolute_url()).content.decode()
                for who, client in (("outsider", outsider_client), ("admin", admin_client))
            }
            assert f'href="{other.get_absolute_url()}"' in seen["outsider"]
            assert f'href="{case.get_absolute_url()}"' not in seen["outsider"]
            assert f'href="{other.get_absolute_url()}"' in seen["admin"]
            assert f'href="{case.get_absolute_url()}"' in seen["admin"]
        # The owner of the north case no longer reads the records (the outsider owns them).
        assert owner_client.get(case.company.get_absolute_url()).status_code == 404

    def test_a_teammate_reads_but_does_not_change_an_assigned_case(self, case, teammate_client):
        assert teammate_client.get(reverse("service:edit", args=[case.pk])).status_code == 403
        for name, data in WRITE_POSTS.items():
            assert teammate_client.post(reverse(name, args=[case.pk]), data).status_code == 403
        case.refresh_from_db()
        assert case.status == "new"

    def test_a_teammate_takes_an_unassigned_case(self, case, teammate, teammate_client):
        Case.objects.filter(pk=case.pk).update(assignee=None)
        response = teammate_client.post(reverse("service:assign", args=[case.pk]), {"take": "1"})
        assert response.status_code == 302
        case.refresh_from_db()
        assert case.assignee == teammate

    def test_the_assignee_manager_and_admin_change_it(self, case, owner_client, manager_client, admin_client):
        for client, status in ((owner_client, "open"), (manager_client, "waiting"), (admin_client, "open")):
            response = client.post(reverse("service:status", args=[case.pk]), {"status": status})
            assert response.status_code == 302
            case.refresh_from_db()
            assert case.status == status

    def test_the_list_shows_the_teams_cases_only(self, case, south, outsider, teammate_client, admin_client):
        other = make_case(team=south, owner=outsider, subject="South's leaking roof")
        body = teammate_client.get(reverse("service:list")).content.decode()
        assert "broken printer" in body and "leaking roof" not in body
        body = admin_client.get(reverse("service:list")).content.decode()
        assert "broken printer" in body and "leaking roof" in body
        assert other.pk

    def test_a_bad_status_or_filter_is_not_a_500(self, case, owner_client):
        assert owner_client.post(reverse("service:status", args=[case.pk]), {"status": "\x00"}).status_code == 302
        for params in ({"team": "²"}, {"status": "x"}, {"sort": "bogus"}, {"after": "a\x00b"}, {"after": "garbage"}):
            assert owner_client.get(reverse("service:list"), params).status_code in (200, 400)


class TestPages:
    def test_open_a_case_from_the_form(self, north, owner, owner_client):
        policy(priority="high", first=30)
        company = Company.objects.create(name="Acme", owner=owner)
        contact = Contact.objects.create(first_name="Ann", last_name="Acme", company=company, owner=owner)
        form = owner_client.get(reverse("service:create") + f"?company={company.pk}")
        assert form.status_code == 200
        response = owner_client.post(
            reverse("service:create"),
            {
                "subject": "Screen flickers",
                "company": company.pk,
                "contact": contact.pk,
                "team": north.pk,
                "assignee": owner.pk,
                "priority": "high",
                "channel": "web",
                "description": "Since the update",
            },
        )
        case = Case.objects.get(subject="Screen flickers")
        assert response.status_code == 302 and response.url == case.get_absolute_url()
        assert (case.team, case.assignee, case.channel, case.created_by) == (north, owner, "web", owner)
        assert case.first_response_due_at is not None
        assert case.time_spent_minutes == 0  # none logged yet

    def test_the_time_spent_is_edited_on_the_form_and_shown(self, north, owner, owner_client):
        company = Company.objects.create(name="Acme", owner=owner)
        fields = {"subject": "Long one", "company": company.pk, "team": north.pk, "priority": "low", "channel": "web"}
        owner_client.post(reverse("service:create"), {**fields, "time_spent_minutes": "95"})
        case = Case.objects.get(subject="Long one")
        assert case.time_spent_minutes == 95
        assert "95 minutes" in owner_client.get(case.get_absolute_url()).content.decode()
        response = owner_client.post(reverse("service:create"), {**fields, "time_spent_minutes": "-5"})
        assert response.status_code == 200 and Case.objects.count() == 1  # the field's error, nothing saved

    def test_the_form_refuses_a_queue_and_assignee_the_user_has_no_business_with(
        self, north, south, owner, outsider, owner_client
    ):
        company = Company.objects.create(name="Acme", owner=owner)
        response = owner_client.post(
            reverse("service:create"),
            {"subject": "x", "company": company.pk, "team": south.pk, "priority": "low", "channel": "web"},
        )
        assert response.status_code == 200 and not Case.objects.exists()
        response = owner_client.post(
            reverse("service:create"),
            {"subject": "x", "company": company.pk, "team": north.pk, "assignee": outsider.pk, "priority": "low",
             "channel": "web"},
        )  # fmt: skip
        assert response.status_code == 200 and not Case.objects.exists()

    def test_editing_with_a_stale_version_shows_the_conflict(self, case, owner_client, manager):
        data = {
            "subject": "Mine",
            "company": case.company_id,
            "contact": case.contact_id,
            "team": case.team_id,
            "assignee": case.assignee_id,
            "priority": "normal",
            "channel": "phone",
            "description": "",
            "version": str(case.version),
        }
        services.case_update(case=case, actor=manager, version=case.version, subject="Theirs")
        response = owner_client.post(reverse("service:edit", args=[case.pk]), data)
        assert response.status_code == 409
        assert "Save mine anyway" in response.content.decode()
        case.refresh_from_db()
        assert case.subject == "Theirs"
        data["version"] = str(case.version)
        assert owner_client.post(reverse("service:edit", args=[case.pk]), data).status_code == 302
        case.refresh_from_db()
        assert case.subject == "Mine"

    def test_a_reply_joins_the_conversation(self, case, owner_client):
        response = owner_client.post(
            reverse("service:reply", args=[case.pk]), {"type": "email", "subject": "Replacement on its way"}
        )
        assert response.status_code == 302
        page = owner_client.get(case.get_absolute_url()).content.decode()
        assert "Replacement on its way" in page
        case.refresh_from_db()
        assert case.status == "open" and case.first_responded_at is not None

    def test_the_company_page_shows_the_case_and_its_score(self, case, owner, owner_client):
        services.case_set_status(case=case, actor=owner, status="resolved")
        services.survey_answer(token=services.survey_issue(case=case), score=5)
        page = owner_client.get(case.company.get_absolute_url()).content.decode()
        assert "North&#x27;s broken printer" in page and "5/5" in page
        contact_page = owner_client.get(case.contact.get_absolute_url()).content.decode()
        assert "North&#x27;s broken printer" in contact_page

    def test_contact_options_lists_visible_contacts_of_the_company(self, case, owner_client, outsider_client):
        url = reverse("service:contact-options") + f"?company={case.company_id}"
        assert "Pat Customer" in owner_client.get(url).content.decode()
        assert "Pat Customer" not in outsider_client.get(url).content.decode()


class TestQueryCounts:
    def test_the_list_issues_a_constant_number_of_queries(
        self, north, owner, owner_client, django_assert_max_num_queries
    ):
        for i in range(3):
            make_case(team=north, owner=owner, assignee=owner, subject=f"Case {i}")
        owner_client.get(reverse("service:list"))
        # The user and their teams, the page of cases with their customer, queue and assignee,
        # the queue tabs' counts, the last bulk action's banner: one query each whatever the
        # page size (the queue filter's choices and the rows' tick boxes read the user's teams).
        with django_assert_max_num_queries(5) as few:
            owner_client.get(reverse("service:list"))
        for i in range(3, 30):
            make_case(team=north, owner=owner, assignee=owner, subject=f"Case {i}")
        with django_assert_max_num_queries(len(few.captured_queries)):
            response = owner_client.get(reverse("service:list"))
        assert response.content.decode().count('href="/cases/') >= 30

    def test_the_case_page_issues_a_constant_number_of_queries(
        self, case, owner, owner_client, django_assert_max_num_queries
    ):
        email = ActivityType.objects.get(key="email")
        services.case_log_activity(case=case, actor=owner, type=email, subject="One")
        owner_client.get(case.get_absolute_url())
        # The user, the case, reply types, conversation, timers, surveys, the assignee choices,
        # its files (contacts.attachments).
        with django_assert_max_num_queries(8) as few:
            owner_client.get(case.get_absolute_url())
        for i in range(10):
            services.case_log_activity(case=case, actor=owner, type=email, subject=f"More {i}")
        with django_assert_max_num_queries(len(few.captured_queries)):
            response = owner_client.get(case.get_absolute_url())
        assert "More 9" in response.content.decode()


def test_the_cases_panel_costs_one_query_whatever_the_number_of_cases(
    north, owner, owner_client, django_assert_max_num_queries
):
    first = make_case(team=north, owner=owner, subject="Only one")
    url = first.company.get_absolute_url()
    owner_client.get(url)
    with django_assert_max_num_queries(20) as few:
        owner_client.get(url)
    for i in range(12):
        services.case_create(actor=owner, subject=f"Another {i}", team=north, company=first.company)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = owner_client.get(url)
    assert "13 active cases" in response.content.decode()


def test_a_case_cannot_be_set_back_to_new(case, owner_client):
    owner_client.post(reverse("service:status", args=[case.pk]), {"status": "open"})
    owner_client.post(reverse("service:status", args=[case.pk]), {"status": "new"})
    case.refresh_from_db()
    assert case.status == "open"


def test_the_queue_tabs_count_active_and_breached_cases(case, north, owner, owner_client):
    from service.models import Case as CaseModel

    make_case(team=north, owner=owner, subject="Second")
    CaseModel.objects.filter(pk=case.pk).update(sla_breached=True)
    body = owner_client.get(reverse("service:list")).content.decode()
    assert f'?team={north.pk}">North <span class="badge text-bg-secondary">2</span>' in body
    assert 'title="SLA breached">1</span>' in body


def test_a_list_row_shows_customer_queue_assignee_priority_status_sla_and_opened(case, north, owner, owner_client):
    urgent = make_case(team=north, owner=owner, subject="Urgent one", priority="urgent")
    from service.models import Case as CaseModel

    CaseModel.objects.filter(pk=urgent.pk).update(sla_breached=True, status="open")
    body = owner_client.get(reverse("service:list")).content.decode()
    row = body[body.index(f'href="/cases/{case.pk}/"') :].split("</tr>")[0]
    assert f"#{case.pk} North&#39;s broken printer</a>" in row
    assert "<td>Customer of North&#39;s broken printer · Pat Customer</td>" in row
    assert "<td>North</td>" in row and "<td>Olga Owner</td>" in row
    assert 'case-priority-normal text-bg-secondary">Normal</span>' in row
    assert "<td>New</td>" in row and "reply by" in row
    assert f'<time datetime="{timezone.localtime(case.created_at).isoformat()}">' in row
    urgent_row = body[body.index(f'href="/cases/{urgent.pk}/"') :].split("</tr>")[0]
    assert 'case-priority-urgent text-bg-danger">Urgent</span>' in urgent_row
    assert "Breached</span>" in urgent_row and "<td>Open</td>" in urgent_row and "<td>—</td>" in urgent_row


def test_the_tabs_name_the_queue_of_a_case_still_assigned_to_someone_who_left_it(
    case, north, south, owner, owner_client
):
    other = make_case(team=south, owner=owner, assignee=owner, subject="Left behind")
    body = owner_client.get(reverse("service:list")).content.decode()
    assert "Left behind" in body
    assert f'?team={south.pk}">South <span class="badge text-bg-secondary">1</span>' in body
    assert f'?team={north.pk}">North <span class="badge text-bg-secondary">1</span>' in body
    assert body.index(f"?team={north.pk}") < body.index(f"?team={south.pk}")
    assert other.team_id == south.pk


def test_the_queue_tabs_count_the_users_queues_and_their_cases_in_other_queues(
    north, south, owner, outsider, admin_user
):
    from service.selectors import queue_counts

    policy()
    for n in range(3):
        make_case(team=north, owner=owner, subject=f"North {n}")
    Case.objects.filter(subject="North 0").update(sla_breached=True)
    Case.objects.filter(subject="North 2").update(status="closed")  # not active: not counted
    make_case(team=south, owner=outsider, assignee=owner, subject="South, assigned to the owner")
    make_case(team=south, owner=outsider, subject="South, someone else's")

    def tabs(user):
        return [(queue.name, queue.active, queue.breached) for queue in queue_counts(user)]

    assert tabs(owner) == [(north.name, 2, 1), (south.name, 1, 0)]  # south: only the case assigned to them
    assert tabs(outsider) == [(south.name, 2, 0)]
    assert tabs(admin_user) == sorted([(north.name, 2, 1), (south.name, 2, 0)])


@pytest.mark.parametrize("who", ["owner", "outsider", "manager", "admin_user"])
@pytest.mark.parametrize("sort", ["newest", "oldest"])
def test_the_unfiltered_list_is_the_filtered_lists_default(request, who, sort, north, south, owner, outsider):
    """The compiled first page (no filter) holds the same rows in the same order as the list
    built from the filter form's default: the active cases the user may see."""
    from service import selectors
    from service.forms import CaseFilterForm

    policy()
    for n in range(4):
        make_case(team=north, owner=owner, subject=f"North {n}")
        make_case(team=south, owner=outsider, subject=f"South {n}")
    elsewhere = make_case(team=north, owner=owner, assignee=outsider, subject="North, for the outsider")
    closed = make_case(team=north, owner=owner, subject="North, closed")
    Case.objects.filter(pk=closed.pk).update(status="closed")
    user = request.getfixturevalue(who)

    built = selectors.case_page(
        user, CaseFilterForm(None, user=user).apply(Case.objects.visible_to(user), user), sort=sort, after="", before=""
    )
    compiled = selectors.unfiltered_case_page(user, sort=sort)

    assert [row["id"] for row in compiled.rows] == [row["id"] for row in built.rows]
    assert compiled.rows == built.rows and compiled.next_cursor == built.next_cursor
    ids = {row["id"] for row in compiled.rows}
    assert closed.pk not in ids
    assert elsewhere.pk in ids  # its queue's team, its assignee (the outsider), admins
    assert len(ids) == {"owner": 5, "outsider": 5, "manager": 5, "admin_user": 9}[who]


def test_a_filtered_list_does_not_take_the_unfiltered_page(case, north, owner, owner_client):
    Case.objects.filter(pk=case.pk).update(status="closed")
    unfiltered = owner_client.get(reverse("service:list")).content.decode()
    closed = owner_client.get(reverse("service:list"), {"status": "closed"}).content.decode()
    assert "broken printer" not in unfiltered and "broken printer" in closed


def test_a_user_in_no_team_sees_only_the_cases_assigned_to_them_unfiltered(north, owner):
    from crm.tests.factories import UserFactory
    from service import selectors

    policy()
    loner = UserFactory(username="loner")
    make_case(team=north, owner=owner, subject="Not theirs")
    theirs = make_case(team=north, owner=owner, assignee=loner, subject="Theirs")
    page = selectors.unfiltered_case_page(loner, sort="newest")
    assert [row["id"] for row in page.rows] == [theirs.pk]


@pytest.mark.parametrize("who", ["owner", "admin_user"])
def test_the_list_rows_read_their_related_names_without_joining(request, who, north, owner):
    """The rows' company, contact, queue and assignee names come from primary-key subqueries
    (``crm.rows.names_by_subquery``): the page query a rep's or manager's visit plans anew
    every time joins no table."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    policy()
    assigned = make_case(team=north, owner=owner, assignee=owner, subject="Assigned")
    bare = make_case(team=north, owner=owner, subject="Bare")
    Case.objects.filter(pk=bare.pk).update(company=None, contact=None)
    client = request.getfixturevalue(f"{who.removesuffix('_user')}_client")

    for query in ({}, {"priority": "normal"}):  # the compiled first page and the filtered one
        with CaptureQueriesContext(connection) as captured:
            response = client.get(reverse("service:list"), query)
        page = response.content.decode()
        rows = {row["id"]: row for row in response.context["page"].rows}
        assert rows[assigned.pk]["company__name"] == "Customer of Assigned" and "Customer of Assigned" in page
        contact = (rows[assigned.pk]["contact__first_name"], rows[assigned.pk]["contact__last_name"])
        assert contact == ("Pat", "Customer")
        assert rows[assigned.pk]["team__name"] == north.name
        assert rows[assigned.pk]["assignee__username"] == owner.username
        names = ("company__name", "contact__last_name", "assignee__username")
        assert [rows[bare.pk][name] for name in names] == [None] * 3
        row_queries = [q["sql"] for q in captured.captured_queries if '"service_case"."subject"' in q["sql"]]
        assert row_queries and not any(" JOIN " in sql for sql in row_queries)
