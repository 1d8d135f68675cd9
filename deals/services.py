"""Writes on deals. Every stage move — board, form, admin, API — goes through ``deal_move_stage``
(or ``deal_update`` when an edit also changes the stage), which writes the StageChange, the
deal's history and the customer's timeline event in one transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from contacts.models import Contact
from contacts.signals import customer_event
from crm.bulk_actions import bulk_job_create, bulk_kind
from crm.models import BulkJob, BulkJobState, User
from crm.versioning import VersionConflict, bump, lock_versioned
from deals.models import Deal, DealStatus, LineItem, LostReason, Pipeline, Product, ProductCost, Stage, StageChange
from deals.money import CENT, MissingRate, RateBook
from deals.selectors import deal_reopen_stage
from deals.signals import deal_changed, deal_stage_changed

# Fields a person edits on the deal form; ``deal_update`` accepts only these (plus contacts).
EDITABLE_FIELDS = (
    "title",
    "company",
    "owner",
    "pipeline",
    "stage",
    "amount",
    "currency",
    "amount_from_line_items",
    "probability",
    "probability_is_manual",
    "expected_close_date",
    "source",
    "lost_reason",
    "lost_note",
    "custom",
)


class DealConflict(VersionConflict):
    """The deal changed since the editor loaded it; nothing was saved."""

    @property
    def deal(self) -> Deal:
        return self.instance


class StageMoveConflict(Exception):
    """The deal is no longer in the stage the mover saw (someone else moved it first)."""

    def __init__(self, *, deal: Deal) -> None:
        super().__init__(f"Deal {deal.pk} is now in stage {deal.stage_id}")
        self.deal = deal


def _locked_deal(deal: Deal) -> Deal:
    # No joins in the locking query: when PostgreSQL re-checks a row that a concurrent
    # transaction just updated, an outer join (company is nullable) can make the row vanish.
    return Deal.objects.select_for_update().get(pk=deal.pk)


def _event_kind(old_status: str, new_status: str) -> str:
    if new_status == DealStatus.WON:
        return "deal_won"
    if new_status == DealStatus.LOST:
        return "deal_lost"
    if old_status != DealStatus.OPEN:
        return "deal_reopened"
    return "stage_change"


def _apply_stage(
    *,
    deal: Deal,
    stage: Stage,
    actor: User | None,
    at: dt.datetime,
    lost_reason: LostReason | None,
    lost_note: str,
    from_stage: Stage | None,
) -> StageChange:
    """Set everything that follows from the deal being in ``stage``; the caller saves the deal."""
    if stage.is_lost and lost_reason is None:
        raise ValidationError({"lost_reason": _("Say why the deal was lost.")})
    old_status = deal.status
    deal.stage = stage
    deal.pipeline_id = stage.pipeline_id
    deal.stage_entered_at = at
    if not deal.probability_is_manual:
        deal.probability = stage.probability
    if stage.is_won:
        deal.status = DealStatus.WON
    elif stage.is_lost:
        deal.status = DealStatus.LOST
    else:
        deal.status = DealStatus.OPEN
    if deal.status == DealStatus.OPEN:
        deal.closed_at = None
        deal.lost_reason = None
        deal.lost_note = ""
    elif old_status != deal.status or deal.closed_at is None:
        deal.closed_at = at
    if deal.status == DealStatus.LOST:
        deal.lost_reason = lost_reason
        deal.lost_note = lost_note
    elif deal.status == DealStatus.WON:
        deal.lost_reason = None
        deal.lost_note = ""
    deal._change_reason = _("Moved from %(from)s to %(to)s") % {"from": from_stage or "—", "to": stage}
    change = StageChange(
        deal=deal,
        from_stage=from_stage,
        to_stage=stage,
        actor=actor,
        at=at,
        lost_reason=lost_reason if stage.is_lost else None,
        note=lost_note if stage.is_lost else "",
    )
    change._event_kind = _event_kind(old_status, deal.status)
    if deal.status == DealStatus.WON and old_status != DealStatus.WON and deal.pk is not None:
        # The cost at the time of sale: the product cost prices of the close date.
        line_items_snapshot_cost(deal=deal, on=timezone.localdate(at))
    return change


def _announce(*, deal: Deal, change: StageChange, actor: User | None) -> None:
    """Timeline event and ``deal_stage_changed``, both inside the move's transaction."""
    kind = change._event_kind
    titles = {
        "deal_won": _("Deal won: %(deal)s"),
        "deal_lost": _("Deal lost: %(deal)s"),
        "deal_reopened": _("Deal reopened: %(deal)s"),
        "stage_change": _("%(deal)s moved to %(stage)s"),
    }
    data: dict[str, Any] = {
        "from_stage": change.from_stage.name if change.from_stage else None,
        "to_stage": change.to_stage.name,
        "stage_change_id": change.pk,
    }
    if change.lost_reason:
        data["lost_reason"] = change.lost_reason.name
    customer_event.send(
        sender=Deal,
        kind=kind,
        title=titles[kind] % {"deal": deal.title, "stage": change.to_stage.name},
        occurred_at=change.at,
        actor=actor,
        company=deal.company,
        contact=None,
        deal=deal,
        body=change.note,
        data=data,
    )
    # Inside the transaction: receivers that need work done after the commit write an outbox
    # row (``crm.services.outbox_enqueue``), which commits — or rolls back — with the move.
    deal_stage_changed.send(sender=Deal, deal=deal, stage_change=change)


