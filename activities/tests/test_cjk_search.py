"""Two Chinese characters in the global search: deal titles and activity subjects are found
through their CJK bigram indexes (a pattern without trigrams made the trigram index return
every row: 6–13 s at 3,000,000 activities)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.urls import reverse

from activities.models import Activity
from activities.tests.factories import ActivityFactory, DealFactory
from contacts.selectors import text_contains_q
from deals.models import Deal

pytestmark = pytest.mark.django_db


def test_the_global_search_finds_chinese_deals_and_activities_one_may_see(owner, outsider, owner_client):
    DealFactory(owner=owner, title="华信科技 续约")
    DealFactory(owner=owner, title="华为 pilot")
    DealFactory(owner=outsider, title="华信 secret renewal")
    ActivityFactory(owner=owner, subject="华信: 电话")
    ActivityFactory(owner=outsider, subject="华信 outsider call")

    body = owner_client.get(reverse("search"), {"q": "华信"}).content.decode()
    assert "华信科技 续约" in body
    assert "华信: 电话" in body
    assert "华为 pilot" not in body
    assert "secret renewal" not in body
    assert "outsider call" not in body


def test_the_pair_must_be_in_one_piece(owner):
    DealFactory(owner=owner, title="华信")
    DealFactory(owner=owner, title="信华")  # the same characters the other way round
    assert list(Deal.objects.filter(text_contains_q("title", "华信")).values_list("title", flat=True)) == ["华信"]


def test_two_chinese_characters_read_the_bigram_indexes_not_the_trigram_ones(owner):
    with connection.cursor() as cursor:
        # Bitmap scans only (an empty table's planner would walk any btree index instead).
        cursor.execute("SET enable_seqscan = off")
        cursor.execute("SET enable_indexscan = off")
        deal_plan = Deal.objects.filter(text_contains_q("title", "华信")).explain()
        activity_plan = Activity.objects.filter(text_contains_q("subject", "华信")).explain()
        latin_plan = Activity.objects.filter(text_contains_q("subject", "renewal")).explain()
        cursor.execute("RESET enable_seqscan")
        cursor.execute("RESET enable_indexscan")
    assert "deals_deal_title_cjk_bigrams" in deal_plan
    assert "activities_activity_subject_cjk_bigrams" in activity_plan
    assert "trgm" not in activity_plan
    assert "activity_subject_trgm" in latin_plan  # three or more characters: the trigram index
