"""The API measurements of ``bench/run.py``: the contact list through a token and the event
ingest throughput (issue #16). Both run against the benchmark's gunicorn; the token, the event
type and the events they create are removed afterwards so runs stay comparable."""

from __future__ import annotations

import datetime as dt
import json
import secrets
import time
from typing import Any

from bench.run import HOST, PageResult, Session, measure_page


class ApiSession(Session):
    """A client that authenticates with a bearer token instead of a session cookie."""

    def __init__(self, port: int, token: str) -> None:
        super().__init__(port)
        self.token = token

    def request(self, method: str, path: str, body: str | None = None, content_type: str = "application/json"):
        import http.client

        conn = http.client.HTTPConnection(HOST, self.port, timeout=120)
        headers = {"Authorization": f"Bearer {self.token}"}
        if body is not None:
            headers["Content-Type"] = content_type
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        response.body = response.read()  # type: ignore[attr-defined]
        conn.close()
        return response


def _token(username: str) -> tuple[Any, str]:
    from crm.models import User
    from integrations.models import TokenScope
    from integrations.services import api_token_create

    created = api_token_create(user=User.objects.get(username=username), name="benchmark", scope=TokenScope.READ_WRITE)
    return created.token, created.secret


def measure_api_pages(port: int, personas: dict[str, str], subjects: dict[str, Any], args: Any) -> list[PageResult]:
    from bench.pages import API_PAGES

    results = []
    tokens = []
    try:
        for persona, username in personas.items():
            token, secret = _token(username)
            tokens.append(token)
            session = ApiSession(port, secret)
            for page in API_PAGES:
                if args.only and page.name not in args.only:
                    continue
                results.append(measure_page(session, page, subjects[persona], persona, args))
    finally:
        for token in tokens:
            token.delete()
    return results


def measure_event_ingest(port: int, username: str) -> dict[str, Any]:
    """``batches`` POSTs of ``batch_size`` new events each, naming the rep's companies by domain
    (a share of unknown ones), timed by the client; events per second over the sum of the
    requests' times."""
    from django.urls import reverse

    from activities.models import TimelineEvent
    from bench.pages import EVENT_INGEST as spec
    from contacts.models import Company
    from crm.models import User
    from integrations.models import BusinessEvent, EventType

    user = User.objects.get(username=username)
    domains = list(
        Company.objects.visible_to(user)
        .filter(archived_at__isnull=True)
        .exclude(domain="")
        .order_by("id")
        .values_list("domain", flat=True)[: spec.batch_size]
    )
    if not domains:
        return {"name": "event ingest", "status": "error", "problem": "the rep sees no company with a domain"}
    event_type, _ = EventType.objects.get_or_create(
        key="bench_invoice_paid", defaults={"name": "Invoice paid (benchmark)", "revenue_effect": "revenue"}
    )
    source = f"bench-{secrets.token_hex(3)}"
    token, secret = _token(username)
    session = ApiSession(port, secret)
    url = reverse("api:events")
    seconds: list[float] = []
    created = unmatched = 0
    problems: list[str] = []
    try:
        for batch in range(spec.batches):
            events = []
            for i in range(spec.batch_size):
                n = batch * spec.batch_size + i
                matched = n % spec.unmatched_every != spec.unmatched_every - 1
                events.append(
                    {
                        "source": source,
                        "external_id": f"INV-{n}",
                        "type": event_type.key,
                        "occurred_at": (dt.datetime(2026, 1, 1, tzinfo=dt.UTC) + dt.timedelta(minutes=n)).isoformat(),
                        "customer": {"domain": domains[n % len(domains)] if matched else f"unknown{n}.bench.example"},
                        "title": f"Invoice {n} paid",
                        "amount": f"{100 + n % 900}.00",
                        "currency": "USD" if n % 3 else "EUR",
                        "data": {"invoice": str(n), "lines": n % 7 + 1},
                    }
                )
            body = json.dumps({"events": events})
            started = time.perf_counter()
            response = session.request("POST", url, body)
            seconds.append(time.perf_counter() - started)
            if response.status != 200:
                problems.append(f"batch {batch}: HTTP {response.status} {response.body[:200]!r}")
                break
            results = json.loads(response.body)["results"]
            created += sum(1 for r in results if r["status"] == "created")
            unmatched += sum(1 for r in results if r["status"] == "created" and not r["matched"])
    finally:
        ids = list(BusinessEvent.objects.filter(source=source).values_list("id", flat=True))
        TimelineEvent.objects.filter(kind="business_event", source=source).delete()
        BusinessEvent.objects.filter(id__in=ids).delete()
        token.delete()
    total = sum(seconds)
    rate = created / total if total else 0.0
    result = {
        "name": "event ingest",
        "status": "error" if problems else "ok",
        "batches": len(seconds),
        "batch_size": spec.batch_size,
        "events": created,
        "unmatched": unmatched,
        "seconds": round(total, 2),
        "batch_p50_ms": round(sorted(seconds)[len(seconds) // 2] * 1000, 1) if seconds else None,
        "events_per_second": round(rate, 1),
        "min_events_per_second": spec.min_events_per_second,
    }
    if problems:
        result["problem"] = "; ".join(problems)
    elif created != spec.batches * spec.batch_size:
        result.update(status="error", problem=f"{created} of {spec.batches * spec.batch_size} events created")
    elif rate < spec.min_events_per_second:
        result.update(status="over budget", problem=f"{rate:.0f} events/s < {spec.min_events_per_second:.0f}")
    return result
