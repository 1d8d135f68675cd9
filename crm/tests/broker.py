"""A real broker outage for tests, and a look at what the relay really put in Redis.

``broker_down()`` points the project's Celery app at a closed port (127.0.0.1:1), so every
publish fails the way it does while Redis is down — no mock of Celery or kombu; the relay
opens its own connection from ``broker_url`` on every batch, so the change takes effect at
once and is undone on exit.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import redis
from celery.utils.nodenames import anon_nodename
from django.conf import settings

from crm.celery import app as celery_app

CLOSED_PORT_BROKER = "redis://127.0.0.1:1/0"


@contextmanager
def broker_down() -> Iterator[None]:
    saved = celery_app.conf.broker_url
    celery_app.conf.broker_url = CLOSED_PORT_BROKER
    try:
        yield
    finally:
        celery_app.conf.broker_url = saved


def broker() -> redis.Redis:
    return redis.Redis.from_url(settings.CELERY_BROKER_URL)


def queue_name() -> str:
    return settings.CELERY_TASK_DEFAULT_QUEUE


def take_outbox_messages(row_ids: set[int]) -> list[dict[str, Any]]:
    """Remove from the Redis queue the messages this process's relay sent for ``row_ids`` and
    return them as ``{"id", "task", "args", "kwargs"}`` (so no worker of another test runs them)."""
    from crm.models import Outbox

    # pytest-xdist's workers share the broker but not the database, and the queues keep what
    # earlier runs left (test databases number rows from 1 again): a row id alone may be another
    # worker's or another run's. Take only messages this process published (Celery's "origin",
    # gen<pid>@<host>) whose task and arguments are this database's row's.
    origin = anon_nodename()
    rows = {row.pk: (row.task, list(row.args)) for row in Outbox.objects.filter(pk__in=row_ids)}
    found = []
    client = broker()
    # Every kind of work has its own queue (settings.CELERY_TASK_ROUTES): look in each.
    for queue in settings.CELERY_QUEUE_NAMES.values():
        for raw in client.lrange(queue, 0, -1):
            message = json.loads(raw)
            task_id = message["headers"]["id"]
            if message["headers"].get("origin") != origin:
                continue
            if not task_id.startswith("outbox-") or int(task_id.split("-")[1]) not in row_ids:
                continue
            args, kwargs, _embed = json.loads(base64.b64decode(message["body"]))
            if rows.get(int(task_id.split("-")[1])) != (message["headers"]["task"], list(args)):
                continue
            client.lrem(queue, 1, raw)
            found.append({"id": task_id, "task": message["headers"]["task"], "args": args, "kwargs": kwargs})
    return found


def run_like_a_worker(message: dict[str, Any]) -> Any:
    """Run the task a message names with its arguments, as the worker would (not eager mode)."""
    return celery_app.tasks[message["task"]](*message["args"], **message["kwargs"])
