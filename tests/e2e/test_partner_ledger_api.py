"""The partner reads what it is owed through the API; the issuer and the partner each see
only their own ledger lines of a partner's write-off."""

from __future__ import annotations

import pytest

from attribution import recording
from billing import services
from tests.factories import make_api_key, partner_till, pos_setup, redeem

pytestmark = pytest.mark.django_db


def balances(api, operation, key) -> dict[str, int]:
    answer = api.execute(operation("billing_ledger_balances"), {}, key=key).ok()["ledgerBalances"]
    return {row["accountKind"]: row["total"] for row in answer}


def test_each_side_sees_its_own_lines(api, operation):
    setup = pos_setup(coupons=1, fee_per_redemption=150, publisher_share_bps=4000)
    partner = partner_till(setup, max_reimbursement=400, handling_fee=30)
    redemption = redeem(setup, terminal=partner.terminal)
    recording.record_for_redemption(redemption_id=redemption.pk)  # attribution's handler
    services.charge_redemption(redemption_id=redemption.pk)
    assert balances(api, operation, make_api_key(partner.merchant, "finance")) == {"PARTNER_PAYABLE": -430}
    assert balances(api, operation, make_api_key(setup.merchant, "finance")) == {"ISSUER_RECEIVABLE": 580}
    write_offs = api.execute(
        operation("billing_write_offs"), {}, key=make_api_key(setup.merchant, "finance")
    ).ok()["billingWriteOffs"]["edges"]
    assert [(e["node"]["fee"], e["node"]["reimbursement"]) for e in write_offs] == [(150, 430)]
    # the partner's own list of write-offs shows its till's, without the issuer's campaign
    rows = api.execute(
        operation("pos_redemptions"), {}, key=make_api_key(partner.merchant, "admin")
    ).ok()["redemptions"]["edges"]
    node = rows[0]["node"]
    assert (node["asPartner"], node["campaign"], node["placement"]) == (True, None, None)
    assert (node["campaignName"], node["reimbursementAmount"], node["handlingFeeAmount"]) == (
        setup.campaign.name,
        400,
        30,
    )
