import pytest

from tests.factories import MerchantFactory, make_api_key


@pytest.mark.django_db
def test_me_answers_for_a_valid_key(api):
    merchant = MerchantFactory(name="Sweet Spoon")
    key = make_api_key(merchant, "finance")
    data = api.execute("{ me { name } }", key=key).ok()
    assert data == {"me": {"name": "Sweet Spoon"}}


def test_me_over_a_real_socket(live_api):
    merchant = MerchantFactory(name="Mochi")
    key = make_api_key(merchant, "brand")
    assert live_api.execute("{ me { name } }", key=key).ok() == {"me": {"name": "Mochi"}}