def _line_items_total(deal: Deal) -> Decimal:
    # Line items are priced in the deal's own currency, so this sum never mixes currencies.
    totals = [item.total for item in LineItem.objects.filter(deal=deal)]
    return sum(totals, Decimal("0"))


def deal_create(*, deal: Deal, actor: User | None, contacts: Iterable[Contact] = ()) -> Deal:
    """Save a new (unsaved) deal in its stage and write its first StageChange (from nowhere)."""
    if deal.stage.pipeline_id != deal.pipeline_id:
        raise ValidationError({"stage": _("That stage belongs to another pipeline.")})
    now = timezone.now()
    with transaction.atomic():
        deal.created_at = now
        change = _apply_stage(
            deal=deal,
            stage=deal.stage,
            actor=actor,
            at=now,
            lost_reason=deal.lost_reason,
            lost_note=deal.lost_note,
            from_stage=None,
        )
        deal.version = 1
        deal._change_reason = _("Created")
        deal.save()
        change.deal = deal
        change.save()
        if contacts:
            deal.contacts.set(contacts)
        _announce(deal=deal, change=change, actor=actor)
    return deal


def deal_move_stage(
    *,
    deal: Deal,
    stage: Stage,
    actor: User | None,
    lost_reason: LostReason | None = None,
    lost_note: str = "",
    expected_stage: Stage | None = None,
    version: int | None = None,
) -> Deal:
    """Move ``deal`` to ``stage``: the one way a stage changes.

    Locks the deal row so two simultaneous moves are applied one after the other, each
    recording the stage it really left. With ``expected_stage`` (what the mover saw), a deal
    that someone else moved meanwhile raises ``StageMoveConflict`` instead of being moved;
    with ``version`` (an API client's), a deal saved since raises ``VersionConflict``. Both
    are checked on the locked row, so a concurrent change cannot slip in between.
    """
    with transaction.atomic():
        locked = _locked_deal(deal)
        if version is not None and locked.version != version:
            raise VersionConflict(instance=locked, changes=[], changed_by=None)
        if stage.pipeline_id != locked.pipeline_id:
            raise ValidationError({"stage": _("That stage belongs to another pipeline.")})
        if expected_stage is not None and locked.stage_id != expected_stage.pk:
            raise StageMoveConflict(deal=locked)
        if locked.stage_id == stage.pk:
            return locked
        change = _apply_stage(
            deal=locked,
            stage=stage,
            actor=actor,
            at=timezone.now(),
            lost_reason=lost_reason,
            lost_note=lost_note,
            from_stage=locked.stage if locked.stage_id else None,
        )
        locked.version += 1
        locked.save()
        change.save()
        _announce(deal=locked, change=change, actor=actor)
    return locked


