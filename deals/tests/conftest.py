import pytest

from deals.tests.factories import CompanyFactory, DealFactory, make_pipeline


@pytest.fixture
def pipeline(db):
    return make_pipeline()


@pytest.fixture
def company(owner):
    return CompanyFactory(owner=owner, name="Acme Robotics")


@pytest.fixture
def deal(owner, pipeline, company):
    return DealFactory(owner=owner, pipeline=pipeline, company=company, title="Acme rollout")
