from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from django.http import HttpRequest


def _today_panel(request: HttpRequest) -> dict[str, Any] | None:
    from activities.selectors import today_counts

    return today_counts(request.user)


def _search(user, query: str, limit: int):
    from django.urls import reverse

    from activities.models import Activity
    from contacts.selectors import text_contains_q
    from crm.search import SearchHit, SearchSection

    # ILIKE on the column, which the subject's trigram index answers (two Chinese characters:
    # its CJK bigram index, migration 0012).
    qs = Activity.objects.visible_to(user).filter(text_contains_q("subject", query)).select_related("type")
    rows = list(qs.order_by("-created_at", "-id")[: limit + 1])
    hits = [SearchHit(title=a.subject, url=a.get_absolute_url(), subtitle=str(a.type)) for a in rows[:limit]]
    return SearchSection(
        title=str(_("Activities")), hits=hits, more_url=reverse("activities:list"), has_more=len(rows) > limit
    )


def _decorate_board_cards(cards) -> None:
    from activities.selectors import next_activity_map

    upcoming = next_activity_map([card.pk for card in cards], brief=True)
    for card in cards:
        card.next_activity = upcoming.get(card.pk)


class ActivitiesConfig(AppConfig):
    name = "activities"
    verbose_name = _("Activities and reminders")

    def ready(self) -> None:
        import activities.bulk_actions  # noqa: F401 (registers the list's bulk actions, for the web and the worker)
        from activities import (
            merge,
            receivers,  # noqa: F401 - connects the timeline receiver
        )
        from activities.models import Activity
        from activities.selectors import activity_for_user, attachment_timeline_kind, register_timeline_kind
        from contacts.attachments import for_write, register_attachable
        from contacts.merge import register_merge_handler
        from crm.home import register_home_panel
        from crm.search import register_search_provider
        from deals.hooks import register_card_decorator

        register_home_panel(
            key="activities-today", order=10, template_name="activities/partials/home_today.html", context=_today_panel
        )
        register_search_provider(key="activities", order=40, search=_search)
        register_attachable(
            kind="activity",
            model=Activity,
            get=for_write(activity_for_user),
            customers=lambda a: {"company": a.company, "contact": a.contact, "deal": a.deal},
        )
        register_timeline_kind(attachment_timeline_kind())
        register_card_decorator(key="activities-next", decorate=_decorate_board_cards)
        register_merge_handler(kind="company", key="activities", move=merge.company_move, restore=merge.company_restore)
        register_merge_handler(kind="contact", key="activities", move=merge.contact_move, restore=merge.contact_restore)