def deal_mark_won(*, deal: Deal, actor: User | None) -> Deal:
    stage = Stage.objects.filter(pipeline_id=deal.pipeline_id, is_won=True).order_by("position", "id").first()
    if stage is None:
        raise ValidationError(_("The pipeline has no won stage; an admin can add one."))
    return deal_move_stage(deal=deal, stage=stage, actor=actor)


def deal_mark_lost(*, deal: Deal, actor: User | None, lost_reason: LostReason | None, lost_note: str = "") -> Deal:
    stage = Stage.objects.filter(pipeline_id=deal.pipeline_id, is_lost=True).order_by("position", "id").first()
    if stage is None:
        raise ValidationError(_("The pipeline has no lost stage; an admin can add one."))
    return deal_move_stage(deal=deal, stage=stage, actor=actor, lost_reason=lost_reason, lost_note=lost_note)


def deal_reopen(*, deal: Deal, actor: User | None, stage: Stage | None = None) -> Deal:
    """Reopen a closed deal in ``stage``, by default the open stage it was closed from."""
    if stage is None:
        stage = deal_reopen_stage(deal)
    if stage is None or stage.is_closed:
        raise ValidationError({"stage": _("Choose an open stage to reopen the deal in.")})
    return deal_move_stage(deal=deal, stage=stage, actor=actor)


def deal_update(*, deal: Deal, actor: User | None, version: int | None, data: dict[str, Any]) -> Deal:
    """Apply an edit made on ``version`` of the deal.

    When someone saved the deal after that version, ``DealConflict`` lists what they changed
    and nothing is written. A changed stage goes through the same rules as ``deal_move_stage``.
    ``version=None`` skips the check (only for callers that hold no stale copy).
    """
    unknown = set(data) - {*EDITABLE_FIELDS, "contacts"}
    if unknown:
        raise ValueError(f"deal_update does not change {sorted(unknown)}")
    with transaction.atomic():
        try:
            locked = lock_versioned(deal, version=version, fields=EDITABLE_FIELDS, submitted=data, history="history")
        except VersionConflict as exc:
            raise DealConflict(instance=exc.instance, changes=exc.changes, changed_by=exc.changed_by) from None
        old_stage = locked.stage
        new_stage: Stage = data.get("stage", old_stage)
        new_pipeline: Pipeline | None = data.get("pipeline")
        if new_pipeline is not None and new_stage.pipeline_id != new_pipeline.pk:
            raise ValidationError({"stage": _("That stage belongs to another pipeline.")})
        for field, value in data.items():
            if field not in {"stage", "pipeline", "contacts", "lost_reason", "lost_note"}:
                setattr(locked, field, value)
        change = None
        if new_stage.pk != old_stage.pk:
            change = _apply_stage(
                deal=locked,
                stage=new_stage,
                actor=actor,
                at=timezone.now(),
                lost_reason=data.get("lost_reason", locked.lost_reason),
                lost_note=data.get("lost_note", locked.lost_note),
                from_stage=old_stage,
            )
        else:
            if locked.status == DealStatus.LOST:
                if "lost_reason" in data and data["lost_reason"] is None:
                    raise ValidationError({"lost_reason": _("Say why the deal was lost.")})
                locked.lost_reason = data.get("lost_reason", locked.lost_reason)
                locked.lost_note = data.get("lost_note", locked.lost_note)
            locked._change_reason = _("Edited")
        if not locked.probability_is_manual:
            locked.probability = locked.stage.probability
        if locked.amount_from_line_items:
            locked.amount = _line_items_total(locked)
        locked.version += 1
        locked.full_clean(exclude=["contacts", "company", "owner", "stage", "pipeline", "lost_reason"])
        locked.save()
        if "contacts" in data:
            locked.contacts.set(data["contacts"])
        if change is not None:
            change.save()
            _announce(deal=locked, change=change, actor=actor)
        else:
            deal_changed.send(sender=Deal, deal=locked)
    return locked


def _after_line_items_changed(deal: Deal, reason: str) -> None:
    if deal.amount_from_line_items:
        deal.amount = _line_items_total(deal)
    deal.version += 1
    deal._change_reason = reason
    deal.save()
    deal_changed.send(sender=Deal, deal=deal)


