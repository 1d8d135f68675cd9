"""Demo users and teams for ``manage.py seed_demo``; other apps add their data in their own
``demo.py`` (``seed(people=...)``), called in INSTALLED_APPS order after this one."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings

from crm.models import Role, RoleCost, Team, User


@dataclass(frozen=True)
class DemoPeople:
    admin: User
    manager: User
    alice: User  # rep, Inside Sales
    bob: User  # rep, Inside Sales
    carol: User  # rep, Enterprise (another team)
    erin: User  # manager of Enterprise
    inside_sales: Team
    enterprise: Team
    dmitry: User | None = None  # rep, Inside Sales, reads the CRM in Russian
    wei: User | None = None  # manager of Inside Sales (with Max), reads the CRM in Chinese

    @property
    def reps(self) -> list[User]:
        return [self.alice, self.bob, self.carol]


DEMO_USERS = [
    # username, first, last, role, language ("": as the browser asks)
    ("admin", "Ada", "Admin", Role.ADMIN, ""),
    ("manager", "Max", "Manager", Role.MANAGER, ""),
    ("alice", "Alice", "Novak", Role.REP, ""),
    ("bob", "Bob", "Ivanov", Role.REP, ""),
    ("carol", "Carol", "Chen", Role.REP, ""),
    ("erin", "Erin", "Schmidt", Role.MANAGER, ""),
    ("dmitry", "Дмитрий", "Соколов", Role.REP, "ru"),
    ("wei", "伟", "王", Role.MANAGER, "zh-hans"),
]


def _demo_user(username: str, first: str, last: str, role: str, language: str) -> User:
    user, created = User.objects.get_or_create(
        username=username,
        defaults={
            "first_name": first,
            "last_name": last,
            "email": f"{username}@demo.example",
            "role": role,
            "is_staff": role == Role.ADMIN,
            "is_superuser": role == Role.ADMIN,
            "language": language,
            "time_zone": {"ru": "Europe/Moscow", "zh-hans": "Asia/Shanghai"}.get(language, ""),
        },
    )
    if created:
        user.set_password(settings.DEMO_PASSWORD)
        user.save(update_fields=["password"])
    return user


def seed(*, people: DemoPeople | None = None) -> DemoPeople:
    users = {row[0]: _demo_user(*row) for row in DEMO_USERS}
    for role, hourly in ((Role.REP, "40.00"), (Role.MANAGER, "65.00"), (Role.ADMIN, "55.00")):
        RoleCost.objects.get_or_create(role=role, defaults={"hourly_cost": Decimal(hourly)})
    inside, _ = Team.objects.get_or_create(name="Inside Sales")
    enterprise, _ = Team.objects.get_or_create(name="Enterprise")
    inside.members.add(users["alice"], users["bob"], users["dmitry"])
    inside.managers.add(users["manager"], users["wei"])
    enterprise.members.add(users["carol"])
    enterprise.managers.add(users["erin"])
    return DemoPeople(
        admin=users["admin"],
        manager=users["manager"],
        alice=users["alice"],
        bob=users["bob"],
        carol=users["carol"],
        erin=users["erin"],
        inside_sales=inside,
        enterprise=enterprise,
        dmitry=users["dmitry"],
        wei=users["wei"],
    )
