"""Deals with stage histories, built directly (the deals services live on another branch)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import factory

from crm.tests.factories import UserFactory
from deals.models import Deal, DealStatus, LostReason, Pipeline, Stage, StageChange


class PipelineFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Pipeline
        django_get_or_create = ["name"]

    name = factory.Sequence(lambda n: f"Pipeline {n}")


class StageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Stage

    pipeline = factory.SubFactory(PipelineFactory)
    name = factory.Sequence(lambda n: f"Stage {n}")
    position = factory.Sequence(lambda n: n)


class LostReasonFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LostReason
        django_get_or_create = ["name"]

    name = "Price"


def sales_pipeline(name: str = "Report test", *, is_default: bool = True) -> tuple[Pipeline, dict[str, Stage]]:
    """Lead 10% → Qualified 30% → Proposal 60% → Won 100%, plus Lost; the default pipeline unless told."""
    if is_default:
        Pipeline.objects.update(is_default=False)  # the migration's "Sales" pipeline steps aside
    pipeline = PipelineFactory(name=name, is_default=is_default)
    spec = [("Lead", 10, False, False), ("Qualified", 30, False, False), ("Proposal", 60, False, False)]
    spec += [("Won", 100, True, False), ("Lost", 0, False, True)]
    stages = {
        stage_name: StageFactory(
            pipeline=pipeline, name=stage_name, position=index, probability=probability, is_won=won, is_lost=lost
        )
        for index, (stage_name, probability, won, lost) in enumerate(spec)
    }
    return pipeline, stages


def deal_with_history(
    *,
    owner,
    moves: list[tuple[Stage, dt.datetime]],
    amount: Decimal | int = 1000,
    currency: str = "USD",
    probability: int | None = None,
    expected_close_date: dt.date | None = None,
    lost_reason: LostReason | None = None,
    source: str = "",
    company=None,
) -> Deal:
    """A deal created at its first move; won or lost when its last move is to a closing stage."""
    first_stage, created_at = moves[0]
    last_stage, last_at = moves[-1]
    status = DealStatus.WON if last_stage.is_won else DealStatus.LOST if last_stage.is_lost else DealStatus.OPEN
    deal = Deal.objects.create(
        title=f"Deal of {owner}",
        owner=owner,
        pipeline=first_stage.pipeline,
        stage=last_stage,
        amount=Decimal(amount),
        currency=currency,
        probability=last_stage.probability if probability is None else probability,
        expected_close_date=expected_close_date,
        status=status,
        closed_at=None if status == DealStatus.OPEN else last_at,
        lost_reason=lost_reason,
        source=source,
        created_at=created_at,
        stage_entered_at=last_at,
        company=company,
    )
    previous = None
    for stage, at in moves:
        StageChange.objects.create(deal=deal, from_stage=previous, to_stage=stage, actor=owner, at=at)
        previous = stage
    return deal


__all__ = ["UserFactory", "PipelineFactory", "StageFactory", "LostReasonFactory", "sales_pipeline", "deal_with_history"]