def line_item_default_price(*, product: Product, currency: str, on: dt.date | None = None) -> Decimal:
    """The product's price in ``currency`` (converted through the base currency when they differ)."""
    if product.currency == currency:
        return product.price
    on = on or timezone.localdate()
    book = RateBook()
    in_base = book.to_base(product.price, product.currency, on)
    return (in_base / book.rate(currency, on)).quantize(Decimal("0.01"))


def product_unit_cost(*, product: Product, currency: str, on: dt.date, book: RateBook | None = None) -> Decimal | None:
    """The product's cost price on ``on`` (its latest ``ProductCost`` from that day or before),
    in ``currency``; None when the product had no cost price then or no rate converts it."""
    row = ProductCost.objects.filter(product=product, valid_from__lte=on).order_by("-valid_from").first()
    if row is None:
        return None
    if row.currency == currency:
        return row.cost
    book = book or RateBook()
    try:
        return (book.to_base(row.cost, row.currency, on) / book.rate(currency, on)).quantize(CENT)
    except MissingRate:
        return None


def line_items_snapshot_cost(*, deal: Deal, on: dt.date) -> int:
    """Store every line item's unit cost as of ``on`` (the deal was won that day); returns how
    many changed. Runs inside the caller's transaction."""
    book = RateBook()
    changed = 0
    for item in LineItem.objects.filter(deal=deal).select_related("product"):
        cost = product_unit_cost(product=item.product, currency=deal.currency, on=on, book=book)
        if cost != item.unit_cost:
            LineItem.objects.filter(pk=item.pk).update(unit_cost=cost)
            changed += 1
    return changed


def _cost_date(deal: Deal) -> dt.date:
    """The day whose cost prices a line item takes: the close date of a won deal, else today."""
    if deal.status == DealStatus.WON and deal.closed_at is not None:
        return timezone.localdate(deal.closed_at)
    return timezone.localdate()


def line_item_add(
    *,
    deal: Deal,
    actor: User | None,
    product: Product,
    quantity: Decimal,
    unit_price: Decimal | None = None,
    discount_percent: Decimal = Decimal("0"),
) -> LineItem:
    with transaction.atomic():
        locked = _locked_deal(deal)
        if unit_price is None:
            unit_price = line_item_default_price(product=product, currency=locked.currency)
        position = (LineItem.objects.filter(deal=locked).count()) + 1
        item = LineItem(
            deal=locked,
            product=product,
            quantity=quantity,
            unit_price=unit_price,
            discount_percent=discount_percent,
            unit_cost=product_unit_cost(product=product, currency=locked.currency, on=_cost_date(locked)),
            position=position,
        )
        item.full_clean()
        item.save()
        _after_line_items_changed(locked, _("Line item added: %(product)s") % {"product": product.name})
    deal.refresh_from_db()
    return item


def line_item_update(
    *,
    line_item: LineItem,
    actor: User | None,
    quantity: Decimal,
    unit_price: Decimal,
    discount_percent: Decimal,
    version: int | None = None,
) -> LineItem:
    """Change a line item edited on ``version`` (``VersionConflict`` when someone saved it since)."""
    with transaction.atomic():
        locked = _locked_deal(line_item.deal)
        submitted = {"quantity": quantity, "unit_price": unit_price, "discount_percent": discount_percent}
        lock_versioned(line_item, version=version, fields=list(submitted), submitted=submitted)
        line_item.quantity = quantity
        line_item.unit_price = unit_price
        line_item.discount_percent = discount_percent
        line_item.unit_cost = product_unit_cost(
            product=line_item.product, currency=locked.currency, on=_cost_date(locked)
        )
        line_item.full_clean()
        bump(line_item)
        line_item.save()
        _after_line_items_changed(locked, _("Line item changed: %(product)s") % {"product": line_item.product.name})
    return line_item


def line_item_remove(*, line_item: LineItem, actor: User | None) -> None:
    with transaction.atomic():
        locked = _locked_deal(line_item.deal)
        name = line_item.product.name
        line_item.delete()
        _after_line_items_changed(locked, _("Line item removed: %(product)s") % {"product": name})


