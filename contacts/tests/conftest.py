import pytest

from contacts.tests.factories import CompanyFactory, ContactFactory


@pytest.fixture
def company(owner):
    return CompanyFactory(owner=owner, name="Acme Corp", domain="acme.example", phone="+14155552671")


@pytest.fixture
def contact(owner, company):
    return ContactFactory(
        owner=owner, company=company, first_name="Anna", last_name="Petrova", phone="+79161234567", country="RU"
    )


@pytest.fixture
def client_for(request):
    """The logged-in client of a persona by name: "owner", "teammate", "outsider", "manager", "admin"."""

    def get(who: str):
        return request.getfixturevalue(f"{who}_client")

    return get


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    # The personas are created for every test; the production hasher makes that take seconds.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
