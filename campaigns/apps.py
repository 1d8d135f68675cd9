from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CampaignsConfig(AppConfig):
    name = "campaigns"
    verbose_name = _("Campaigns")

    def ready(self) -> None:
        from django.utils.translation import gettext_noop

        from activities.templatetags.activity_tags import register_timeline_kinds
        from campaigns import (
            merge,
            receivers,  # noqa: F401  (connects the deal attribution receiver)
        )
        from contacts.merge import register_merge_handler

        register_merge_handler(kind="contact", key="campaigns", move=merge.contact_move, restore=merge.contact_restore)
        register_timeline_kinds(
            filter_key="campaigns",
            filter_label=gettext_noop("Campaigns"),
            kinds={"campaign_response": (_("Campaign response"), "bi-megaphone")},
        )
