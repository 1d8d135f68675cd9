"""Capture one email read from standard input: the MTA's pipe for the capture domain.

    manage.py ingest_email [--recipient ADDRESS] < message.eml

Exit status as sysexits.h, which Postfix and Exim turn into a bounce or a retry: 0 captured
(or a duplicate), 65 bad data (too large, not an email), 67 unknown or inactive capture
address. The result — or the refusal — is one JSON line (stdout; stderr for a refusal).
"""

from __future__ import annotations

import json
import sys

from django.conf import settings
from django.core.management.base import BaseCommand

from integrations.email_capture import CaptureError, email_capture


class Command(BaseCommand):
    # Tests pass a binary stream as ``stdin`` (call_command has no other way in).
    stealth_options = ("stdin",)
    help = "Capture an email (raw RFC 822 on standard input) for the owner of its capture address."

    def add_arguments(self, parser):
        parser.add_argument(
            "--recipient",
            action="append",
            default=[],
            help="the envelope recipient (Postfix: ${recipient}); checked first for the capture address",
        )

    def handle(self, *args, **options):
        limit = settings.EMAIL_CAPTURE_MAX_BYTES
        stdin = options.get("stdin") or sys.stdin.buffer
        raw = stdin.read(limit + 1)
        try:
            result = email_capture(raw=raw, envelope_recipients=options["recipient"])
        except CaptureError as exc:
            self.stderr.write(json.dumps(exc.as_dict(), ensure_ascii=False))
            sys.exit(exc.exit_code)
        self.stdout.write(json.dumps(result.as_dict()))
