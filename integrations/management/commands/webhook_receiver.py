"""A development receiver for outbound webhooks: prints each delivery and whether its signature
verifies. Not for production (one thread, no TLS)."""

from __future__ import annotations

import json
import os
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from integrations.webhooks import signature_verify

MAX_BODY = 5 * 1024 * 1024


def make_handler(*, secret: str, status: int, write: Any) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(min(length, MAX_BODY))
            ok = signature_verify(
                secret=secret,
                timestamp=self.headers.get("X-CRM-Timestamp", ""),
                signature=self.headers.get("X-CRM-Signature", ""),
                body=body,
            )
            event = self.headers.get("X-CRM-Event", "?")
            delivery = self.headers.get("X-CRM-Delivery", "?")
            write(f"{'VERIFIED' if ok else 'BAD SIGNATURE'} {event} delivery={delivery}")
            try:
                write(json.dumps(json.loads(body), indent=2, ensure_ascii=False))
            except ValueError:
                write(repr(body[:500]))
            answer = status if ok else 401
            self.send_response(answer)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(b"ok" if answer < 300 else b"not accepted")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


class Command(BaseCommand):
    help = "Listen on 127.0.0.1:PORT and print webhook deliveries whose signature verifies with --secret."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=8765)
        parser.add_argument(
            "--secret",
            default=os.environ.get("WEBHOOK_SECRET", ""),
            help="The endpoint's signing secret (or set WEBHOOK_SECRET).",
        )
        parser.add_argument(
            "--status",
            type=int,
            default=200,
            help="Answer verified deliveries with this code (500: watch the retries).",
        )

    def handle(self, *args: Any, port: int, secret: str, status: int, **options: Any) -> None:
        if not secret:
            self.stderr.write("Give --secret (the one shown when the endpoint was registered).")
            return
        server = HTTPServer(("127.0.0.1", port), make_handler(secret=secret, status=status, write=self.stdout.write))
        self.stdout.write(f"Listening on http://127.0.0.1:{port}/ — Ctrl+C to stop")
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
