"""Writes on companies, contacts and tags.

Every write normalises its input with ``contacts.normalize``, keeps ``completeness`` current,
and leaves exactly one history record per change with the actor set; events a customer's
timeline shows (created, archived, restored, owner changed) go out as ``customer_event``.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from contacts.models import MATCH_FIELDS, Company, Contact, Tag
from contacts.normalize import (
    birth_date_problem,
    domain_from_website,
    normalize_email,
    normalize_phone,
    normalize_postcode,
)
from contacts.signals import customer_event, customer_saved
from crm.models import SecurityEventKind, User
from crm.security import security_event_record
from crm.versioning import bump, lock_versioned

COMPANY_PHONE_FIELDS = ("phone",)
CONTACT_PHONE_FIELDS = ("phone", "mobile")
INVALID_PHONE_MESSAGE = gettext_lazy(
    "“%(value)s” is not a valid phone number for %(region)s. Add the country code (e.g. +7…) or tick “keep as typed”."
)


def _normalise(instance: Company | Contact, phone_fields: tuple[str, ...], *, keep_invalid_phone: bool) -> None:
    """Bring emails, domain and phones into their stored form; raise for an invalid phone
    unless the caller explicitly keeps it as typed (the record is then marked)."""
    for name in ("email", "secondary_email"):
        if hasattr(instance, name):
            setattr(instance, name, normalize_email(getattr(instance, name)))
    for name in ("postcode", "postal_code"):
        if hasattr(instance, name):
            setattr(instance, name, normalize_postcode(getattr(instance, name)))
    if isinstance(instance, Contact):
        problem = birth_date_problem(instance.birth_date)
        if problem:
            raise ValidationError({"birth_date": problem})
    if isinstance(instance, Company) and instance.domain:
        try:
            instance.domain = domain_from_website(instance.domain)
        except ValueError:
            raise ValidationError({"domain": _("Enter a website or domain such as example.com.")}) from None
    country = instance.country
    if not country and isinstance(instance, Contact) and instance.company_id:
        country = instance.company.country  # a local number at a German company is German
    region = str(country) if country else None
    invalid = False
    errors = {}
    for name in phone_fields:
        result = normalize_phone(getattr(instance, name), region)
        setattr(instance, name, result.e164)
        if not result.valid:
            invalid = True
            if not keep_invalid_phone:
                errors[name] = INVALID_PHONE_MESSAGE % {
                    "value": result.e164,
                    "region": region or _("the default region"),
                }
    if errors:
        raise ValidationError(errors)
    instance.phone_is_invalid = invalid


def customer_prepare_admin_save(*, instance: Company | Contact) -> None:
    """Normalise a record edited in Django admin the way the app's forms would.

    An admin saving a phone that does not validate keeps it as typed (and the record is
    marked) rather than being stopped; admin writes history through ``SimpleHistoryAdmin``.
    """
    fields = COMPANY_PHONE_FIELDS if isinstance(instance, Company) else CONTACT_PHONE_FIELDS
    _normalise(instance, fields, keep_invalid_phone=True)
    instance.completeness = instance.compute_completeness()
    if instance.pk:
        bump(instance)  # the admin form checked it still had the version it loaded


def _save(instance: Company | Contact, *, actor: User | None, tags: list[Tag] | None, created: bool) -> None:
    """Save the row and its tags, then write one history record that includes both.

    A changed record must be the row locked in the caller's transaction (``_locked``): its
    version goes up by one, so every form loaded before this write conflicts.
    """
    instance.completeness = instance.compute_completeness()
    if not created:
        bump(instance)  # callers pass the row locked in this transaction
    instance.full_clean(exclude=["owner", "company", "tags"])
    instance.skip_history_when_saving = True
    try:
        instance.save()
        if tags is not None:
            instance.tags.set(tags)
    finally:
        del instance.skip_history_when_saving
    if actor is not None:
        instance._history_user = actor
    type(instance)._customer_history.create_historical_record(instance, "+" if created else "~")
    customer_saved.send(sender=type(instance), instance=instance, created=created, actor=actor)


def _locked(instance: Company | Contact, *, version: int | None = None, submitted: dict[str, Any] | None = None) -> Any:
    """The row of ``instance`` locked for this transaction, checked against the ``version``
    the editor loaded (``VersionConflict`` lists what changed since)."""
    return lock_versioned(
        instance,
        version=version,
        fields=list(submitted or {}),
        submitted=submitted,
        history="history",
    )


def _event(kind: str, title: str, *, actor: User | None, obj: Company | Contact) -> None:
    customer_event.send(
        sender=type(obj),
        kind=kind,
        title=title,
        occurred_at=timezone.now(),
        actor=actor,
        company=obj if isinstance(obj, Company) else obj.company,
        contact=obj if isinstance(obj, Contact) else None,
        deal=None,
    )


# --- Tags ---------------------------------------------------------------------------------


def tags_get_or_create(*, names: Iterable[str]) -> list[Tag]:
    """Tags for ``names``, matched case-insensitively; new names become new tags."""
    wanted: dict[str, str] = {}
    for name in names:
        clean = " ".join(name.split())[:60]
        if clean:
            wanted.setdefault(clean.lower(), clean)
    if not wanted:
        return []
    existing = {tag.name.lower(): tag for tag in Tag.objects.annotate(lname=Lower("name")).filter(lname__in=wanted)}
    missing = [Tag(name=name) for key, name in wanted.items() if key not in existing]
    if missing:
        Tag.objects.bulk_create(missing, ignore_conflicts=True)
        existing.update(
            {tag.name.lower(): tag for tag in Tag.objects.annotate(lname=Lower("name")).filter(lname__in=wanted)}
        )
    return [existing[key] for key in wanted if key in existing]


# --- Companies ----------------------------------------------------------------------------


@transaction.atomic
def company_create(
    *,
    actor: User | None,
    owner: User,
    name: str,
    tag_names: Iterable[str] = (),
    keep_invalid_phone: bool = False,
    **fields: Any,
) -> Company:
    company = Company(owner=owner, name=name.strip(), **fields)
    _normalise(company, COMPANY_PHONE_FIELDS, keep_invalid_phone=keep_invalid_phone)
    _save(company, actor=actor, tags=tags_get_or_create(names=tag_names), created=True)
    _event("created", _("Company %(name)s created") % {"name": company.name}, actor=actor, obj=company)
    return company


@transaction.atomic
def company_update(
    *,
    actor: User | None,
    company: Company,
    version: int | None = None,
    tag_names: Iterable[str] | None = None,
    keep_invalid_phone: bool = False,
    **fields: Any,
) -> Company:
    """Change ``fields`` (and the tags when ``tag_names`` is given); owner changes are events.

    ``version`` is what the editor loaded: when someone saved the company since,
    ``VersionConflict`` says what they changed and nothing is written (``None``: no check).
    """
    company = _locked(company, version=version, submitted=fields)
    old_owner_id = company.owner_id
    for key, value in fields.items():
        setattr(company, key, value)
    _normalise(company, COMPANY_PHONE_FIELDS, keep_invalid_phone=keep_invalid_phone)
    tags = None if tag_names is None else tags_get_or_create(names=tag_names)
    _save(company, actor=actor, tags=tags, created=False)
    if company.owner_id != old_owner_id:
        _owner_event(actor=actor, obj=company)
    return company


@transaction.atomic
def company_archive(*, actor: User | None, company: Company) -> Company:
    company = _locked(company)
    if company.archived_at is None:
        company.archived_at = timezone.now()
        _save(company, actor=actor, tags=None, created=False)
        _event("archived", _("Company %(name)s archived") % {"name": company.name}, actor=actor, obj=company)
    return company


@transaction.atomic
def company_restore(*, actor: User | None, company: Company) -> Company:
    company = _locked(company)
    if company.archived_at is not None:
        company.archived_at = None
        _save(company, actor=actor, tags=None, created=False)
        _event("restored", _("Company %(name)s restored") % {"name": company.name}, actor=actor, obj=company)
    return company


@transaction.atomic
def companies_reassign(*, actor: User | None, companies: QuerySet[Company], owner: User) -> int:
    """Give every company in ``companies`` to ``owner``; each change is in its history."""
    changed = 0
    for company in companies.select_for_update().exclude(owner=owner):
        company.owner = owner
        _save(company, actor=actor, tags=None, created=False)
        _owner_event(actor=actor, obj=company)
        changed += 1
    _bulk_event(actor=actor, model="company", changed=changed, owner=owner)
    return changed


# --- Contacts -----------------------------------------------------------------------------


def _enqueue_contact_match(contact: Contact) -> None:
    """The one place a saved contact's duplicate candidates are queued for recomputing."""
    from contacts.tasks import match_contact  # contacts.tasks imports the import services, which import this

    transaction.on_commit(partial(match_contact.delay, contact.pk))


