"""Thin Celery tasks: beat triggers the sweep, services do the work. SLA due times live in
the database (no eta/countdown)."""

from celery import shared_task

from service import services


@shared_task(time_limit=120, soft_time_limit=110)
def sla_sweep() -> int:
    """Every minute (beat): claim due SLA timers and warn or escalate."""
    return services.sla_sweep()


@shared_task(
    time_limit=60,
    soft_time_limit=50,
    autoretry_for=(Exception,),
    retry_backoff=30,
    retry_backoff_max=600,
    max_retries=6,
)
def send_survey(case_id: int, resolved_at: str | None = None) -> bool:
    """After a case is resolved (outbox): email its contact the satisfaction survey link."""
    return services.survey_send(case_id=case_id, resolved_at=resolved_at) is not None
