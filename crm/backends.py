"""Authentication backend that loads, with the signed-in user, what every page asks about them.

Every page needs the user, the owner ids they may read and change (``visible_to`` /
``editable_by``) and the unread-notification count of the bell. Django's ``ModelBackend``
loads the user alone, and the rest cost two or three more queries per request. Here the
user row comes with both id lists and the count as subquery columns: one query.
"""

from __future__ import annotations

from django.contrib.auth.backends import ModelBackend
from django.contrib.postgres.expressions import ArraySubquery
from django.db.models import Count, IntegerField, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce

from crm.models import Notification, Team, User


def users_with_request_data():
    members = Team.members.through.objects
    unread = (
        Notification.objects.filter(user=OuterRef("pk"), read_at__isnull=True)
        .order_by()
        .values("user")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return User._default_manager.annotate(
        _visible_ids=ArraySubquery(
            members.filter(Q(team__members=OuterRef("pk")) | Q(team__managers=OuterRef("pk"))).values("user_id")
        ),
        _managed_ids=ArraySubquery(members.filter(team__managers=OuterRef("pk")).values("user_id")),
        _unread=Coalesce(Subquery(unread, output_field=IntegerField()), Value(0)),
    )


class RequestUserBackend(ModelBackend):
    """``ModelBackend`` whose ``get_user`` (the per-request load) preloads access and bell data."""

    def get_user(self, user_id):
        try:
            user = users_with_request_data().get(pk=user_id)
        except User.DoesNotExist:
            return None
        if not self.user_can_authenticate(user):
            return None
        user.preload_request_data(
            visible_ids=user._visible_ids, managed_ids=user._managed_ids, unread_notifications=user._unread
        )
        return user
