"""Per-request memo (crm/request_memo.py) and the Redis client reuse (crm/cache.py)."""

from __future__ import annotations

from contextlib import contextmanager
from unittest import mock

from django.core.cache import cache

from crm import custom_fields, request_memo


@contextmanager
def a_request():
    """What request_started and request_finished do to the memo (the signals themselves
    would also close the test's database connection)."""
    request_memo._start()
    try:
        yield
    finally:
        request_memo._finish()


def _counter():
    calls = []

    def compute():
        calls.append(1)
        return len(calls)

    return calls, compute


def test_a_value_is_computed_once_per_request_and_again_in_the_next():
    calls, compute = _counter()
    with a_request():
        assert request_memo.remember("k", compute) == 1
        assert request_memo.remember("k", compute) == 1
    with a_request():
        assert request_memo.remember("k", compute) == 2
    assert len(calls) == 2


def test_outside_a_request_nothing_is_remembered():
    calls, compute = _counter()
    assert request_memo.remember("k", compute) == 1
    assert request_memo.remember("k", compute) == 2


def test_forget_recomputes_within_the_request():
    calls, compute = _counter()
    with a_request():
        request_memo.remember("k", compute)
        request_memo.forget("k")
        assert request_memo.remember("k", compute) == 2


def test_a_list_page_reads_the_custom_field_definitions_from_redis_once(db, owner_client):
    from crm.models import CustomField

    CustomField.objects.create(model="contacts.company", key="region", label="Region", field_type="text")
    custom_fields.forget_definitions()
    with mock.patch.object(custom_fields.cache, "get", wraps=custom_fields.cache.get) as spy:
        response = owner_client.get("/companies/")
    assert response.status_code == 200
    assert b"Region" in response.content
    reads = [c for c in spy.call_args_list if c.args and c.args[0] == custom_fields._CACHE_KEY]
    assert len(reads) == 1


def test_a_definition_changed_in_a_request_is_seen_in_that_request(db):
    from crm.models import CustomField

    with a_request():
        assert custom_fields.fields_for("contacts.company") == []
        CustomField.objects.create(model="contacts.company", key="tier", label="Tier", field_type="text")
        assert [f.key for f in custom_fields.fields_for("contacts.company")] == ["tier"]


def test_the_cache_reuses_one_redis_client_per_pool():
    client = cache._cache
    assert client.get_client(write=True) is client.get_client(write=True)
    cache.set("request-memo-test", {"a": 1}, 30)
    assert cache.get("request-memo-test") == {"a": 1}
    cache.delete("request-memo-test")


def test_a_scope_remembers_outside_a_request_until_it_ends():
    calls, compute = _counter()
    with request_memo.scope():
        assert request_memo.remember("k", compute) == 1
        assert request_memo.remember("k", compute) == 1
    assert request_memo.remember("k", compute) == 2


def test_a_scope_inside_a_request_keeps_the_requests_memo():
    calls, compute = _counter()
    with a_request():
        request_memo.remember("k", compute)
        with request_memo.scope():
            assert request_memo.remember("k", compute) == 1
        assert request_memo.remember("k", compute) == 1
