"""Thin Celery tasks: beat triggers the sweep, services do the work. SLA due times live in
the database (no eta/countdown)."""

from celery import shared_task

from service import services


@shared_task(time_limit=120, soft_time_limit=110)
def sla_sweep() -> int:
    """Every minute (beat): claim due SLA timers and warn or escalate."""
    return services.sla_sweep()
