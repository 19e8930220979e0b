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


def test_the_record_level_export_names_the_reimbursement():
    from attribution.reports import ReportFilters
    from billing.writeoff_export import SCHEMA, writeoff_chunks

    setup = pos_setup(coupons=2, fee_per_redemption=150)
    partner = partner_till(setup, max_reimbursement=400, handling_fee=30)
    at_partner = redeem(setup, setup.coupons[0].code, terminal=partner.terminal)
    at_own = redeem(setup, setup.coupons[1].code)
    for redemption in (at_partner, at_own):
        recording.record_for_redemption(redemption_id=redemption.pk)
        services.charge_redemption(redemption_id=redemption.pk)
    rows = [row for chunk in writeoff_chunks(merchant=setup.merchant, filters=ReportFilters()) for row in chunk]
    column = SCHEMA.names.index("reimbursement")
    assert [row[column] for row in rows] == [430, None]
