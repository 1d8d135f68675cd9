"""Thin Celery tasks: beat triggers them, services do the work. No eta/countdown anywhere:
reminder due times live in the database and the sweep finds them."""

from celery import shared_task

from activities import services


@shared_task(time_limit=120, soft_time_limit=110)
def reminder_sweep() -> int:
    """Every minute (beat): claim due reminders and deliver them."""
    return services.reminder_sweep()


@shared_task(time_limit=600, soft_time_limit=570)
def daily_digest() -> int:
    """Every morning (beat): each opted-in user's open tasks for the day, once per day."""
    return services.digest_send_all()