# --- Pipeline stages --------------------------------------------------------------------------


def stage_positions_settle(*, pipeline: Pipeline, claimed: Iterable[int] = ()) -> list[Stage]:
    """Renumbers the pipeline's stages 0, 1, 2… in their order. A stage in ``claimed`` (just
    added, or its position just typed) takes the position it asked for and the stage that
    held it moves one down: inserting at "Proposal + 1" lands right after Proposal, before
    Negotiation, instead of behind it by id. Returns the stages in order."""
    claimed_ids = set(claimed)
    with transaction.atomic():
        stages = list(Stage.objects.select_for_update().filter(pipeline=pipeline).order_by("position", "id"))
        stages.sort(key=lambda s: (s.position, s.pk not in claimed_ids, s.pk))
        changed = []
        for index, stage in enumerate(stages):
            if stage.position != index:
                stage.position = index
                changed.append(stage)
        if changed:
            Stage.objects.bulk_update(changed, ["position"])
    return stages


def _stage_kind(stage: Stage) -> tuple[bool, bool]:
    return (stage.is_won, stage.is_lost)


def stage_add(
    *,
    pipeline: Pipeline,
    name: str,
    probability: int,
    rotting_days: int | None = None,
    is_won: bool = False,
    is_lost: bool = False,
) -> Stage:
    """A new stage: an open one goes after the last open stage (before Won and Lost), a won or
    lost one at the end. Reordering is ``stage_reorder``'s job."""
    if is_won and is_lost:
        raise ValidationError(_("A stage cannot be both won and lost."))
    with transaction.atomic():
        stages = stage_positions_settle(pipeline=pipeline)
        if Stage.objects.filter(pipeline=pipeline, name=name).exists():
            raise ValidationError({"name": _("This pipeline already has a stage with that name.")})
        if is_won or is_lost:
            position = len(stages)
        else:
            open_positions = [s.position for s in stages if not s.is_closed]
            position = (max(open_positions) + 1) if open_positions else 0
        stage = Stage.objects.create(
            pipeline=pipeline,
            name=name,
            probability=probability,
            rotting_days=rotting_days,
            is_won=is_won,
            is_lost=is_lost,
            position=position,
        )
        stage_positions_settle(pipeline=pipeline, claimed=[stage.pk])
    stage.refresh_from_db()
    return stage


def stage_update(*, stage: Stage, name: str, probability: int, rotting_days: int | None) -> Stage:
    """Rename a stage, change its probability or its rotting days. Deals keep the probability
    they have; new moves into the stage take the new one."""
    if Stage.objects.filter(pipeline_id=stage.pipeline_id, name=name).exclude(pk=stage.pk).exists():
        raise ValidationError({"name": _("This pipeline already has a stage with that name.")})
    stage.name, stage.probability, stage.rotting_days = name, probability, rotting_days
    stage.full_clean(exclude=["pipeline", "position"])
    stage.save(update_fields=["name", "probability", "rotting_days"])
    return stage


def stage_reorder(*, pipeline: Pipeline, stage_ids: list[int]) -> list[Stage]:
    """Put the pipeline's stages in the order of ``stage_ids`` (every stage, each once)."""
    with transaction.atomic():
        stages = {s.pk: s for s in Stage.objects.select_for_update().filter(pipeline=pipeline)}
        if sorted(stage_ids) != sorted(stages):
            raise ValidationError(_("The list of stages changed meanwhile; reload the page and try again."))
        ordered = [stages[pk] for pk in stage_ids]
        for index, stage in enumerate(ordered):
            stage.position = index
        Stage.objects.bulk_update(ordered, ["position"])
    return ordered


def stage_shift(*, stage: Stage, offset: int) -> list[Stage]:
    """Move a stage one place up (``offset=-1``) or down (``+1``): the keyboard's way to reorder."""
    stages = stage_positions_settle(pipeline=stage.pipeline)
    ids = [s.pk for s in stages]
    index = ids.index(stage.pk)
    target = min(max(index + offset, 0), len(ids) - 1)
    ids.insert(target, ids.pop(index))
    return stage_reorder(pipeline=stage.pipeline, stage_ids=ids)


