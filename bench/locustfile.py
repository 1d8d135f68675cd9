"""Mixed users for the load test (`make loadtest`, bench/loadtest.py): what a working day sends.

Reps (most users) browse the company and contact lists, open 360 pages, search, log an
activity and move a deal on the board; managers read the funnel, forecast and customer value
and look at the board. Every user signs in as a generated user (bench/dataset.py) and finds
what to open by following the links of the pages it sees, as a person would (signed in
beforehand by the driver when it passes ``LOADTEST_SESSIONS``). Bounded: the
driver runs each step for a fixed time, on loopback only.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import os
import random
import re
from pathlib import Path
from urllib.parse import urlparse

from locust import HttpUser, between, task

PASSWORD = os.environ.get("LOADTEST_PASSWORD", "bench-pass-2026")
REPS = int(os.environ.get("LOADTEST_REPS", "20"))
MANAGERS = int(os.environ.get("LOADTEST_MANAGERS", "3"))
SEARCH_TERMS = os.environ.get("LOADTEST_SEARCH", "smith,ivanov,wang,acme").split(",")

# username -> cookies of a session signed in beforehand (LOADTEST_SESSIONS: a JSON file).
SESSIONS: dict[str, dict[str, str]] = (
    json.loads(Path(os.environ["LOADTEST_SESSIONS"]).read_text()) if os.environ.get("LOADTEST_SESSIONS") else {}
)

_rep_numbers = itertools.cycle(range(1, REPS + 1))
_manager_numbers = itertools.cycle(range(1, MANAGERS + 1))

COMPANY = re.compile(r'href="/companies/(\d+)/"')
CONTACT = re.compile(r'href="/contacts/(\d+)/"')
COLUMN = re.compile(r'id="cards-(\d+)"')
CARD = re.compile(r'id="deal-card-(\d+)" data-stage-id="(\d+)" data-draggable')
BOARD = re.compile(r'href="(/deals/board/\d+/)"')


def _think_time():
    """Seconds between a user's clicks: 1–3, a person reading the page (``LOADTEST_THINK``
    "1-3"); "0" for the capacity step, users clicking without pause, so the rate is what the
    server can serve rather than what the users ask for."""
    low, _, high = os.environ.get("LOADTEST_THINK", "1-3").partition("-")
    return between(float(low), float(high or low))


class CrmUser(HttpUser):
    abstract = True
    wait_time = _think_time()
    username = ""

    def on_start(self) -> None:
        self.companies: list[str] = []
        self.contacts: list[str] = []
        self.board = "/deals/board/"
        signed_in = SESSIONS.get(self.username)
        if signed_in:
            # A session the driver signed in before the step (bench/loadtest.py): people sign in
            # once a day, and a password hash (0.5 s of CPU) per simulated user would be most
            # of what a one-minute step measures.
            host = urlparse(self.host).hostname
            for name, value in signed_in.items():
                # The server's own Set-Cookie (a rotated CSRF token) then replaces it, not adds one.
                self.client.cookies.set(name, value, domain=host, path="/")
            return
        self.client.get("/accounts/login/", name="login page")
        token = self.client.cookies.get("csrftoken", "")
        with self.client.post(
            "/accounts/login/",
            {"username": self.username, "password": PASSWORD, "csrfmiddlewaretoken": token},
            headers={"Referer": self.host + "/accounts/login/"},
            name="sign in",
            allow_redirects=False,
            catch_response=True,
        ) as response:
            if response.status_code != 302:
                response.failure(f"{self.username} could not sign in ({response.status_code})")

    def _post(self, path: str, data: dict, name: str, **headers: str):
        headers = {"X-CSRFToken": self.client.cookies.get("csrftoken", ""), "Referer": self.host + path, **headers}
        return self.client.post(path, data, headers=headers, name=name, allow_redirects=False, catch_response=True)

    def look_at_board(self) -> tuple[list[str], list[tuple[str, str]]]:
        response = self.client.get(self.board, name="board")
        body = response.text
        if self.board == "/deals/board/" and (found := BOARD.search(body)):
            self.board = found.group(1)
        return COLUMN.findall(body), CARD.findall(body)


class Rep(CrmUser):
    weight = 6

    def on_start(self) -> None:
        self.username = f"bench-rep-{next(_rep_numbers):02d}"
        super().on_start()

    @task(3)
    def company_list(self) -> None:
        body = self.client.get("/companies/", name="company list").text
        self.companies = COMPANY.findall(body)[:50] or self.companies

    @task(2)
    def contact_list(self) -> None:
        body = self.client.get("/contacts/", name="contact list").text
        self.contacts = CONTACT.findall(body)[:50] or self.contacts

    @task(3)
    def company_page(self) -> None:
        if self.companies:
            self.client.get(f"/companies/{random.choice(self.companies)}/", name="company 360")

    @task(2)
    def contact_page(self) -> None:
        if self.contacts:
            self.client.get(f"/contacts/{random.choice(self.contacts)}/", name="contact 360")

    @task(2)
    def search(self) -> None:
        self.client.get("/search/", params={"q": random.choice(SEARCH_TERMS)}, name="search")

    @task(1)
    def deal_list(self) -> None:
        self.client.get("/deals/", name="deal list")

    @task(1)
    def log_activity(self) -> None:
        due = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
        data = {"type": "task", "subject": "Load test follow-up", "due_at": due}
        with self._post("/activities/log/", data, name="log activity") as response:
            if response.status_code != 302:
                response.failure(f"logging an activity answered {response.status_code}")

    @task(1)
    def move_deal(self) -> None:
        columns, cards = self.look_at_board()
        if len(columns) < 2 or not cards:
            return
        deal, stage = random.choice(cards)
        target = columns[(columns.index(stage) + 1) % len(columns)] if stage in columns else columns[0]
        data = {"stage": target, "expected_stage": stage}
        with self._post(f"/deals/{deal}/move/", data, name="move deal", **{"HX-Request": "true"}) as response:
            # 409: someone moved it first (the board says so) — expected under load, not an error.
            if response.status_code == 409:
                response.success()
            elif response.status_code != 200:
                response.failure(f"moving a deal answered {response.status_code}")


class Manager(CrmUser):
    weight = 2

    def on_start(self) -> None:
        self.username = f"bench-manager-{next(_manager_numbers)}"
        super().on_start()

    @task(2)
    def funnel(self) -> None:
        self.client.get("/reports/funnel/", name="funnel report")

    @task(2)
    def forecast(self) -> None:
        self.client.get("/reports/forecast/", name="forecast report")

    @task(1)
    def customer_value(self) -> None:
        self.client.get("/reports/customers/", name="customer value")

    @task(1)
    def board(self) -> None:
        self.look_at_board()

    @task(1)
    def deal_list(self) -> None:
        self.client.get("/deals/", name="deal list")
