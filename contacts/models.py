from __future__ import annotations

from datetime import timedelta
from typing import Self

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex, OpClass
from django.db import models
from django.db.models import F, Func, Value
from django.db.models.functions import Collate, Lower
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_countries.fields import CountryField
from simple_history.models import HistoricalRecords

from contacts.normalize import format_phone
from crm.l10n import NAME_COLLATIONS, person_name
from crm.models import OwnedQuerySet


class LifecycleStage(models.TextChoices):
    LEAD = "lead", _("Lead")
    PROSPECT = "prospect", _("Prospect")
    CUSTOMER = "customer", _("Customer")
    FORMER_CUSTOMER = "former_customer", _("Former customer")


class Source(models.TextChoices):
    WEBSITE = "website", _("Website")
    REFERRAL = "referral", _("Referral")
    EVENT = "event", _("Event")
    OUTBOUND = "outbound", _("Outbound")
    PARTNER = "partner", _("Partner")
    IMPORT = "import", _("Import")
    OTHER = "other", _("Other")


class ValueSegment(models.TextChoices):
    """RFM segments of a customer; computed and written by the reports app (see docs/customer-value.md)."""

    CHAMPIONS = "champions", _("Champions")
    LOYAL = "loyal", _("Loyal")
    POTENTIAL = "potential", _("Potential loyalists")
    NEW = "new", _("New")
    AT_RISK = "at_risk", _("At risk")
    CANT_LOSE = "cant_lose", _("Can't lose")
    HIBERNATING = "hibernating", _("Hibernating")
    LOST = "lost", _("Lost")


class CompanySize(models.TextChoices):
    XS = "1-10", _("1–10")
    S = "11-50", _("11–50")
    M = "51-200", _("51–200")
    L = "201-1000", _("201–1000")
    XL = "1000+", _("1000+")


class Tag(models.Model):
    name = models.CharField(_("name"), max_length=60)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(Lower("name"), name="tag_unique_name_ci")]
        verbose_name = _("tag")
        verbose_name_plural = _("tags")

    def __str__(self) -> str:
        return self.name


class CustomerHistory(HistoricalRecords):
    """History that services can write in one record after a save *and* a tag change.

    Saving a record and then setting its tags would otherwise leave two or three history
    rows for one edit (the save, the tag removal, the tag addition); services save with
    history skipped and then call ``record`` once, so each edit reads as one change.
    """

    def finalize(self, sender, **kwargs):
        super().finalize(sender, **kwargs)
        if self.cls is sender:
            sender._customer_history = self


class CustomerQuerySet(OwnedQuerySet):
    def active(self) -> Self:
        return self.filter(archived_at__isnull=True)

    def archived(self) -> Self:
        # A record merged into another is archived too, but it comes back only by undoing
        # the merge, so the archive (and its "Restore") leaves it out.
        return self.filter(archived_at__isnull=False, merged_into__isnull=True)


def _keys(function: str, *fields: str) -> Func:
    """The blocking keys of a record (SQL functions from migration ``add_duplicate_detection``)."""
    return Func(*(F(name) for name in fields), function=function, output_field=ArrayField(models.TextField()))


COMPANY_KEYS = ("name", "domain", "email", "phone")


def yo_folded(field: str) -> Func:
    """The text of ``field`` with ё written as е (SQL ``translate(col, 'ёЁ', 'еЕ')``): the
    expression the ``*_fold_trgm`` indexes hold, so "Королев" finds Королёв with one index scan
    whichever way either was typed (``contacts.selectors.fold_yo`` folds the search word)."""
    return Func(F(field), Value("ёЁ"), Value("еЕ"), function="translate", output_field=models.CharField())


def company_match_keys() -> Func:
    return _keys("dedupe_company_keys", *COMPANY_KEYS)


