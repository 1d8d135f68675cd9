from __future__ import annotations

from typing import Self

from django.conf import settings
from django.contrib.postgres.indexes import GinIndex
from django.db import models
from django.db.models.functions import Lower
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_countries.fields import CountryField
from simple_history.models import HistoricalRecords

from contacts.normalize import format_phone
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
        return self.filter(archived_at__isnull=False)


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

    history = CustomerHistory(m2m_fields=[tags], excluded_fields=["value_segment"])
    objects = CustomerQuerySet.as_manager()

    class Meta:
        ordering = ["name", "id"]
        verbose_name = _("company")
        verbose_name_plural = _("companies")
        constraints = [
            models.CheckConstraint(condition=models.Q(completeness__lte=100), name="company_completeness_max_100"),
        ]
        indexes = [
            models.Index(fields=["owner", "name", "id"], name="company_owner_name"),
            models.Index(Lower("name"), "id", name="company_lower_name"),
            models.Index(fields=["-created_at", "-id"], name="company_created"),
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
            GinIndex(fields=["name"], opclasses=["gin_trgm_ops"], name="company_name_trgm"),
            GinIndex(fields=["domain"], opclasses=["gin_trgm_ops"], name="company_domain_trgm"),
            GinIndex(fields=["email"], opclasses=["gin_trgm_ops"], name="company_email_trgm"),
            GinIndex(fields=["phone"], opclasses=["gin_trgm_ops"], name="company_phone_trgm"),
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
    country = CountryField(_("country"), blank=True)
    do_not_call = models.BooleanField(_("do not call"), default=False)
    do_not_email = models.BooleanField(_("do not email"), default=False)
    tags = models.ManyToManyField(Tag, blank=True, related_name="contacts", verbose_name=_("tags"))
    external_id = models.CharField(_("external id"), max_length=100, blank=True)
    completeness = models.PositiveSmallIntegerField(_("completeness"), default=0, editable=False)
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    archived_at = models.DateTimeField(_("archived"), null=True, blank=True, editable=False)

    history = CustomerHistory(m2m_fields=[tags])
    objects = CustomerQuerySet.as_manager()

    class Meta:
        ordering = ["last_name", "first_name", "id"]
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")
        constraints = [
            models.CheckConstraint(condition=models.Q(completeness__lte=100), name="contact_completeness_max_100"),
        ]
        indexes = [
            models.Index(fields=["owner", "last_name", "first_name", "id"], name="contact_owner_name"),
            models.Index(Lower("last_name"), Lower("first_name"), "id", name="contact_lower_name"),
            models.Index(fields=["-created_at", "-id"], name="contact_created"),
            models.Index(fields=["company"], name="contact_company"),
            models.Index(fields=["lifecycle_stage", "id"], name="contact_lifecycle_id"),
            models.Index(fields=["country", "id"], name="contact_country_id"),
            models.Index(fields=["source"], name="contact_source"),
            models.Index(Lower("email"), "id", name="contact_lower_email_id"),
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
            GinIndex(fields=["last_name"], opclasses=["gin_trgm_ops"], name="contact_last_name_trgm"),
            GinIndex(fields=["email"], opclasses=["gin_trgm_ops"], name="contact_email_trgm"),
            GinIndex(fields=["first_name"], opclasses=["gin_trgm_ops"], name="contact_first_name_trgm"),
            GinIndex(fields=["phone"], opclasses=["gin_trgm_ops"], name="contact_phone_trgm"),
            GinIndex(fields=["mobile"], opclasses=["gin_trgm_ops"], name="contact_mobile_trgm"),
        ]

    def __str__(self) -> str:
        return self.full_name

    def get_absolute_url(self) -> str:
        return reverse("contacts:contact-detail", args=[self.pk])

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    @property
    def is_archived(self) -> bool:
        return self.archived_at is not None

    @property
    def phone_display(self) -> str:
        return format_phone(self.phone)

    @property
    def mobile_display(self) -> str:
        return format_phone(self.mobile)

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
