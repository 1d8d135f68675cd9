from django.core.management import call_command

from contacts.models import Company, Contact


def test_seed_demo_adds_varied_customers_once(db, settings):
    settings.DEBUG = True
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    companies, contacts = Company.objects.count(), Contact.objects.count()
    assert 190 <= companies <= 220
    assert 950 <= contacts <= 1100
    assert set(Company.objects.values_list("country", flat=True)) >= {"RU", "CN", "US", "DE", "GB"}
    assert Contact.objects.filter(phone__startswith="+7").exists()
    assert Contact.objects.filter(phone__startswith="+86").exists()
    assert Contact.objects.filter(email="").exists()
    assert Company.objects.filter(phone_is_invalid=True).exists()
    assert Contact.objects.filter(do_not_call=True).exists()
    # The same email typed in another case is normalised into a duplicate a later check finds.
    assert (
        Contact.objects.values("email").exclude(email="").count()
        > Contact.objects.values("email").exclude(email="").distinct().count()
    )
    assert Company.history.count() == companies
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert Company.objects.count() == companies
    assert Contact.objects.count() == contacts
