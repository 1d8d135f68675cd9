"""Celery wired the standard way: settings under the CELERY_ namespace, tasks autodiscovered."""

import logging
import os

from celery import Celery
from celery.signals import beat_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")

app = Celery("crm")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@beat_init.connect
def _heartbeat_at_start(sender, **kwargs) -> None:
    """A beat that starts proves it at once, not a minute later (/healthz waits for it)."""
    try:
        sender.app.send_task("crm.tasks.heartbeat")
    except Exception:
        logging.getLogger(__name__).warning("beat: the first heartbeat could not be sent", exc_info=True)