class Company(models.Model):
    name = models.CharField(_("name"), max_length=200)
    domain = models.CharField(_("domain"), max_length=253, blank=True, help_text=_("example.com, without www."))
    industry = models.CharField(_("industry"), max_length=100, blank=True)
    size = models.CharField(_("size"), max_length=10, choices=CompanySize.choices, blank=True)
    phone = models.CharField(_("phone"), max_length=40, blank=True, help_text=_("Stored in E.164, e.g. +14155550100."))
    phone_is_invalid = models.BooleanField(
        _("phone kept as typed"), default=False, help_text=_("The phone did not validate and was kept as typed.")
    )
    email = models.EmailField(_("email"), blank=True)
    street = models.CharField(_("street"), max_length=200, blank=True)
    city = models.CharField(_("city"), max_length=100, blank=True)
    postal_code = models.CharField(_("postal code"), max_length=20, blank=True)
    region = models.CharField(_("region"), max_length=100, blank=True)
    country = CountryField(_("country"), blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="companies", verbose_name=_("owner")
    )
    lifecycle_stage = models.CharField(
        _("lifecycle stage"), max_length=20, choices=LifecycleStage.choices, default=LifecycleStage.LEAD
    )
    source = models.CharField(_("source"), max_length=20, choices=Source.choices, blank=True)
    tags = models.ManyToManyField(Tag, blank=True, related_name="companies", verbose_name=_("tags"))
    external_id = models.CharField(_("external id"), max_length=100, blank=True)
    completeness = models.PositiveSmallIntegerField(_("completeness"), default=0, editable=False)
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    archived_at = models.DateTimeField(_("archived"), null=True, blank=True, editable=False)
    # Denormalised from reports.CustomerValue by the nightly value task (contacts never imports
    # reports), so the company list can filter on it with an index; blank = not scored.
    value_segment = models.CharField(
        _("customer segment"), max_length=12, choices=ValueSegment.choices, blank=True, editable=False
    )
    # Admin-defined fields (crm.custom_fields): key -> JSON value; GIN-indexed for filters.
    custom = models.JSONField(_("custom fields"), default=dict, blank=True, editable=False)
    # Optimistic locking: every write bumps it; a form posted with an older value conflicts.
    version = models.PositiveIntegerField(default=1, editable=False)

    # Set on the record that lost a merge (it is kept, archived, for the undo window and
    # afterwards as a tombstone whose old links lead to the survivor).
    merged_into = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, editable=False, db_index=False, related_name="+"
    )

    history = CustomerHistory(m2m_fields=[tags], excluded_fields=["value_segment", "merged_into"])
    objects = CustomerQuerySet.as_manager()

    class Meta:
        ordering = ["name", "id"]
        verbose_name = _("company")
        verbose_name_plural = _("companies")
        constraints = [
            models.CheckConstraint(condition=models.Q(completeness__lte=100), name="company_completeness_max_100"),
        ]
        indexes = [
            GinIndex(fields=["custom"], opclasses=["jsonb_path_ops"], name="company_custom"),  # crm.custom_fields
            models.Index(fields=["owner", "name", "id"], name="company_owner_name"),
            models.Index(Lower("name"), "id", name="company_lower_name"),
            # The list sorted by name in each reader's collation (contacts.selectors.company_sorts).
            *(
                models.Index(Collate("name", collation), "id", name=collation.replace("crm_name", "company_name"))
                for collation in NAME_COLLATIONS.values()
            ),
            models.Index(fields=["-created_at", "-id"], name="company_created"),
            # The API's keyset pages and ?updated_since= (integrations).
            models.Index(fields=["updated_at", "id"], name="company_updated"),
            models.Index(fields=["lifecycle_stage", "name"], name="company_lifecycle_name"),
            models.Index(fields=["lifecycle_stage", "id"], name="company_lifecycle_id"),
            models.Index(fields=["country", "id"], name="company_country_id"),
            models.Index(fields=["source"], name="company_source"),
            models.Index(fields=["domain", "id"], name="company_domain_id"),
            models.Index(
                fields=["archived_at"], condition=models.Q(archived_at__isnull=False), name="company_archived"
            ),
            # The home panel counts a user's records per stage from this index alone.
            models.Index(
                fields=["owner", "lifecycle_stage"],
                condition=models.Q(archived_at__isnull=True),
                name="company_owner_stage",
            ),
            models.Index(fields=["phone"], name="company_phone"),
            models.Index(
                "value_segment",
                Lower("name"),
                "id",
                condition=~models.Q(value_segment=""),
                name="company_value_segment",
            ),
            models.Index(fields=["external_id"], name="company_external_id"),
            # A GIN index collects new entries in a "pending list" that every search reads in
            # full; rewriting every company (the customer value recompute sets value_segment)
            # left 4 MB lists (270-500 pages) behind: 15 ms per search instead of 1 ms
            # (bench/FINDINGS.md, "GIN pending lists"). A 256 kB limit flushes them sooner.
            GinIndex(fields=["name"], opclasses=["gin_trgm_ops"], name="company_name_trgm", gin_pending_list_limit=256),
            # The search: the name with ё as е (``yo_folded``); the plain index above serves the
            # duplicate finder's similarity and the two-character Chinese search.
            GinIndex(
                OpClass(yo_folded("name"), name="gin_trgm_ops"),
                name="company_name_fold_trgm",
                gin_pending_list_limit=256,
            ),
            GinIndex(
                fields=["domain"], opclasses=["gin_trgm_ops"], name="company_domain_trgm", gin_pending_list_limit=256
            ),
            GinIndex(
                fields=["email"], opclasses=["gin_trgm_ops"], name="company_email_trgm", gin_pending_list_limit=256
            ),
            GinIndex(
                fields=["phone"], opclasses=["gin_trgm_ops"], name="company_phone_trgm", gin_pending_list_limit=256
            ),
            # Duplicate detection: "which active companies share a blocking key with these".
            GinIndex(
                company_match_keys(),
                condition=models.Q(archived_at__isnull=True),
                name="company_match_keys",
                gin_pending_list_limit=256,
            ),
            # The data-quality filters (missing=…, invalid_phone=1) in the list's default order.
            models.Index(
                Lower("name"), "id", condition=models.Q(email="", archived_at__isnull=True), name="company_no_email"
            ),
            models.Index(
                Lower("name"), "id", condition=models.Q(phone="", archived_at__isnull=True), name="company_no_phone"
            ),
            models.Index(
                Lower("name"),
                "id",
                condition=models.Q(phone_is_invalid=True, archived_at__isnull=True),
                name="company_invalid_phone",
            ),
            # The foreign key check of every deleted row looks up rows merged into it: without an
            # index that is a scan of the whole table per row (hours for a 100k-row import's undo).
            models.Index(
                fields=["merged_into"], condition=models.Q(merged_into__isnull=False), name="company_merged_into"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("contacts:company-detail", args=[self.pk])

    @property
    def is_archived(self) -> bool:
        return self.archived_at is not None

    @property
    def phone_display(self) -> str:
        return format_phone(self.phone)

    def compute_completeness(self) -> int:
        """How complete the record is, 0–100, for the data-quality views.

        domain 25 + phone 20 + email 15 + owner 10 + country 10 + industry 10 + city 10;
        a phone kept as typed (invalid) earns no phone points and costs 10 more.
        """
        score = 10 if self.owner_id else 0
        score += 25 if self.domain else 0
        score += 15 if self.email else 0
        score += 10 if self.country else 0
        score += 10 if self.industry else 0
        score += 10 if self.city else 0
        if self.phone_is_invalid:
            score -= 10
        elif self.phone:
            score += 20
        return max(0, min(100, score))


class OwnerArray(Func):
    """``ARRAY[owner_id]``: the owner column of the contact search index
    (``contact_owners_search_trgm``); ``visible_contacts_matching`` states a viewer's owners as
    ``ARRAY[owner_id] && ARRAY[…]`` over it, which GIN answers in one scan."""

    template = "ARRAY[%(expressions)s]"
    output_field = ArrayField(models.BigIntegerField())

    def __init__(self) -> None:
        super().__init__(F("owner_id"))


# The fields the duplicate matcher reads (contacts.linkage.person).
MATCH_FIELDS = frozenset(
    ("first_name", "last_name", "email", "secondary_email", "phone", "mobile", "company", "company_id", "street",
     "city", "postcode", "birth_date")
)  # fmt: skip


class Contact(models.Model):
    first_name = models.CharField(_("first name"), max_length=100, blank=True)
    last_name = models.CharField(_("last name"), max_length=100)
    title = models.CharField(_("job title"), max_length=120, blank=True)
    email = models.EmailField(_("email"), blank=True)
    secondary_email = models.EmailField(_("second email"), blank=True)
    phone = models.CharField(_("phone"), max_length=40, blank=True, help_text=_("Stored in E.164."))
    mobile = models.CharField(_("mobile"), max_length=40, blank=True, help_text=_("Stored in E.164."))
    phone_is_invalid = models.BooleanField(
        _("phone kept as typed"), default=False, help_text=_("A phone did not validate and was kept as typed.")
    )
    company = models.ForeignKey(
        Company,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="contacts",
        verbose_name=_("company"),
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="contacts", verbose_name=_("owner")
    )
    lifecycle_stage = models.CharField(
        _("lifecycle stage"), max_length=20, choices=LifecycleStage.choices, default=LifecycleStage.LEAD
    )
    source = models.CharField(_("source"), max_length=20, choices=Source.choices, blank=True)
    # Postal address; a contact created for a company takes the company's address when left empty.
    street = models.CharField(_("street"), max_length=200, blank=True)
    street2 = models.CharField(_("address line 2"), max_length=200, blank=True)
    city = models.CharField(_("city"), max_length=100, blank=True)
    region = models.CharField(_("region"), max_length=100, blank=True)
    postcode = models.CharField(_("postcode"), max_length=20, blank=True)
    country = CountryField(_("country"), blank=True)
    birth_date = models.DateField(_("birth date"), null=True, blank=True)
    do_not_call = models.BooleanField(_("do not call"), default=False)
    do_not_email = models.BooleanField(_("do not email"), default=False)
    tags = models.ManyToManyField(Tag, blank=True, related_name="contacts", verbose_name=_("tags"))
    external_id = models.CharField(_("external id"), max_length=100, blank=True)
    completeness = models.PositiveSmallIntegerField(_("completeness"), default=0, editable=False)
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    archived_at = models.DateTimeField(_("archived"), null=True, blank=True, editable=False)
    merged_into = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, editable=False, db_index=False, related_name="+"
    )
    # Blocking keys of the duplicate matcher (contacts.linkage.block_keys), computed on save,
    # by the import and by the nightly refresh; GIN-indexed for the form's live check.
    dedupe_keys = ArrayField(models.TextField(), default=list, blank=True, editable=False)

    # What the search looks in: first name, last name and email in lower case with ё as е, kept
    # by PostgreSQL. One trigram index answers a word wherever it is; the recheck of a common
    # word's rows is one LIKE on this column instead of two translate()s and three ILIKEs
    # (13,718 contacts match "smith" among 1,000,000: 13 ms instead of 23).
    search_text = models.GeneratedField(
        expression=Func(
            F("first_name"),
            F("last_name"),
            F("email"),
            template="lower(translate(%(expressions)s, 'ёЁ', 'еЕ'))",
            arg_joiner=" || ' ' || ",
        ),
        output_field=models.TextField(),
        db_persist=True,
    )

    # Admin-defined fields (crm.custom_fields): key -> JSON value; GIN-indexed for filters.
    custom = models.JSONField(_("custom fields"), default=dict, blank=True, editable=False)
    # Optimistic locking: every write bumps it; a form posted with an older value conflicts.
    version = models.PositiveIntegerField(default=1, editable=False)

    history = CustomerHistory(m2m_fields=[tags], excluded_fields=["merged_into", "dedupe_keys", "search_text"])
    objects = CustomerQuerySet.as_manager()

    class Meta:
        ordering = ["last_name", "first_name", "id"]
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")
        constraints = [
            models.CheckConstraint(condition=models.Q(completeness__lte=100), name="contact_completeness_max_100"),
        ]
        indexes = [
            GinIndex(fields=["custom"], opclasses=["jsonb_path_ops"], name="contact_custom"),  # crm.custom_fields
            models.Index(fields=["owner", "last_name", "first_name", "id"], name="contact_owner_name"),
            models.Index(Lower("last_name"), Lower("first_name"), "id", name="contact_lower_name"),
            *(
                models.Index(
                    Collate("last_name", collation),
                    Collate("first_name", collation),
                    "id",
                    name=collation.replace("crm_name", "contact_name"),
                )
                for collation in NAME_COLLATIONS.values()
            ),
            models.Index(fields=["-created_at", "-id"], name="contact_created"),
            # The API's keyset pages and ?updated_since= (integrations).
            models.Index(fields=["updated_at", "id"], name="contact_updated"),
            models.Index(fields=["lifecycle_stage", "id"], name="contact_lifecycle_id"),
            models.Index(fields=["country", "id"], name="contact_country_id"),
            models.Index(fields=["source"], name="contact_source"),
            models.Index(Lower("email"), "id", name="contact_lower_email_id"),
            # Email capture matches senders and recipients on both addresses (integrations).
            models.Index(
                Lower("secondary_email"),
                "id",
                condition=~models.Q(secondary_email=""),
                name="contact_lower_second_email",
            ),
            models.Index(
                fields=["archived_at"], condition=models.Q(archived_at__isnull=False), name="contact_archived"
            ),
            # The home panel counts a user's records per stage from this index alone.
            models.Index(
                fields=["owner", "lifecycle_stage"],
                condition=models.Q(archived_at__isnull=True),
                name="contact_owner_stage",
            ),
            models.Index(fields=["phone"], name="contact_phone"),
            models.Index(fields=["mobile"], name="contact_mobile"),
            models.Index(fields=["external_id"], name="contact_external_id"),
            # The search: one index scan per word over names and email (``search_text``), with
            # the owner beside it so that a rep's or manager's search finds only their owners'
            # matches in the index: with the words alone PostgreSQL read every match from the
            # table to drop other owners' (a common surname: 10,504 pages for 2,271 rows). The
            # owner is an array (``OwnerArray``), so the viewer's owners are one condition
            # (``&&``) and one scan of the index: as a plain column, ``owner_id = ANY(…)`` was one
            # scan per owner, each reading the word's trigrams again (a manager of 7: 7 ms of a
            # 12 ms search). An admin's search, which names no owner, scans the words' part.
            GinIndex(
                OwnerArray(),
                OpClass(F("search_text"), name="gin_trgm_ops"),
                name="contact_owners_search_trgm",
                gin_pending_list_limit=256,
            ),
            GinIndex(fields=["phone"], opclasses=["gin_trgm_ops"], name="contact_phone_trgm"),
            GinIndex(fields=["mobile"], opclasses=["gin_trgm_ops"], name="contact_mobile_trgm"),
            # A small pending list (64 kB, the least PostgreSQL allows): every search reads the
            # whole list, and after a refresh or an import rewrote keys the default 4 MB made the
            # form's duplicate check read 200 pages per key (50 ms instead of 10).
            GinIndex(
                fields=["dedupe_keys"],
                condition=models.Q(archived_at__isnull=True),
                gin_pending_list_limit=64,
                name="contact_dedupe_keys",
            ),
            models.Index(
                Lower("last_name"),
                Lower("first_name"),
                "id",
                condition=models.Q(email="", archived_at__isnull=True),
                name="contact_no_email",
            ),
            models.Index(
                Lower("last_name"),
                Lower("first_name"),
                "id",
                condition=models.Q(phone="", mobile="", archived_at__isnull=True),
                name="contact_no_phone",
            ),
            models.Index(
                Lower("last_name"),
                Lower("first_name"),
                "id",
                condition=models.Q(company__isnull=True, archived_at__isnull=True),
                name="contact_no_company",
            ),
            models.Index(
                Lower("last_name"),
                Lower("first_name"),
                "id",
                condition=models.Q(phone_is_invalid=True, archived_at__isnull=True),
                name="contact_invalid_phone",
            ),
            # The foreign key check of every deleted row looks up rows merged into it: without an
            # index that is a scan of the whole table per row (hours for a 100k-row import's undo).
            models.Index(
                fields=["merged_into"], condition=models.Q(merged_into__isnull=False), name="contact_merged_into"
            ),
        ]

    def __str__(self) -> str:
        return self.full_name

    def save(self, *args, **kwargs) -> None:
        update_fields = kwargs.get("update_fields")
        if update_fields is None or set(update_fields) & MATCH_FIELDS:
            self.dedupe_keys = self.compute_dedupe_keys()
            if update_fields is not None:
                kwargs["update_fields"] = {*update_fields, "dedupe_keys"}
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("contacts:contact-detail", args=[self.pk])

    @property
    def full_name(self) -> str:
        """``Olga Petrova``; a CJK name family name first, no space: ``王小明`` (crm.l10n)."""
        return person_name(self.first_name, self.last_name)

    @property
    def is_archived(self) -> bool:
        return self.archived_at is not None

    @property
    def phone_display(self) -> str:
        return format_phone(self.phone)

    @property
    def mobile_display(self) -> str:
        return format_phone(self.mobile)

    def compute_dedupe_keys(self) -> list[str]:
        from contacts.linkage import block_keys, person

        return block_keys(person(self))

    def compute_completeness(self) -> int:
        """How complete the record is, 0–100, for the data-quality views.

        first and last name 10 + email 25 + a phone or mobile 25 + company 20 + owner 10 +
        job title 10; a phone kept as typed (invalid) earns no phone points and costs 10 more.
        """
        score = 10 if self.owner_id else 0
        score += 10 if self.first_name and self.last_name else 0
        score += 25 if self.email else 0
        score += 20 if self.company_id else 0
        score += 10 if self.title else 0
        if self.phone_is_invalid:
            score -= 10
        elif self.phone or self.mobile:
            score += 25
        return max(0, min(100, score))


# --- Import -------------------------------------------------------------------------------


class ImportKind(models.TextChoices):
    CONTACTS = "contacts", _("Contacts")
    COMPANIES = "companies", _("Companies")


class ImportState(models.TextChoices):
    DRAFT = "draft", _("Mapping columns")
    ANALYSING = "analysing", _("Checking the file")
    PREVIEW = "preview", _("Ready to import")
    PENDING = "pending", _("Waiting to start")
    RUNNING = "running", _("Importing")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


class ImportJobQuerySet(models.QuerySet):
    def visible_to(self, user) -> Self:
        """A user's own imports; admins see everyone's (to help when one goes wrong)."""
        if user.is_admin:
            return self
        return self.filter(owner=user)

    def without_file(self) -> Self:
        return self.defer("file_data")


class ImportJob(models.Model):
    """One uploaded file on its way into the CRM: mapping, dry-run preview, then the import.

    The file itself is kept in the database (``file_data``), so any web process or worker
    can read it without shared disk.
    """

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="import_jobs", verbose_name=_("owner")
    )
    kind = models.CharField(_("kind"), max_length=20, choices=ImportKind.choices)
    state = models.CharField(_("state"), max_length=20, choices=ImportState.choices, default=ImportState.DRAFT)
    file_name = models.CharField(_("file name"), max_length=255)
    file_data = models.BinaryField(_("file"))
    file_size = models.PositiveIntegerField(_("file size"), default=0)
    encoding = models.CharField(_("encoding"), max_length=40, blank=True)
    delimiter = models.CharField(_("delimiter"), max_length=4, blank=True)
    headers = models.JSONField(_("columns"), default=list, blank=True)
    samples = models.JSONField(_("sample values"), default=list, blank=True)
    total_rows = models.PositiveIntegerField(_("rows"), default=0)
    mapping = models.JSONField(_("column mapping"), default=dict, blank=True)
    options = models.JSONField(_("options"), default=dict, blank=True)
    preview = models.JSONField(_("preview"), default=dict, blank=True)
    created_count = models.PositiveIntegerField(_("created"), default=0)
    updated_count = models.PositiveIntegerField(_("updated"), default=0)
    skipped_count = models.PositiveIntegerField(_("skipped"), default=0)
    rejected_count = models.PositiveIntegerField(_("rejected"), default=0)
    companies_created = models.PositiveIntegerField(_("companies created"), default=0)
    error = models.TextField(_("error"), blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    # The lease: while a worker checks or imports the file it pushes ``lease_until`` ahead
    # every few seconds (with the progress); a busy job whose lease ran out has lost its
    # worker, and the beat sweep sends it again or, after ``JOB_MAX_ATTEMPTS`` starts of the
    # same step, fails it with the reason.
    progress = models.PositiveSmallIntegerField(_("progress"), default=0)
    lease_until = models.DateTimeField(_("lease until"), null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)

    objects = ImportJobQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["owner", "-created_at", "-id"], name="importjob_owner_created"),
            # The sweep's scan: busy jobs by lease (a handful of rows among all past imports).
            models.Index(
                fields=["lease_until"],
                condition=models.Q(state__in=["analysing", "pending", "running"]),
                name="importjob_busy_lease",
            ),
        ]
        verbose_name = _("import")
        verbose_name_plural = _("imports")

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.file_name}"

    def get_absolute_url(self) -> str:
        return reverse("contacts:import-detail", args=[self.pk])

    @property
    def is_busy(self) -> bool:
        return self.state in (ImportState.ANALYSING, ImportState.PENDING, ImportState.RUNNING)

    @property
    def is_finished(self) -> bool:
        return self.state in (ImportState.DONE, ImportState.FAILED)

    @property
    def encoding_label(self) -> str:
        """The encoding a CSV file is read in, by its common name ("Windows-1251 (Cyrillic)")."""
        from contacts.imports import ENCODING_NAMES

        return str(ENCODING_NAMES.get(self.encoding, self.encoding))