def stage_delete_targets(stage: Stage) -> list[Stage]:
    """Where a deleted stage's deals may go: another stage of the pipeline of the same kind
    (open, won or lost), so no deal is reopened or closed by the deletion."""
    return [
        s
        for s in Stage.objects.filter(pipeline_id=stage.pipeline_id).exclude(pk=stage.pk).order_by("position", "id")
        if _stage_kind(s) == _stage_kind(stage)
    ]


STAGE_DELETION_KIND = "stage-deletion"


@dataclass(frozen=True)
class StageDeletion:
    """What ``stage_delete`` did: ``moved`` deals in the request and the stage is gone, or a
    ``job`` moving them in the background (the stage goes when it finishes)."""

    moved: int
    job: BulkJob | None = None


def stage_delete(*, stage: Stage, move_to: Stage | None, actor: User) -> StageDeletion:
    """Delete a stage after moving its deals to ``move_to`` (each move recorded as usual).
    A stage that deals passed through stays in their history and the funnel, hidden
    (``archived_at``); one never used is removed.

    Up to ``BULK_SYNC_MAX`` deals move in the request; more move in a bulk job on a worker
    (its progress is the pipeline editor's banner) that removes the stage at the end."""
    targets = {s.pk for s in stage_delete_targets(stage)}
    if not targets:
        raise ValidationError(_("A pipeline needs an open, a won and a lost stage: add another of this kind first."))
    deal_ids = list(Deal.objects.filter(stage=stage).order_by("pk").values_list("pk", flat=True))
    if deal_ids and (move_to is None or move_to.pk not in targets):
        raise ValidationError({"move_to": _("Choose another stage of the same kind for its deals.")})
    if stage_deletion_running(stage):
        raise ValidationError(_("This stage is being deleted already: its deals are moving."))
    kind = bulk_kind(STAGE_DELETION_KIND)  # registered by deals.bulk_actions (DealsConfig.ready)
    if len(deal_ids) > settings.BULK_SYNC_MAX and move_to is not None and kind is not None:
        job = bulk_job_create(
            user=actor,
            kind=kind,
            action=kind.actions["move"],
            params={"stage": stage.pk, "stage_name": stage.name, "move_to": move_to.pk, "move_to_name": move_to.name},
            ids=deal_ids,
        )
        return StageDeletion(moved=0, job=job)
    for deal in Deal.objects.filter(pk__in=deal_ids).order_by("pk"):
        deal_move_stage(deal=deal, stage=move_to, actor=actor, lost_reason=deal.lost_reason, lost_note=deal.lost_note)
    stage_retire(stage=stage, move_to=move_to, actor=actor)
    return StageDeletion(moved=len(deal_ids))


def stage_deletion_running(stage: Stage) -> bool:
    return BulkJob.objects.filter(
        kind=STAGE_DELETION_KIND,
        params__stage=stage.pk,
        state__in=[BulkJobState.PENDING, BulkJobState.RUNNING],
    ).exists()


def stage_retire(*, stage: Stage, move_to: Stage | None, actor: User | None) -> int:
    """The end of a deletion, once the deals have moved: any deal that entered the stage
    meanwhile moves too, then the stage is archived (it has history) or removed. Idempotent.
    Returns how many late deals it moved."""
    late = 0
    with transaction.atomic():
        locked = Stage.objects.select_for_update().filter(pk=stage.pk).first()
        if locked is None or locked.archived_at is not None:
            return 0
        for deal in Deal.objects.filter(stage=locked).order_by("pk"):
            if move_to is None:
                raise ValidationError(_("A deal entered this stage meanwhile; try again."))
            deal_move_stage(
                deal=deal, stage=move_to, actor=actor, lost_reason=deal.lost_reason, lost_note=deal.lost_note
            )
            late += 1
        used = StageChange.objects.filter(Q(from_stage=locked) | Q(to_stage=locked)).exists()
        if used:
            locked.archived_at = timezone.now()
            locked.save(update_fields=["archived_at"])
        else:
            locked.delete()
        stage_positions_settle(pipeline=locked.pipeline)
    return late
