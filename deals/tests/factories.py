"""Factories for deal tests, plus minimal company/contact factories of the deals app's own."""

from __future__ import annotations

from decimal import Decimal

import factory

from contacts.models import Company, Contact
from crm.tests.factories import UserFactory
from deals.models import Deal, LostReason, Pipeline, Product, Stage, StageChange

SALES_STAGES = [
    ("Lead", 10, False, False),
    ("Qualified", 25, False, False),
    ("Proposal", 50, False, False),
    ("Negotiation", 75, False, False),
    ("Won", 100, True, False),
    ("Lost", 0, False, True),
]


def make_pipeline(name: str = "Sales", *, default: bool = True) -> Pipeline:
    """A pipeline with the default stages (tests never rely on the data migration's rows,
    which transactional tests flush)."""
    pipeline, created = Pipeline.objects.get_or_create(name=name, defaults={"is_default": default})
    if created:
        Stage.objects.bulk_create(
            Stage(pipeline=pipeline, name=n, position=i, probability=p, is_won=w, is_lost=lost)
            for i, (n, p, w, lost) in enumerate(SALES_STAGES)
        )
    return pipeline


def stage(pipeline: Pipeline, name: str) -> Stage:
    return Stage.objects.get(pipeline=pipeline, name=name)


class CompanyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Company

    name = factory.Sequence(lambda n: f"Company {n}")
    owner = factory.SubFactory(UserFactory)


class ContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contact

    first_name = factory.Faker("first_name")
    last_name = factory.Sequence(lambda n: f"Contact{n}")
    owner = factory.SubFactory(UserFactory)


class LostReasonFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LostReason
        django_get_or_create = ["name"]

    name = "Price too high"


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product

    name = factory.Sequence(lambda n: f"Product {n}")
    sku = factory.Sequence(lambda n: f"SKU-{n:05d}")
    price = Decimal("100.00")
    currency = "USD"


class DealFactory(factory.django.DjangoModelFactory):
    """An open deal in the pipeline's first stage, with its first StageChange."""

    class Meta:
        model = Deal
        skip_postgeneration_save = True

    title = factory.Sequence(lambda n: f"Deal {n}")
    owner = factory.SubFactory(UserFactory)
    pipeline = factory.LazyFunction(make_pipeline)
    stage = factory.LazyAttribute(lambda d: d.pipeline.stages.order_by("position").first())
    amount = Decimal("1000.00")
    currency = "USD"
    probability = factory.LazyAttribute(lambda d: d.stage.probability)

    @factory.post_generation
    def first_stage_change(obj, create, extracted, **kwargs):
        if create:
            StageChange.objects.create(
                deal=obj, from_stage=None, to_stage=obj.stage, actor=obj.owner, at=obj.created_at
            )
