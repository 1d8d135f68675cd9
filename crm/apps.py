from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CrmConfig(AppConfig):
    name = "crm"
    verbose_name = _("Users and teams")

    def ready(self) -> None:
        from crm import (
            custom_fields,  # noqa: F401  (keeps the cached definitions and indexes in step)
            history,  # noqa: F401  (connects the change-reason receiver)
            signals,  # noqa: F401  (connects the security-log receivers)
        )
