from importlib import import_module

from django.apps import apps
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils.module_loading import module_has_submodule

from crm import demo
from crm.demo import DEMO_USERS


class Command(BaseCommand):
    help = "Create demo users, teams and each app's demo data. Safe to run again: it adds nothing twice."

    def handle(self, *args, **options):
        if not settings.DEBUG:
            raise CommandError("seed_demo creates users with a published password; it only runs with DEBUG on.")
        with transaction.atomic():
            people = demo.seed()
            for app_config in apps.get_app_configs():
                if app_config.name == "crm" or not module_has_submodule(app_config.module, "demo"):
                    continue
                module = import_module(f"{app_config.name}.demo")
                module.seed(people=people)
                self.stdout.write(f"  demo data: {app_config.label}")
        self.stdout.write(self.style.SUCCESS("Demo data ready. Sign in at http://127.0.0.1:8000 with:"))
        for username, _first, _last, role, language in DEMO_USERS:
            reads = f", {language}" if language else ""
            self.stdout.write(f"  {username:<8} / {settings.DEMO_PASSWORD}   ({role.label}{reads})")
