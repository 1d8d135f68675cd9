import factory

from contacts.models import Company, Contact, Tag
from crm.tests.factories import UserFactory


class TagFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tag
        django_get_or_create = ["name"]

    name = factory.Sequence(lambda n: f"tag{n}")


class CompanyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Company
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Company {n:04d}")
    domain = factory.Sequence(lambda n: f"company{n}.example")
    country = "US"
    owner = factory.SubFactory(UserFactory)


class ContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contact
        skip_postgeneration_save = True

    first_name = "Anna"
    last_name = factory.Sequence(lambda n: f"Person{n:04d}")
    email = factory.Sequence(lambda n: f"person{n}@example.com")
    country = "US"
    owner = factory.SubFactory(UserFactory)