class ImportRowError(models.Model):
    """A row the import rejected: its line in the file, why, and its cells as read (for the
    error CSV the user fixes and uploads again)."""

    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="row_errors")
    line = models.PositiveIntegerField(_("line"))
    reason = models.CharField(_("reason"), max_length=500)
    values = models.JSONField(_("cells"), default=list)

    class Meta:
        ordering = ["job", "line", "id"]
        indexes = [models.Index(fields=["job", "line"], name="importrowerror_job_line")]
        verbose_name = _("rejected row")
        verbose_name_plural = _("rejected rows")

    def __str__(self) -> str:
        return f"{self.line}: {self.reason}"


# --- Duplicates and merges ------------------------------------------------------------------


class RecordKind(models.TextChoices):
    COMPANY = "company", _("Companies")
    CONTACT = "contact", _("Contacts")


class CandidateStatus(models.TextChoices):
    OPEN = "open", _("Open")
    DISMISSED = "dismissed", _("Not a duplicate")


class DuplicateCandidate(models.Model):
    """A pair of records that may be the same customer, found by the nightly refresh.

    The pair is stored in canonical order (``a`` has the lower id) so each pair exists once;
    a dismissed pair keeps its row, which is how "not a duplicate" is remembered.
    """

    kind = models.CharField(_("kind"), max_length=10, choices=RecordKind.choices)
    company_a = models.ForeignKey(Company, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    company_b = models.ForeignKey(Company, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    contact_a = models.ForeignKey(Contact, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    contact_b = models.ForeignKey(Contact, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    score = models.PositiveSmallIntegerField(_("score"))
    reasons = models.JSONField(_("reasons"), default=list)
    status = models.CharField(_("status"), max_length=10, choices=CandidateStatus.choices, default=CandidateStatus.OPEN)
    computed_at = models.DateTimeField(_("computed"), default=timezone.now)
    dismissed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    dismissed_at = models.DateTimeField(_("dismissed"), null=True, blank=True)

    class Meta:
        ordering = ["-score", "-id"]
        verbose_name = _("duplicate candidate")
        verbose_name_plural = _("duplicate candidates")
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(
                        kind="company",
                        company_a__isnull=False,
                        company_b__isnull=False,
                        contact_a__isnull=True,
                        contact_b__isnull=True,
                        company_a__lt=F("company_b"),
                    )
                    | models.Q(
                        kind="contact",
                        contact_a__isnull=False,
                        contact_b__isnull=False,
                        company_a__isnull=True,
                        company_b__isnull=True,
                        contact_a__lt=F("contact_b"),
                    )
                ),
                name="duplicatecandidate_one_ordered_pair",
            ),
            # NULLs never collide, so each constraint only ever sees pairs of its own kind.
            models.UniqueConstraint(fields=["company_a", "company_b"], name="duplicatecandidate_unique_company_pair"),
            models.UniqueConstraint(fields=["contact_a", "contact_b"], name="duplicatecandidate_unique_contact_pair"),
            models.CheckConstraint(condition=models.Q(score__lte=100), name="duplicatecandidate_score_max_100"),
        ]
        indexes = [
            # The Duplicates page: open pairs of one kind, best first (keyset on score, id).
            models.Index(fields=["status", "kind", "-score", "-id"], name="dupcand_status_kind_score"),
        ]

    def __str__(self) -> str:
        return f"{self.first} ~ {self.second} ({self.score})"

    @property
    def first(self) -> Company | Contact:
        return self.company_a if self.kind == RecordKind.COMPANY else self.contact_a

    @property
    def second(self) -> Company | Contact:
        return self.company_b if self.kind == RecordKind.COMPANY else self.contact_b


class MatchParameters(models.Model):
    """The contact matcher's m/u probabilities and prior, as one refresh estimated them.

    The newest row is the one in use; older rows stay as a record of how the estimate moved.
    """

    estimated_at = models.DateTimeField(_("estimated"), default=timezone.now)
    parameters = models.JSONField(_("parameters"))
    pairs = models.PositiveIntegerField(_("blocked pairs"), default=0)
    labelled_matches = models.PositiveIntegerField(_("merged pairs used"), default=0)
    labelled_non_matches = models.PositiveIntegerField(_("dismissed pairs used"), default=0)
    iterations = models.PositiveSmallIntegerField(_("EM iterations"), default=0)
    converged = models.BooleanField(_("converged"), default=False)

    class Meta:
        ordering = ["-estimated_at", "-id"]
        get_latest_by = ["estimated_at", "id"]
        verbose_name = _("match parameters")
        verbose_name_plural = _("match parameters")

    def __str__(self) -> str:
        return f"{self.estimated_at:%Y-%m-%d %H:%M} ({self.pairs} pairs)"


class NameFrequency(models.Model):
    """How many active contacts carry a full name (``contacts.linkage.full_name_key``), for
    the names two or more carry; rebuilt by every nightly refresh. The matcher's
    term-frequency adjustment reads it: agreeing on a name many people carry says little."""

    key = models.TextField(_("name key"), primary_key=True)
    records = models.PositiveIntegerField(_("records"))

    class Meta:
        verbose_name = _("name frequency")
        verbose_name_plural = _("name frequencies")

    def __str__(self) -> str:
        return f"{self.key}: {self.records}"


class MergeRecord(models.Model):
    """What a merge changed, kept so it can be undone within ``MERGE_UNDO_DAYS``.

    The loser is not deleted: it stays as an archived row with ``merged_into`` set, so its own
    history and every foreign key that was *not* moved stay intact, and undo only has to
    un-archive it. ``survivor_before``/``survivor_after`` hold the survivor's fields the merge
    changed; ``moved`` holds, per handler, the ids of every related row moved to the survivor.
    """

    kind = models.CharField(_("kind"), max_length=10, choices=RecordKind.choices)
    survivor_company = models.ForeignKey(
        Company, on_delete=models.CASCADE, null=True, blank=True, related_name="merges_survived"
    )
    loser_company = models.ForeignKey(Company, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    survivor_contact = models.ForeignKey(
        Contact, on_delete=models.CASCADE, null=True, blank=True, related_name="merges_survived"
    )
    loser_contact = models.ForeignKey(Contact, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    merged_at = models.DateTimeField(_("merged"), default=timezone.now)
    loser_name = models.CharField(_("merged record"), max_length=300)
    survivor_before = models.JSONField(default=dict)
    survivor_after = models.JSONField(default=dict)
    added_tag_ids = models.JSONField(default=list)
    moved = models.JSONField(default=dict)
    undone_at = models.DateTimeField(_("undone"), null=True, blank=True)
    undone_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    finalized_at = models.DateTimeField(_("finalised"), null=True, blank=True)

    class Meta:
        ordering = ["-merged_at", "-id"]
        verbose_name = _("merge")
        verbose_name_plural = _("merges")
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(
                        kind="company",
                        survivor_company__isnull=False,
                        loser_company__isnull=False,
                        survivor_contact__isnull=True,
                        loser_contact__isnull=True,
                    )
                    | models.Q(
                        kind="contact",
                        survivor_contact__isnull=False,
                        loser_contact__isnull=False,
                        survivor_company__isnull=True,
                        loser_company__isnull=True,
                    )
                ),
                name="mergerecord_one_pair",
            ),
        ]
        indexes = [
            # The nightly finaliser: open merges by age.
            models.Index(
                fields=["merged_at"],
                condition=models.Q(undone_at__isnull=True, finalized_at__isnull=True),
                name="mergerecord_open",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.loser_name} → {self.survivor}"

    @property
    def survivor(self) -> Company | Contact:
        return self.survivor_company if self.kind == RecordKind.COMPANY else self.survivor_contact

    @property
    def loser(self) -> Company | Contact:
        return self.loser_company if self.kind == RecordKind.COMPANY else self.loser_contact

    @property
    def undo_until(self):
        return self.merged_at + timedelta(days=settings.MERGE_UNDO_DAYS)

    @property
    def can_undo(self) -> bool:
        return self.undone_at is None and self.finalized_at is None and timezone.now() < self.undo_until


def _attachment_storage():
    from django.core.files.storage import storages

    return storages["attachments"]


def _attachment_path(instance: Attachment, filename: str) -> str:
    """A random name in a folder per month: never the uploader's name, never guessable."""
    import secrets

    now = timezone.now()
    return f"{now:%Y/%m}/{secrets.token_urlsafe(24)}"


class Attachment(models.Model):
    """A file attached to a company, contact, deal, activity or case.

    Generic (content type + id) and kept here, the lowest app with customer records, so the
    apps above register their own models and access helpers (``contacts.attachments``)
    instead of each keeping its own copy of the table, the checks and the views.
    """

    content_type = models.ForeignKey("contenttypes.ContentType", on_delete=models.CASCADE, related_name="+")
    object_id = models.PositiveBigIntegerField()
    target = GenericForeignKey("content_type", "object_id")
    file = models.FileField(_("file"), storage=_attachment_storage, upload_to=_attachment_path, max_length=200)
    name = models.CharField(_("name"), max_length=200)
    mime_type = models.CharField(_("type"), max_length=100)
    size = models.PositiveBigIntegerField(_("size"))
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+", verbose_name=_("uploaded by")
    )
    created_at = models.DateTimeField(_("uploaded"), default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["content_type", "object_id", "-created_at", "-id"], name="attachment_target_recent"),
        ]
        constraints = [models.CheckConstraint(condition=models.Q(size__gt=0), name="attachment_size_positive")]
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("contacts:attachment-view", args=[self.pk])

    @property
    def previewable(self) -> bool:
        return self.mime_type in PREVIEW_TYPES

    @property
    def is_image(self) -> bool:
        return self.mime_type.startswith("image/")


# Types the browser may show inline (the preview): images and PDF; everything else downloads.
PREVIEW_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf"})
