"""Real concurrency against PostgreSQL: committed data, two connections, two threads."""

import threading
import time
from decimal import Decimal

import pytest
from django.db import connection, connections

from activities.models import Activity
from reports import value
from reports.models import CustomerValue, DormancyFollowUp
from reports.services import customer_value_recompute, dormancy_followups_create, rollups_rebuild
from reports.tests.conftest import VALUE_NOW

pytestmark = pytest.mark.django_db(transaction=True)


def _in_thread(target, results: list, index: int) -> threading.Thread:
    def run() -> None:
        try:
            results[index] = target()
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_two_concurrent_follow_up_runs_create_one_task(value_built):
    results: list = [None, None]
    threads = [_in_thread(lambda: dormancy_followups_create(now=VALUE_NOW), results, index) for index in range(2)]
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(results) == [0, 1]
    c = value_built["companies"]["C"]
    assert Activity.objects.filter(company=c, type__key="task").count() == 1
    assert DormancyFollowUp.objects.filter(company=c).count() == 1


def test_readers_see_the_old_figures_until_the_recompute_commits(value_built, monkeypatch):
    b = value_built["companies"]["B"]
    assert CustomerValue.objects.get(company=b).revenue_total == Decimal("500.00")
    b.deals.update(amount=Decimal("800"))
    rollups_rebuild()
    # Hold the recompute's transaction open after the new rows are written.
    monkeypatch.setattr(value, "INSERT_COHORTS", value.INSERT_COHORTS + "; SELECT pg_sleep(2)")
    results: list = [None]
    thread = _in_thread(lambda: customer_value_recompute(now=VALUE_NOW), results, 0)
    time.sleep(1)
    assert thread.is_alive()
    assert CustomerValue.objects.count() == 7  # never empty, never doubled
    assert CustomerValue.objects.get(company=b).revenue_total == Decimal("500.00")  # the old figures
    thread.join(timeout=60)
    assert results[0] is not None
    connection.close()
    assert CustomerValue.objects.get(company=b).revenue_total == Decimal("800.00")  # the new ones
