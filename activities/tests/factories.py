import factory
from django.utils import timezone

from activities.models import Activity, ActivityType, Reminder
from contacts.models import Company, Contact
from crm.tests.factories import UserFactory
from deals.models import Deal, Pipeline, Stage


def activity_type(key: str) -> ActivityType:
    """The built-in types come from a data migration."""
    return ActivityType.objects.get(key=key)


class CompanyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Company

    name = factory.Sequence(lambda n: f"Company {n}")
    owner = factory.SubFactory(UserFactory)


class ContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contact

    first_name = factory.Faker("first_name")
    last_name = factory.Sequence(lambda n: f"Person{n}")
    company = factory.SubFactory(CompanyFactory, owner=factory.SelfAttribute("..owner"))
    owner = factory.SubFactory(UserFactory)


class PipelineFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Pipeline
        django_get_or_create = ["name"]

    name = "Sales"


class StageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Stage
        django_get_or_create = ["pipeline", "name"]

    pipeline = factory.SubFactory(PipelineFactory)
    name = "Qualified"
    probability = 20


class DealFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Deal

    title = factory.Sequence(lambda n: f"Deal {n}")
    owner = factory.SubFactory(UserFactory)
    company = factory.SubFactory(CompanyFactory, owner=factory.SelfAttribute("..owner"))
    stage = factory.SubFactory(StageFactory)
    pipeline = factory.SelfAttribute("stage.pipeline")


class ActivityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Activity

    type = factory.LazyFunction(lambda: activity_type("task"))
    subject = factory.Sequence(lambda n: f"Activity {n}")
    owner = factory.SubFactory(UserFactory)
    created_by = factory.SelfAttribute("owner")


class ReminderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Reminder

    activity = factory.SubFactory(ActivityFactory, due_at=factory.LazyFunction(timezone.now))
    remind_at = factory.LazyFunction(timezone.now)