# A contact's postal address and the company's fields it defaults from.
CONTACT_ADDRESS_FROM_COMPANY = {
    "street": "street",
    "street2": None,
    "city": "city",
    "region": "region",
    "postcode": "postal_code",
}


def contact_address_defaults(company: Company | None) -> dict[str, Any]:
    """The address a new contact of ``company`` starts with: the company's (with its country)."""
    if company is None:
        return {}
    values = {
        name: getattr(company, source) for name, source in CONTACT_ADDRESS_FROM_COMPANY.items() if source is not None
    }
    values["country"] = company.country.code if company.country else ""
    return {name: value for name, value in values.items() if value}


def _default_address(contact: Contact) -> None:
    """A contact created for a company with no address of its own takes the company's; a
    contact without a country takes the company's country."""
    if contact.company_id is None:
        return
    defaults = contact_address_defaults(contact.company)
    if not any(getattr(contact, name) for name in CONTACT_ADDRESS_FROM_COMPANY):
        for name in CONTACT_ADDRESS_FROM_COMPANY:
            if name in defaults:
                setattr(contact, name, defaults[name])
    if not contact.country and defaults.get("country"):
        contact.country = defaults["country"]


@transaction.atomic
def contact_create(
    *,
    actor: User | None,
    owner: User,
    last_name: str,
    tag_names: Iterable[str] = (),
    keep_invalid_phone: bool = False,
    **fields: Any,
) -> Contact:
    """Create a contact; an empty address (and country) defaults to its company's."""
    contact = Contact(owner=owner, last_name=last_name.strip(), **fields)
    _default_address(contact)
    _normalise(contact, CONTACT_PHONE_FIELDS, keep_invalid_phone=keep_invalid_phone)
    _save(contact, actor=actor, tags=tags_get_or_create(names=tag_names), created=True)
    _enqueue_contact_match(contact)
    _event("created", _("Contact %(name)s created") % {"name": contact.full_name}, actor=actor, obj=contact)
    return contact


