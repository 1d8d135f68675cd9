from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ServiceConfig(AppConfig):
    name = "service"
    verbose_name = _("Service cases")

    def ready(self) -> None:
        from django.utils.translation import gettext_noop

        import service.bulk_actions  # noqa: F401 (registers the case list's bulk actions, for the web and the worker)
        from activities.templatetags.activity_tags import register_timeline_kinds
        from contacts.attachments import for_write, register_attachable
        from contacts.merge import register_merge_handler
        from service import merge
        from service.models import Case
        from service.selectors import case_for_user

        register_merge_handler(kind="company", key="service", move=merge.company_move, restore=merge.company_restore)
        register_merge_handler(kind="contact", key="service", move=merge.contact_move, restore=merge.contact_restore)

        register_attachable(
            kind="case",
            model=Case,
            get=for_write(case_for_user),
            customers=lambda c: {"company": c.company, "contact": c.contact},
        )
        register_timeline_kinds(
            filter_key="cases",
            filter_label=gettext_noop("Cases"),
            kinds={
                "case_opened": (_("Case opened"), "bi-life-preserver"),
                "case_resolved": (_("Case resolved"), "bi-check2-circle"),
                "case_changed": (_("Case changed"), "bi-pencil-square"),
                "case_csat": (_("Satisfaction"), "bi-star"),
                "sla_breach": (_("SLA breach"), "bi-alarm"),
            },
        )
