from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IntegrationsConfig(AppConfig):
    name = "integrations"
    verbose_name = _("API and integrations")

    def ready(self) -> None:
        from integrations import (
            receivers,  # noqa: F401 - connects the webhook receivers to the other apps' signals
            schema,  # noqa: F401 - registers the token auth with drf-spectacular
        )
