from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Self

from django.conf import settings
from django.contrib.postgres.indexes import GinIndex
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from contacts.models import Company, Contact, Source
from crm.models import OwnedQuerySet


class ExchangeRate(models.Model):
    """How many units of BASE_CURRENCY one unit of ``currency`` was worth on ``date``."""

    currency = models.CharField(_("currency"), max_length=3)
    date = models.DateField(_("date"))
    rate = models.DecimalField(_("rate to base currency"), max_digits=18, decimal_places=8)

    class Meta:
        ordering = ["currency", "-date"]
        constraints = [
            models.UniqueConstraint(fields=["currency", "date"], name="exchangerate_unique_currency_date"),
            models.CheckConstraint(condition=models.Q(rate__gt=0), name="exchangerate_rate_positive"),
        ]
        verbose_name = _("exchange rate")
        verbose_name_plural = _("exchange rates")

    def __str__(self) -> str:
        return f"1 {self.currency} = {self.rate} {settings.BASE_CURRENCY} ({self.date})"


class Pipeline(models.Model):
    name = models.CharField(_("name"), max_length=100, unique=True)
    is_default = models.BooleanField(_("default"), default=False)
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    # Where a deal goes when its customer accepts or declines a quote (deals.quotes); empty: it stays.
    quote_accepted_stage = models.ForeignKey(
        "Stage",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("stage when a quote is accepted"),
    )
    quote_declined_stage = models.ForeignKey(
        "Stage",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("stage when a quote is declined"),
    )
    # Gross margin assumed for a won deal whose cost is unknown (no line items, or a line
    # item whose product had no cost price on the day): shown as "estimated".
    default_margin_percent = models.DecimalField(
        _("default gross margin %"),
        max_digits=5,
        decimal_places=2,
        default=Decimal("100"),
        validators=[MinValueValidator(Decimal("-100")), MaxValueValidator(Decimal("100"))],
        help_text=_("Used for deals without line items (or with products that have no cost price); 100 = no cost."),
    )

    class Meta:
        ordering = ["position", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"], condition=models.Q(is_default=True), name="pipeline_single_default"
            ),
            models.CheckConstraint(
                condition=models.Q(default_margin_percent__gte=-100, default_margin_percent__lte=100),
                name="pipeline_default_margin_range",
            ),
        ]
        verbose_name = _("pipeline")
        verbose_name_plural = _("pipelines")

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("deals:board", args=[self.pk])

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        for field in ("quote_accepted_stage", "quote_declined_stage"):
            stage = getattr(self, field)
            if stage is not None and stage.pipeline_id != self.pk:
                raise ValidationError({field: _("Choose a stage of this pipeline.")})


class StageManager(models.Manager["Stage"]):
    def get_queryset(self) -> models.QuerySet[Stage]:
        return super().get_queryset().filter(archived_at__isnull=True)


class Stage(models.Model):
    pipeline = models.ForeignKey(Pipeline, on_delete=models.CASCADE, related_name="stages")
    name = models.CharField(_("name"), max_length=100)
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    probability = models.PositiveSmallIntegerField(
        _("probability %"), default=10, validators=[MinValueValidator(0), MaxValueValidator(100)]
    )
    is_won = models.BooleanField(_("won stage"), default=False)
    is_lost = models.BooleanField(_("lost stage"), default=False)
    rotting_days = models.PositiveSmallIntegerField(
        _("rotting days"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(3650)],
        help_text=_("An open deal here goes stale after this many days without activity; empty: the CRM's default."),
    )
    # A deleted stage that deals once passed through: its history (StageChange rows, the
    # funnel) still points at it, so it is hidden rather than removed.
    archived_at = models.DateTimeField(_("deleted at"), null=True, blank=True, editable=False)

    # ``objects`` leaves deleted stages out (boards, forms, the editor, the API);
    # ``all_objects`` has them (Django admin, history). Related lookups (``deal.stage``,
    # ``change.from_stage``) use the base manager and always find them.
    all_objects = models.Manager()
    objects = StageManager()

    class Meta:
        default_manager_name = "objects"
        ordering = ["pipeline", "position", "id"]
        constraints = [
            # A deleted stage's name is free for a new stage.
            models.UniqueConstraint(
                fields=["pipeline", "name"],
                condition=models.Q(archived_at__isnull=True),
                name="stage_unique_name_per_pipeline",
            ),
            models.CheckConstraint(condition=models.Q(probability__lte=100), name="stage_probability_max_100"),
            models.CheckConstraint(
                condition=~(models.Q(is_won=True) & models.Q(is_lost=True)), name="stage_not_won_and_lost"
            ),
        ]
        verbose_name = _("stage")
        verbose_name_plural = _("stages")

    def __str__(self) -> str:
        return self.name

    @property
    def is_closed(self) -> bool:
        return self.is_won or self.is_lost

    @property
    def stale_after_days(self) -> int:
        return self.rotting_days or settings.DEAL_STALE_DAYS


