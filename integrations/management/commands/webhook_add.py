"""Register a webhook endpoint from the shell (the same as Django admin › Webhook endpoints › Add)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from integrations.models import WebhookEventKind
from integrations.webhooks import webhook_endpoint_create


class Command(BaseCommand):
    help = "Register a webhook endpoint and print its signing secret (shown once)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("url")
        parser.add_argument(
            "--kinds",
            default="all",
            help="Comma-separated event kinds, or 'all' (default). Kinds: " + ", ".join(WebhookEventKind.values),
        )
        parser.add_argument("--description", default="")

    def handle(self, *args: Any, url: str, kinds: str, description: str, **options: Any) -> None:
        wanted = list(WebhookEventKind.values) if kinds == "all" else [k.strip() for k in kinds.split(",") if k.strip()]
        unknown = sorted(set(wanted) - set(WebhookEventKind.values))
        if unknown or not wanted:
            raise CommandError(f"Unknown event kinds: {', '.join(unknown) or '(none given)'}")
        try:
            endpoint = webhook_endpoint_create(url=url, event_kinds=wanted, description=description)
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from None
        self.stdout.write(f"Endpoint {endpoint.pk}: {endpoint.url} ({', '.join(endpoint.event_kinds)})")
        self.stdout.write(f"Signing secret (shown once): {endpoint.secret}")