@transaction.atomic
def contact_update(
    *,
    actor: User | None,
    contact: Contact,
    version: int | None = None,
    tag_names: Iterable[str] | None = None,
    keep_invalid_phone: bool = False,
    **fields: Any,
) -> Contact:
    """As ``company_update``, for a contact."""
    contact = _locked(contact, version=version, submitted=fields)
    old_owner_id = contact.owner_id
    for key, value in fields.items():
        setattr(contact, key, value)
    _normalise(contact, CONTACT_PHONE_FIELDS, keep_invalid_phone=keep_invalid_phone)
    tags = None if tag_names is None else tags_get_or_create(names=tag_names)
    _save(contact, actor=actor, tags=tags, created=False)
    if MATCH_FIELDS.intersection(fields):
        _enqueue_contact_match(contact)
    if contact.owner_id != old_owner_id:
        _owner_event(actor=actor, obj=contact)
    return contact


@transaction.atomic
def contact_archive(*, actor: User | None, contact: Contact) -> Contact:
    contact = _locked(contact)
    if contact.archived_at is None:
        contact.archived_at = timezone.now()
        _save(contact, actor=actor, tags=None, created=False)
        _enqueue_contact_match(contact)
        _event("archived", _("Contact %(name)s archived") % {"name": contact.full_name}, actor=actor, obj=contact)
    return contact


@transaction.atomic
def contact_restore(*, actor: User | None, contact: Contact) -> Contact:
    contact = _locked(contact)
    if contact.archived_at is not None:
        contact.archived_at = None
        _save(contact, actor=actor, tags=None, created=False)
        _enqueue_contact_match(contact)
        _event("restored", _("Contact %(name)s restored") % {"name": contact.full_name}, actor=actor, obj=contact)
    return contact


@transaction.atomic
def contacts_reassign(*, actor: User | None, contacts: QuerySet[Contact], owner: User) -> int:
    """Give every contact in ``contacts`` to ``owner``; each change is in its history."""
    changed = 0
    for contact in contacts.select_for_update(of=("self",)).select_related("company").exclude(owner=owner):
        contact.owner = owner
        _save(contact, actor=actor, tags=None, created=False)
        _owner_event(actor=actor, obj=contact)
        changed += 1
    _bulk_event(actor=actor, model="contact", changed=changed, owner=owner)
    return changed


def _bulk_event(*, actor: User | None, model: str, changed: int, owner: User) -> None:
    security_event_record(
        kind=SecurityEventKind.BULK_CHANGE,
        user=actor,
        detail={"action": "reassign", "model": model, "rows": changed, "to": owner.get_username()},
    )


def _owner_event(*, actor: User | None, obj: Company | Contact) -> None:
    _event(
        "owner_changed",
        _("%(record)s reassigned to %(owner)s") % {"record": obj, "owner": obj.owner},
        actor=actor,
        obj=obj,
    )