class LostReason(models.Model):
    name = models.CharField(_("name"), max_length=100, unique=True)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("lost reason")
        verbose_name_plural = _("lost reasons")

    def __str__(self) -> str:
        return self.name


class DealStatus(models.TextChoices):
    OPEN = "open", _("Open")
    WON = "won", _("Won")
    LOST = "lost", _("Lost")


class DealQuerySet(OwnedQuerySet):
    def open(self) -> Self:
        return self.filter(status=DealStatus.OPEN)

    def won(self) -> Self:
        return self.filter(status=DealStatus.WON)

    def lost(self) -> Self:
        return self.filter(status=DealStatus.LOST)


class Deal(models.Model):
    title = models.CharField(_("title"), max_length=200)
    company = models.ForeignKey(
        Company, on_delete=models.SET_NULL, null=True, blank=True, related_name="deals", verbose_name=_("company")
    )
    contacts = models.ManyToManyField(Contact, blank=True, related_name="deals", verbose_name=_("contacts"))
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="deals", verbose_name=_("owner")
    )
    pipeline = models.ForeignKey(Pipeline, on_delete=models.PROTECT, related_name="deals", verbose_name=_("pipeline"))
    stage = models.ForeignKey(Stage, on_delete=models.PROTECT, related_name="deals", verbose_name=_("stage"))
    amount = models.DecimalField(_("amount"), max_digits=14, decimal_places=2, default=Decimal("0"))
    currency = models.CharField(_("currency"), max_length=3, default="USD")
    amount_from_line_items = models.BooleanField(_("amount is the sum of line items"), default=False)
    probability = models.PositiveSmallIntegerField(
        _("probability %"), default=0, validators=[MinValueValidator(0), MaxValueValidator(100)]
    )
    probability_is_manual = models.BooleanField(_("probability set by hand"), default=False)
    expected_close_date = models.DateField(_("expected close date"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=8, choices=DealStatus.choices, default=DealStatus.OPEN)
    lost_reason = models.ForeignKey(
        LostReason, on_delete=models.PROTECT, null=True, blank=True, related_name="deals", verbose_name=_("lost reason")
    )
    lost_note = models.TextField(_("lost note"), blank=True)
    source = models.CharField(_("source"), max_length=20, choices=Source.choices, blank=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    stage_entered_at = models.DateTimeField(_("in stage since"), default=timezone.now)
    last_activity_at = models.DateTimeField(_("last activity"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    # Admin-defined fields (crm.custom_fields): key -> JSON value; GIN-indexed for filters.
    custom = models.JSONField(_("custom fields"), default=dict, blank=True, editable=False)
    # Optimistic locking: every edit bumps it; a form posted with an older value conflicts.
    version = models.PositiveIntegerField(default=1, editable=False)

    history = HistoricalRecords(excluded_fields=["updated_at", "last_activity_at"])
    objects = DealQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("deal")
        verbose_name_plural = _("deals")
        constraints = [
            models.CheckConstraint(condition=models.Q(probability__lte=100), name="deal_probability_max_100"),
            models.CheckConstraint(condition=models.Q(amount__gte=0), name="deal_amount_not_negative"),
            models.CheckConstraint(
                condition=models.Q(status="open", closed_at__isnull=True)
                | (~models.Q(status="open") & models.Q(closed_at__isnull=False)),
                name="deal_closed_at_matches_status",
            ),
        ]
        indexes = [
            GinIndex(fields=["custom"], opclasses=["jsonb_path_ops"], name="deal_custom"),  # crm.custom_fields
            models.Index(fields=["pipeline", "stage", "status", "-created_at"], name="deal_board"),
            # The API's keyset pages and ?updated_since= (integrations).
            models.Index(fields=["updated_at", "id"], name="deal_updated"),
            models.Index(fields=["owner", "status", "-created_at"], name="deal_owner_status"),
            # My day's stale deals: an owner's open deals, longest without activity first.
            models.Index(fields=["owner", "status", "last_activity_at", "id"], name="deal_owner_stale"),
            models.Index(fields=["status", "expected_close_date"], name="deal_status_close_date"),
            # The home panel's "closing this month": an owner's open deals by close date.
            models.Index(fields=["owner", "status", "expected_close_date"], name="deal_owner_closing"),
            models.Index(fields=["company", "status"], name="deal_company_status"),
            models.Index(fields=["-created_at", "-id"], name="deal_created"),
            models.Index(fields=["closed_at"], name="deal_closed_at"),
            # Covers the board's per-stage totals so they are an index-only scan, even at 50k open deals.
            models.Index(
                fields=["pipeline", "status", "stage"],
                include=["currency", "amount", "probability", "closed_at", "owner"],
                name="deal_stage_totals",
            ),
            models.Index(fields=["amount", "id"], name="deal_amount"),
            models.Index(fields=["expected_close_date", "id"], name="deal_close_date"),
            models.Index(fields=["title", "id"], name="deal_title"),
            GinIndex(fields=["title"], opclasses=["gin_trgm_ops"], name="deal_title_trgm"),
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("deals:detail", args=[self.pk])

    @property
    def is_open(self) -> bool:
        return self.status == DealStatus.OPEN

    @property
    def is_overdue(self) -> bool:
        """Open past its expected close date: the forecast for it is wrong until someone updates it."""
        return self.is_open and self.expected_close_date is not None and self.expected_close_date < timezone.localdate()

    @property
    def weighted_amount(self) -> Decimal:
        return (self.amount * self.probability / Decimal("100")).quantize(Decimal("0.01"))

    @property
    def days_in_stage(self) -> int:
        return max((timezone.now() - self.stage_entered_at).days, 0)


class StageChange(models.Model):
    """One row per stage move: the source of every funnel, velocity and time-in-stage figure."""

    deal = models.ForeignKey(Deal, on_delete=models.CASCADE, related_name="stage_changes")
    from_stage = models.ForeignKey(Stage, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    to_stage = models.ForeignKey(Stage, on_delete=models.PROTECT, related_name="+")
    # Kept on the move itself so win/loss reports survive a later reopen of the deal.
    lost_reason = models.ForeignKey(LostReason, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    note = models.TextField(_("note"), blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    at = models.DateTimeField(_("at"), default=timezone.now)

    class Meta:
        ordering = ["at", "id"]
        indexes = [
            models.Index(fields=["deal", "at"], name="stagechange_deal_at"),
            models.Index(fields=["to_stage", "at"], name="stagechange_to_stage_at"),
            models.Index(fields=["at"], name="stagechange_at"),
        ]
        verbose_name = _("stage change")
        verbose_name_plural = _("stage changes")

    def __str__(self) -> str:
        return f"{self.deal_id}: {self.from_stage_id} → {self.to_stage_id}"


class Product(models.Model):
    name = models.CharField(_("name"), max_length=200)
    sku = models.CharField(_("SKU"), max_length=60, unique=True)
    price = models.DecimalField(_("price"), max_digits=14, decimal_places=2)
    currency = models.CharField(_("currency"), max_length=3, default="USD")
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.CheckConstraint(condition=models.Q(price__gte=0), name="product_price_not_negative")]
        verbose_name = _("product")
        verbose_name_plural = _("products")

    def __str__(self) -> str:
        return f"{self.name} ({self.sku})"


class ProductCost(models.Model):
    """A product's cost price from ``valid_from`` on, until the next row's date (history)."""

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="costs", verbose_name=_("product"))
    valid_from = models.DateField(_("valid from"))
    cost = models.DecimalField(_("unit cost"), max_digits=14, decimal_places=2)
    currency = models.CharField(_("currency"), max_length=3, default="USD")

    class Meta:
        ordering = ["product", "-valid_from"]
        constraints = [
            models.UniqueConstraint(fields=["product", "valid_from"], name="productcost_unique_product_date"),
            models.CheckConstraint(condition=models.Q(cost__gte=0), name="productcost_cost_not_negative"),
        ]
        verbose_name = _("product cost price")
        verbose_name_plural = _("product cost prices")

    def __str__(self) -> str:
        return f"{self.product_id}: {self.cost} {self.currency} from {self.valid_from}"


class LineItem(models.Model):
    deal = models.ForeignKey(Deal, on_delete=models.CASCADE, related_name="line_items")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="line_items", verbose_name=_("product"))
    quantity = models.DecimalField(_("quantity"), max_digits=12, decimal_places=2, default=Decimal("1"))
    unit_price = models.DecimalField(_("unit price"), max_digits=14, decimal_places=2)
    discount_percent = models.DecimalField(_("discount %"), max_digits=5, decimal_places=2, default=Decimal("0"))
    # The product's cost price when the item was sold, in the deal's currency (snapshot taken
    # on save and again when the deal is won); NULL when the product had no cost price then.
    unit_cost = models.DecimalField(_("unit cost"), max_digits=14, decimal_places=2, null=True, blank=True)
    position = models.PositiveSmallIntegerField(default=0)
    # Optimistic locking: every edit bumps it; a form posted with an older value conflicts.
    version = models.PositiveIntegerField(default=1, editable=False)

    class Meta:
        ordering = ["deal", "position", "id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(quantity__gt=0), name="lineitem_quantity_positive"),
            models.CheckConstraint(
                condition=models.Q(discount_percent__gte=0, discount_percent__lte=100), name="lineitem_discount_range"
            ),
        ]
        indexes = [models.Index(fields=["product", "deal"], name="lineitem_product_deal")]
        verbose_name = _("line item")
        verbose_name_plural = _("line items")

    def __str__(self) -> str:
        return f"{self.quantity} × {self.product}"

    @property
    def total(self) -> Decimal:
        gross = self.quantity * self.unit_price
        return (gross * (Decimal("100") - self.discount_percent) / Decimal("100")).quantize(Decimal("0.01"))

    @property
    def total_cost(self) -> Decimal | None:
        if self.unit_cost is None:
            return None
        # Half away from zero, as PostgreSQL's round() in the customer-value job.
        return (self.quantity * self.unit_cost).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


class MoneyGroup(models.Model):
    """A group of deals' money as the totals' triggers keep it (``deals.totals``): the deals'
    status, currency and rate month (the month of ``closed_at`` in TIME_ZONE; NULL for open
    deals), their number and the exact sums of amount and of amount × probability (both
    have two decimals)."""

    status = models.CharField(max_length=8)
    currency = models.CharField(max_length=3)
    rate_month = models.DateField(null=True)
    count = models.BigIntegerField()
    amount_sum = models.DecimalField(max_digits=30, decimal_places=2)
    weighted_sum = models.DecimalField(max_digits=30, decimal_places=2)

    class Meta:
        abstract = True


class DealTotal(MoneyGroup):
    """Running totals of ``deals_deal`` per owner, pipeline, stage, status, currency and rate
    month (the month of ``closed_at`` in TIME_ZONE; NULL for open deals): the deal list's and
    the board's money totals read these few thousand rows instead of summing every deal.

    Maintained only by PostgreSQL triggers on ``deals_deal`` (``deals.totals``), in the same
    transaction as the write, whatever wrote it (the ORM, ``QuerySet.update``, COPY, a cascade).
    Never written by the app; ``deals.totals.rebuild`` refills it from the deals.
    """

    # The unique key (owner first) serves a rep's or a team's rows; the pipeline index a board.
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+"
    )
    pipeline = models.ForeignKey(Pipeline, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+")
    stage = models.ForeignKey(Stage, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+")

    objects = OwnedQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "pipeline", "stage", "status", "currency", "rate_month"],
                nulls_distinct=False,
                name="dealtotal_key",
            ),
        ]
        # An admin's unfiltered totals read the open deals' groups (a tenth of the rows).
        indexes = [models.Index(fields=["status"], name="dealtotal_status")]
        verbose_name = _("deal total")
        verbose_name_plural = _("deal totals")

    def __str__(self) -> str:
        return f"{self.owner_id}/{self.pipeline_id}/{self.stage_id}/{self.status}/{self.currency}/{self.rate_month}"


class ClosedDealTotal(MoneyGroup):
    """``DealTotal``'s closed deals (won and lost) of every owner together: per pipeline, stage,
    status, currency and rate month. An admin's unfiltered deal list reads these and the open
    deals' ``DealTotal`` rows (a few hundred groups instead of one per owner and month).

    Maintained only by PostgreSQL triggers on ``deals_deal`` (``deals.totals``), like
    ``DealTotal``; ``manage.py rebuild_deal_totals`` refills both.
    """

    pipeline = models.ForeignKey(
        Pipeline, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+"
    )
    stage = models.ForeignKey(Stage, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["pipeline", "stage", "status", "currency", "rate_month"],
                nulls_distinct=False,
                name="closeddealtotal_key",
            ),
        ]
        verbose_name = _("closed deal total")
        verbose_name_plural = _("closed deal totals")

    def __str__(self) -> str:
        return f"{self.pipeline_id}/{self.stage_id}/{self.status}/{self.currency}/{self.rate_month}"


# --- Quotes (deals.quotes) ------------------------------------------------------------------


class QuoteStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    SENT = "sent", _("Sent")
    ACCEPTED = "accepted", _("Accepted")
    DECLINED = "declined", _("Declined")


class QuoteNumber(models.Model):
    """The last quote number given out in a year. Numbers are taken with this row locked, in
    the transaction that creates the quote: a rolled-back quote gives its number back, so a
    year's numbers have no gaps."""

    year = models.PositiveSmallIntegerField(primary_key=True)
    last = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("quote number sequence")
        verbose_name_plural = _("quote number sequences")

    def __str__(self) -> str:
        return f"{self.year}: {self.last}"


class Quote(models.Model):
    """A numbered offer made from a deal's line items. Its content lives in versions: an edit
    adds version N+1 and keeps the ones already sent."""

    deal = models.ForeignKey(Deal, on_delete=models.CASCADE, related_name="quotes", verbose_name=_("deal"))
    year = models.PositiveSmallIntegerField(_("year"))
    sequence = models.PositiveIntegerField(_("number in the year"))
    status = models.CharField(_("status"), max_length=10, choices=QuoteStatus.choices, default=QuoteStatus.DRAFT)
    version = models.PositiveIntegerField(_("current version"), default=1)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+", verbose_name=_("created by")
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    decided_at = models.DateTimeField(_("accepted or declined"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["year", "sequence"], name="quote_unique_number")]
        indexes = [models.Index(fields=["deal", "-created_at", "-id"], name="quote_deal_recent")]
        verbose_name = _("quote")
        verbose_name_plural = _("quotes")

    def __str__(self) -> str:
        return self.number

    def get_absolute_url(self) -> str:
        return reverse("deals:quote-detail", args=[self.pk])

    @property
    def number(self) -> str:
        return f"Q-{self.year}-{self.sequence:04d}"

    @property
    def is_decided(self) -> bool:
        return self.status in (QuoteStatus.ACCEPTED, QuoteStatus.DECLINED)


class QuoteVersion(models.Model):
    quote = models.ForeignKey(Quote, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField(_("version"))
    valid_until = models.DateField(_("valid until"))
    terms = models.TextField(_("terms"), blank=True)
    currency = models.CharField(_("currency"), max_length=3)
    subtotal = models.DecimalField(_("subtotal"), max_digits=16, decimal_places=2)
    discount_total = models.DecimalField(_("discounts"), max_digits=16, decimal_places=2)
    tax_total = models.DecimalField(_("tax"), max_digits=16, decimal_places=2)
    total = models.DecimalField(_("total"), max_digits=16, decimal_places=2)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        ordering = ["quote", "-version"]
        constraints = [models.UniqueConstraint(fields=["quote", "version"], name="quoteversion_unique_version")]
        verbose_name = _("quote version")
        verbose_name_plural = _("quote versions")

    def __str__(self) -> str:
        return f"{self.quote.number} v{self.version}"


class QuoteEmailState(models.TextChoices):
    QUEUED = "queued", _("Queued")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")


class QuoteEmail(models.Model):
    """One "send this version by email" request. The request only writes this row (and an
    outbox row for the task); a worker draws the PDF and hands the mail to the server
    (``deals.quotes.quote_email_deliver``). A refused mail is tried again at
    ``next_attempt_at`` (beat's sweep), up to ``QUOTE_EMAIL_MAX_ATTEMPTS`` times, with the
    server's answer in ``last_error``; the quote counts as sent once the mail is."""

    quote = models.ForeignKey(Quote, on_delete=models.CASCADE, related_name="emails", verbose_name=_("quote"))
    version = models.PositiveIntegerField(_("version"))
    to = models.JSONField(_("to"), default=list)
    subject = models.CharField(_("subject"), max_length=200)
    message = models.TextField(_("message"), blank=True)
    reply_to = models.EmailField(_("reply to"), blank=True)
    state = models.CharField(_("state"), max_length=10, choices=QuoteEmailState.choices, default=QuoteEmailState.QUEUED)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    last_error = models.TextField(_("last error"), blank=True)
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True, default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+", verbose_name=_("sent by")
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # The sweep: queued mails whose (next) attempt is due.
            models.Index(fields=["next_attempt_at"], condition=models.Q(state="queued"), name="quoteemail_due"),
            models.Index(fields=["quote", "-created_at"], name="quoteemail_quote_recent"),
        ]
        verbose_name = _("quote email")
        verbose_name_plural = _("quote emails")

    def __str__(self) -> str:
        return f"{self.quote_id} v{self.version} → {', '.join(self.to)}"


class QuoteLine(models.Model):
    """A line as quoted: the product's name and price are copied, so a later change to the
    deal or the catalogue never rewrites a quote already sent."""

    quote_version = models.ForeignKey(QuoteVersion, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveSmallIntegerField(default=0)
    description = models.CharField(_("description"), max_length=300)
    sku = models.CharField(_("SKU"), max_length=60, blank=True)
    quantity = models.DecimalField(_("quantity"), max_digits=12, decimal_places=2)
    unit_price = models.DecimalField(_("unit price"), max_digits=14, decimal_places=2)
    discount_percent = models.DecimalField(_("discount %"), max_digits=5, decimal_places=2, default=Decimal("0"))
    tax_percent = models.DecimalField(_("tax %"), max_digits=5, decimal_places=2, default=Decimal("0"))
    net = models.DecimalField(_("net"), max_digits=16, decimal_places=2)
    tax = models.DecimalField(_("tax"), max_digits=16, decimal_places=2)
    total = models.DecimalField(_("total"), max_digits=16, decimal_places=2)

    class Meta:
        ordering = ["quote_version", "position", "id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(quantity__gt=0), name="quoteline_quantity_positive"),
            models.CheckConstraint(
                condition=models.Q(discount_percent__gte=0, discount_percent__lte=100), name="quoteline_discount_range"
            ),
            models.CheckConstraint(
                condition=models.Q(tax_percent__gte=0, tax_percent__lte=100), name="quoteline_tax_range"
            ),
        ]
        verbose_name = _("quote line")
        verbose_name_plural = _("quote lines")

    def __str__(self) -> str:
        return f"{self.quantity} × {self.description}"
