from django.conf import settings
from django.http import HttpRequest


def shell(request: HttpRequest) -> dict:
    """What the app shell (navigation, bell) needs on every page."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"base_currency": settings.BASE_CURRENCY}
    return {
        "base_currency": settings.BASE_CURRENCY,
        "unread_notifications": user.unread_notification_count,
    }
