"""The API's lists read each field's way once per serializer class (``ReadListSerializer``) and
tags / deal contacts from one array column: the same JSON as the record serializers' own
``to_representation`` of each record, which the single-record endpoints use."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.urls import reverse
from django.utils import timezone
from rest_framework import serializers
from rest_framework.renderers import JSONRenderer

from activities.models import Activity
from activities.tests.factories import ActivityFactory, activity_type
from contacts.models import Company, Contact
from contacts.tests.factories import CompanyFactory, ContactFactory, TagFactory
from crm import custom_fields
from crm.models import CustomField
from deals.models import Deal, DealStatus
from deals.tests.factories import DealFactory, LostReasonFactory
from integrations import serializers as s
from integrations.tests.conftest import token_client

pytestmark = pytest.mark.django_db

WHEN = dt.datetime(2026, 3, 1, 23, 30, 15, 123456, tzinfo=dt.UTC)


@pytest.fixture
def custom(db):
    for model in ("contacts.company", "contacts.contact", "deals.deal"):
        CustomField.objects.create(model=model, key="tier", label="Tier", field_type="choice", choices=["A", "B"])
        CustomField.objects.create(model=model, key="renewal", label="Renewal", field_type="date")
    custom_fields.forget_definitions()
    yield
    custom_fields.forget_definitions()


def _records(owner, teammate):
    """Companies, contacts, deals and activities with empty and filled values of every kind."""
    zeta, alpha, beta = TagFactory(name="zeta"), TagFactory(name="Alpha"), TagFactory(name="beta")
    CompanyFactory(owner=owner, name="Bare", domain="", country="", size="")
    full = CompanyFactory(
        owner=teammate,
        name="Ünïcode & <Co>",
        size="11-50",
        phone="+1 212 555 0100",
        custom={"tier": "A", "renewal": "2027-01-31"},
        archived_at=WHEN,
    )
    full.tags.add(zeta, alpha, beta)  # added out of order: the list sorts as the record does
    lonely = ContactFactory(owner=owner, company=None, country="", birth_date=None)
    known = ContactFactory(
        owner=teammate,
        company=full,
        birth_date=dt.date(1980, 2, 29),
        do_not_call=True,
        custom={"tier": "B"},
        archived_at=WHEN,
    )
    known.tags.add(beta, zeta)
    open_deal = DealFactory(owner=owner, company=None, amount=Decimal("0.50"))
    lost = DealFactory(
        owner=teammate,
        company=full,
        amount=Decimal("12345.67"),
        probability=7,
        probability_is_manual=True,
        custom={"renewal": "2027-06-01"},
    )
    Deal.objects.filter(pk=lost.pk).update(
        status=DealStatus.LOST, closed_at=WHEN, lost_reason=LostReasonFactory(), lost_note="Budget <cut>"
    )
    lost.contacts.add(known, lonely)
    open_deal.contacts.add(lonely)
    ActivityFactory(owner=owner)
    ActivityFactory(
        owner=teammate,
        type=activity_type("meeting"),
        company=full,
        contact=known,
        deal=lost,
        due_at=WHEN,
        ends_at=WHEN + dt.timedelta(hours=1),
        duration_minutes=60,
        done_at=WHEN,
        outcome="Signed",
    )


LISTS = [
    (
        s.CompanySerializer,
        lambda: s.with_tag_names(Company.objects.all()),
        lambda: Company.objects.prefetch_related("tags"),
    ),
    (
        s.ContactSerializer,
        lambda: s.with_tag_names(Contact.objects.all()),
        lambda: Contact.objects.prefetch_related("tags"),
    ),
    (
        s.DealSerializer,
        lambda: s.with_contact_ids(Deal.objects.select_related("stage")),
        lambda: Deal.objects.select_related("stage").prefetch_related("contacts"),
    ),
    (
        s.ActivitySerializer,
        lambda: Activity.objects.select_related("type"),
        lambda: Activity.objects.select_related("type"),
    ),
]


@pytest.mark.parametrize(
    ("serializer", "listed", "single"), LISTS, ids=["companies", "contacts", "deals", "activities"]
)
@pytest.mark.parametrize("zone", ["UTC", "Asia/Shanghai", "America/New_York"])
def test_a_list_reads_each_record_as_the_record_serializer_does(
    custom, owner, teammate, serializer, listed, single, zone
):
    _records(owner, teammate)
    with timezone.override(zone):
        many = serializer(list(listed().order_by("pk")), many=True).data
        one_by_one = [serializer(record).data for record in single().order_by("pk")]
    assert isinstance(serializer(many=True), s.ReadListSerializer)
    assert len(many) >= 2
    assert many == one_by_one
    assert JSONRenderer().render(many) == JSONRenderer().render(one_by_one)


def test_the_lists_carry_tags_and_deal_contacts_sorted(owner, teammate):
    _records(owner, teammate)
    companies = s.CompanySerializer(s.with_tag_names(Company.objects.order_by("pk")), many=True).data
    assert [row["tags"] for row in companies] == [[], ["Alpha", "beta", "zeta"]]
    deals = s.DealSerializer(s.with_contact_ids(Deal.objects.order_by("pk")), many=True).data
    lonely, known = Contact.objects.order_by("pk")
    assert [row["contacts"] for row in deals] == [[lonely.pk], sorted([lonely.pk, known.pk])]


def test_the_api_list_answers_what_each_record_endpoint_answers(custom, owner, teammate):
    _records(owner, teammate)
    client = token_client(owner)
    for list_name, record_name in [
        ("api:companies", "api:company"),
        ("api:contacts", "api:contact"),
        ("api:deals", "api:deal"),
        ("api:activities", "api:activity"),
    ]:
        listed = client.get(reverse(list_name), {"archived": "include"}).json()["results"]
        assert len(listed) >= 2, list_name
        assert listed == [client.get(reverse(record_name, args=[row["id"]])).json() for row in listed], list_name


def test_a_field_the_list_cannot_read_is_refused_when_first_read(owner):
    class Nested(serializers.ModelSerializer):
        class Meta:
            model = Company
            fields = ["id", "name"]

    class WithNested(serializers.ModelSerializer):
        company = Nested()

        class Meta:
            model = Contact
            fields = ["id", "company"]
            list_serializer_class = s.ReadListSerializer

    ContactFactory(owner=owner, company=CompanyFactory(owner=owner))
    with pytest.raises(ImproperlyConfigured, match="company"):
        WithNested(Contact.objects.all(), many=True).data  # noqa: B018
