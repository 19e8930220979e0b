"""Billing's reconciliation checks, run by attribution's reconcile with its own checks.

- ``billing.charges``: every billable attribution record (inside its window, not voided)
  has exactly one charge that was not undone (or was credited after an upheld dispute),
  and nothing else does;
- ``billing.postings``: every posting's lines sum to zero;
- ``billing.invoices``: every invoice's amount equals its issuer-receivable lines.
- ``billing.double_charges``: no redemption has two charges;
- ``billing.reimbursements``: every charge owes its partner exactly the record's
  reimbursement (partner payable = reimbursement + handling fee, issuer receivable = fee +
  both), and an undo takes back exactly what its charge posted, line by line;
- ``billing.stripe``: every invoice at Stripe has our currency, total and status.
- ``billing.netting``: each month's netting statement owes what the frozen invoices bill and
  shows paid out what the payouts hold, and its splits sum to its totals;
- ``billing.payouts``: every payout of the merchant equals its lines, to the cent; each line
  is the merchant's own settled payable line, paid once, never while held; and nothing the
  payout should have paid was left out: payouts equal the locked payables less holds.
- ``billing.payout_transfers``: every Stripe Connect payout's transfer, at Stripe, has our
  amount, currency and destination, and was not reversed.
"""

from __future__ import annotations

import datetime as dt

from django.db import connection

from attribution.reconcile import Discrepancy, register_check
from backend.merchants.models import Merchant


def _rows(sql: str, params: list) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


@register_check("billing.charges")
def check_charges(*, merchant: Merchant, start: dt.datetime, end: dt.datetime) -> list[Discrepancy]:
    rows = _rows(
        """
        SELECT a.id, a.redemption_id, a.campaign_id,
               (a.in_attribution_window AND a.voided_at IS NULL
                AND a.fee_amount + a.reimbursement_amount + a.handling_fee_amount > 0) AS billable,
               c.id IS NOT NULL AS charged, u.id IS NOT NULL AS undone,
               coalesce(u.reason LIKE 'dispute:%%', false) AS disputed
        FROM attribution_attributionrecord a
        LEFT JOIN billing_posting c ON c.redemption_id = a.redemption_id AND c.kind = 'charge'
        LEFT JOIN billing_posting u ON u.reverses_id = c.id
        WHERE a.issuer_id = %s AND a.redeemed_at >= %s AND a.redeemed_at < %s
        ORDER BY a.id
        """,
        [merchant.pk, start, end],
    )
    found = []
    for record_id, redemption_id, campaign_id, billable, charged, undone, disputed in rows:
        standing = charged and not undone
        if billable and not standing and not disputed:  # an upheld dispute credits a billable charge
            found.append(
                Discrepancy(
                    "billing.charges",
                    "BILLABLE_NOT_CHARGED",
                    f"Redemption {redemption_id} is billable but has no standing charge.",
                    campaign_id,
                    redemption_id,
                    record_id,
                )
            )
        elif standing and not billable:
            found.append(
                Discrepancy(
                    "billing.charges",
                    "CHARGED_NOT_BILLABLE",
                    f"Redemption {redemption_id} is charged but not billable (voided or out of window).",
                    campaign_id,
                    redemption_id,
                    record_id,
                )
            )
    orphans = _rows(
        """
        SELECT p.id, p.redemption_id, p.campaign_id FROM billing_posting p
        LEFT JOIN attribution_attributionrecord a ON a.redemption_id = p.redemption_id
        WHERE p.issuer_id = %s AND p.kind = 'charge' AND p.occurred_at >= %s AND p.occurred_at < %s
          AND a.id IS NULL
        """,
        [merchant.pk, start, end],
    )
    found += [
        Discrepancy(
            "billing.charges",
            "CHARGE_WITHOUT_RECORD",
            f"Charge posting {pid} has no attribution record.",
            cid,
            rid,
        )
        for pid, rid, cid in orphans
    ]
    return found


@register_check("billing.postings")
def check_postings(*, merchant: Merchant, start: dt.datetime, end: dt.datetime) -> list[Discrepancy]:
    rows = _rows(
        """
        SELECT p.id, p.redemption_id, p.campaign_id, sum(e.amount)
        FROM billing_posting p JOIN billing_ledgerentry e ON e.posting_id = p.id
        WHERE p.issuer_id = %s AND p.occurred_at >= %s AND p.occurred_at < %s
        GROUP BY p.id HAVING sum(e.amount) <> 0
        """,
        [merchant.pk, start, end],
    )
    return [
        Discrepancy("billing.postings", "POSTING_UNBALANCED", f"Posting {pid} sums to {total}.", cid, rid)
        for pid, rid, cid, total in rows
    ]


@register_check("billing.invoices")
def check_invoices(*, merchant: Merchant, start: dt.datetime, end: dt.datetime) -> list[Discrepancy]:
    """Invoices of the months that start inside [start, end): amount = their locked lines."""
    rows = _rows(
        """
        SELECT i.id, i.amount, i.line_count,
               coalesce(sum(e.amount) FILTER (WHERE e.account_kind = 'issuer_receivable'), 0),
               count(e.id) FILTER (WHERE e.account_kind = 'issuer_receivable')
        FROM billing_invoice i LEFT JOIN billing_ledgerentry e ON e.invoice_id = i.id
        WHERE i.issuer_id = %s AND i.period_start >= %s::date AND i.period_start < %s::date
        GROUP BY i.id ORDER BY i.id
        """,
        [merchant.pk, start.date(), end.date()],
    )
    return [
        Discrepancy(
            "billing.invoices",
            "INVOICE_TOTAL_MISMATCH",
            f"Invoice {iid} is {amount} over {count} lines but its lines sum to {total} over {n}.",
        )
        for iid, amount, count, total, n in rows
        if amount != total or count != n
    ]


@register_check("billing.double_charges")
def check_double_charges(*, merchant: Merchant, start: dt.datetime, end: dt.datetime) -> list[Discrepancy]:
    """No redemption has two charges (a unique constraint forbids it; this proves it held)."""
    rows = _rows(
        """
        SELECT p.redemption_id, min(p.campaign_id), count(*) FROM billing_posting p
        WHERE p.issuer_id = %s AND p.kind = 'charge' AND p.occurred_at >= %s AND p.occurred_at < %s
        GROUP BY p.redemption_id HAVING count(*) > 1
        """,
        [merchant.pk, start, end],
    )
    return [
        Discrepancy("billing.double_charges", "CHARGED_TWICE", f"Redemption {rid} has {n} charges.", cid, rid)
        for rid, cid, n in rows
    ]


@register_check("billing.reimbursements")
def check_reimbursements(*, merchant: Merchant, start: dt.datetime, end: dt.datetime) -> list[Discrepancy]:
    """Charges carry the record's reimbursement to the partner's payable, and undos negate
    their charge's lines exactly (fee, share and reimbursement)."""
    charges = _rows(
        """
        SELECT p.id, p.redemption_id, p.campaign_id, p.fee_amount,
               a.reimbursement_amount + a.handling_fee_amount, a.partner_id,
               coalesce(sum(e.amount) FILTER (WHERE e.account_kind = 'issuer_receivable'), 0),
               coalesce(-sum(e.amount) FILTER (WHERE e.account_kind = 'partner_payable'), 0),
               coalesce(min(e.merchant_id) FILTER (WHERE e.account_kind = 'partner_payable'), a.partner_id)
        FROM billing_posting p
        JOIN attribution_attributionrecord a ON a.redemption_id = p.redemption_id
        JOIN billing_ledgerentry e ON e.posting_id = p.id
        WHERE p.issuer_id = %s AND p.kind = 'charge' AND p.occurred_at >= %s AND p.occurred_at < %s
        GROUP BY p.id, a.id ORDER BY p.id
        """,
        [merchant.pk, start, end],
    )
    found = [
        Discrepancy(
            "billing.reimbursements",
            "REIMBURSEMENT_MISMATCH",
            f"Charge {pid} owes the partner {paid} (issuer {receivable}) but the record says {owed} "
            f"(issuer {fee + owed}).",
            cid,
            rid,
        )
        for pid, rid, cid, fee, owed, partner, receivable, paid, paid_to in charges
        if paid != owed or receivable != fee + owed or paid_to != partner
    ]
    undos = _rows(
        """
        SELECT u.id, u.redemption_id, u.campaign_id
        FROM billing_posting u
        JOIN billing_ledgerentry ue ON ue.posting_id = u.id
        LEFT JOIN billing_ledgerentry ce ON ce.posting_id = u.reverses_id AND ce.account_id = ue.account_id
        WHERE u.issuer_id = %s AND u.reverses_id IS NOT NULL AND u.occurred_at >= %s AND u.occurred_at < %s
          AND (ce.id IS NULL OR ce.amount <> -ue.amount)
        """,
        [merchant.pk, start, end],
    )
    found += [
        Discrepancy(
            "billing.reimbursements",
            "UNDO_MISMATCH",
            f"Posting {uid} does not negate its charge line by line.",
            cid,
            rid,
        )
        for uid, rid, cid in undos
    ]
    return found


# Our invoice status -> the Stripe statuses that agree with it.
_AGREEING_STATUS = {
    "open": {"open", "draft"},  # localstripe has no finalize: its invoices stay drafts
    "payment_failed": {"open", "draft"},
    "paid": {"paid"},
}


@register_check("billing.stripe")
def check_stripe(*, merchant: Merchant, start: dt.datetime, end: dt.datetime) -> list[Discrepancy]:
    """Every invoice sent to Stripe has, at Stripe, our currency, our total and our status.

    Asks Stripe (one retrieve per invoice of the months starting in [start, end)); an
    invoice held in ``mismatch`` is always reported, and so is a Stripe that cannot answer.
    """
    import stripe

    from .closing import disagreement
    from .models import Invoice
    from .stripe_gateway import StripeGateway

    invoices = list(
        Invoice.objects.filter(
            issuer=merchant, period_start__gte=start.date(), period_start__lt=end.date()
        ).exclude(stripe_invoice_id="")
    )
    if not invoices:
        return []
    gateway = StripeGateway.from_settings()
    found = []
    for invoice in invoices:
        if invoice.status == Invoice.Status.MISMATCH:
            found.append(
                Discrepancy(
                    "billing.stripe", "INVOICE_HELD_MISMATCH", f"Invoice {invoice.pk}: {invoice.mismatch}."
                )
            )
            continue
        try:
            view = gateway.retrieve_invoice(invoice_id=invoice.stripe_invoice_id)
        except stripe.StripeError as exc:
            found.append(
                Discrepancy("billing.stripe", "STRIPE_UNAVAILABLE", f"Invoice {invoice.pk}: {exc}"[:300])
            )
            continue
        reason = disagreement(invoice, view)
        if reason:
            found.append(
                Discrepancy("billing.stripe", "STRIPE_DISAGREES", f"Invoice {invoice.pk}: {reason}.")
            )
        elif view.status not in _AGREEING_STATUS.get(invoice.status, {invoice.status}):
            found.append(
                Discrepancy(
                    "billing.stripe",
                    "STRIPE_STATUS_DIFFERS",
                    f"Invoice {invoice.pk} is {invoice.status} here, {view.status} at Stripe.",
                )
            )
    return found


_PAYABLE = "e.account_kind LIKE '%%\\_payable'"


@register_check("billing.payouts")
def check_payouts(*, merchant: Merchant, start: dt.datetime, end: dt.datetime) -> list[Discrepancy]:
    """The merchant's payouts created in [start, end) (failed ones excepted) against the ledger."""
    found = []
    totals = _rows(
        """
        SELECT p.id, p.amount, p.line_count,
               coalesce(-sum(e.amount), 0), count(e.id), count(*) FILTER (WHERE e.amount <> i.amount)
        FROM billing_payout p
        LEFT JOIN billing_payoutitem i ON i.payout_id = p.id AND NOT i.released
        LEFT JOIN billing_ledgerentry e ON e.id = i.ledger_entry_id
        WHERE p.merchant_id = %s AND p.created_at >= %s AND p.created_at < %s AND p.status <> 'failed'
        GROUP BY p.id ORDER BY p.id
        """,
        [merchant.pk, start, end],
    )
    found += [
        Discrepancy(
            "billing.payouts",
            "PAYOUT_TOTAL_MISMATCH",
            f"Payout {pid} is {amount} over {count} lines but its lines sum to {total} over {n}.",
        )
        for pid, amount, count, total, n, changed in totals
        if amount != total or count != n or changed
    ]
    foreign = _rows(
        f"""
        SELECT p.id, e.id FROM billing_payout p
        JOIN billing_payoutitem i ON i.payout_id = p.id AND NOT i.released
        JOIN billing_ledgerentry e ON e.id = i.ledger_entry_id
        WHERE p.merchant_id = %s AND p.created_at >= %s AND p.created_at < %s
          AND (e.merchant_id IS DISTINCT FROM p.merchant_id OR e.currency <> p.currency
               OR NOT ({_PAYABLE}) OR e.state NOT IN ('locked', 'invoiced', 'paid'))
        """,  # noqa: S608 (constant SQL fragments; values are parameters)
        [merchant.pk, start, end],
    )
    found += [
        Discrepancy(
            "billing.payouts", "PAYOUT_LINE_NOT_OWED", f"Payout {pid} pays line {lid}, not owed to it."
        )
        for pid, lid in foreign
    ]
    twice = _rows(
        """
        SELECT i.ledger_entry_id, count(*) FROM billing_payoutitem i
        JOIN billing_ledgerentry e ON e.id = i.ledger_entry_id
        WHERE e.merchant_id = %s AND NOT i.released GROUP BY i.ledger_entry_id HAVING count(*) > 1
        """,
        [merchant.pk],
    )
    found += [
        Discrepancy("billing.payouts", "PAID_TWICE", f"Line {lid} is in {n} payouts.") for lid, n in twice
    ]
    # A hold on the line or on its write-off, standing when the payout was made. Two EXISTS,
    # one per column, so each probes its own index: one EXISTS with an OR of the two columns
    # left the planner a scan of every hold per line (a reconcile of a run over thousands of lines timed out in CI).
    held_when = "h.created_at < p.created_at AND (h.released_at IS NULL OR h.released_at > p.created_at)"
    held = f"""(EXISTS (SELECT 1 FROM billing_payouthold h WHERE h.ledger_entry_id = e.id AND {held_when})
             OR EXISTS (SELECT 1 FROM billing_payouthold h
                         WHERE h.redemption_id = po.redemption_id AND {held_when}))"""  # noqa: S608 (constant fragments)
    paid_held = _rows(
        f"""
        SELECT p.id, e.id, po.redemption_id FROM billing_payout p
        JOIN billing_payoutitem i ON i.payout_id = p.id AND NOT i.released
        JOIN billing_ledgerentry e ON e.id = i.ledger_entry_id
        JOIN billing_posting po ON po.id = e.posting_id
        WHERE p.merchant_id = %s AND p.created_at >= %s AND p.created_at < %s AND {held}
        """,  # noqa: S608 (constant SQL fragments; values are parameters)
        [merchant.pk, start, end],
    )
    found += [
        Discrepancy("billing.payouts", "PAID_WHILE_HELD", f"Payout {pid} paid held line {lid}.", None, rid)
        for pid, lid, rid in paid_held
    ]
    # Payouts equal the locked payables less holds: every line the payout's run found eligible
    # (and that was not held then) is in some standing payout.
    left_out = _rows(
        f"""
        SELECT p.id, e.id, po.redemption_id FROM billing_payout p
        JOIN billing_payoutrun r ON r.id = p.run_id
        JOIN billing_ledgerentry e ON e.merchant_id = p.merchant_id AND e.currency = p.currency
        JOIN billing_posting po ON po.id = e.posting_id
        LEFT JOIN billing_invoice inv ON inv.id = e.invoice_id
        WHERE p.merchant_id = %s AND p.created_at >= %s AND p.created_at < %s AND p.status <> 'failed'
          AND {_PAYABLE} AND e.state IN ('locked', 'invoiced', 'paid')
          AND e.created_at < p.created_at AND e.locked_at <= p.created_at
          AND (e.amount > 0 OR (e.locked_at <= r.cutoff AND (NOT r.require_collected
               OR (e.state = 'paid' AND inv.paid_at <= p.created_at))))
          AND NOT {held}
          AND NOT EXISTS (SELECT 1 FROM billing_payoutitem x WHERE x.ledger_entry_id = e.id AND NOT x.released)
        """,  # noqa: S608 (constant SQL fragments; values are parameters)
        [merchant.pk, start, end],
    )
    found += [
        Discrepancy(
            "billing.payouts", "PAYABLE_LEFT_OUT", f"Payout {pid} left out owed line {lid}.", None, rid
        )
        for pid, lid, rid in left_out
    ]
    return found


@register_check("billing.payout_transfers")
def check_payout_transfers(*, merchant: Merchant, start: dt.datetime, end: dt.datetime) -> list[Discrepancy]:
    """Asks Stripe about each transfer of the merchant's payouts created in [start, end)."""
    import stripe

    from .models import Payout
    from .payout_gateways import StripeConnectGateway

    paid = list(
        Payout.objects.filter(merchant=merchant, created_at__gte=start, created_at__lt=end).exclude(
            stripe_transfer_id=""
        )
    )
    if not paid:
        return []
    gateway = StripeConnectGateway.from_settings()
    found = []
    for payout in paid:
        try:
            view = gateway.retrieve_transfer(transfer_id=payout.stripe_transfer_id)
        except stripe.StripeError as exc:
            found.append(
                Discrepancy(
                    "billing.payout_transfers", "STRIPE_UNAVAILABLE", f"Payout {payout.pk}: {exc}"[:300]
                )
            )
            continue
        ours = (payout.amount, payout.currency, payout.destination, 0)
        theirs = (view.amount, view.currency, view.destination, view.amount_reversed)
        if ours != theirs:
            found.append(
                Discrepancy(
                    "billing.payout_transfers",
                    "TRANSFER_DIFFERS",
                    f"Payout {payout.pk} is {ours[:3]} here; transfer {view.id} is {theirs} at Stripe.",
                )
            )
    return found


@register_check("billing.netting")
def check_netting(*, merchant: Merchant, start: dt.datetime, end: dt.datetime) -> list[Discrepancy]:
    """The merchant's netting statements of the months in [start, end) against its invoices
    and payouts, to the cent: owed = its frozen invoices, paid out = its payout items, and the
    splits by counterparty and by campaign sum to the totals."""
    from . import selectors  # the statement itself, as the API shows it

    name = "billing.netting"
    months = [
        row[0]
        for row in _rows(
            """
            SELECT DISTINCT period_start FROM billing_ledgerentry
            WHERE merchant_id = %s AND period_start >= %s AND period_start < %s ORDER BY 1
            """,
            [merchant.pk, start.date().replace(day=1), end.date()],
        )
    ]
    found = []
    for month in months:
        statement = selectors.netting_statement_for(merchant=merchant, period_start=month)
        frozen = bool(
            _rows(
                "SELECT 1 FROM billing_billingperiod WHERE issuer_id = %s AND period_start = %s AND status <> 'open'",
                [merchant.pk, month],
            )
        )
        invoices = dict(
            _rows(
                """
                SELECT currency, sum(amount) FROM billing_invoice
                WHERE issuer_id = %s AND period_start = %s GROUP BY currency
                """,
                [merchant.pk, month],
            )
        )
        paid_out = dict(
            _rows(
                """
                SELECT e.currency, -sum(i.amount) FROM billing_payoutitem i
                JOIN billing_ledgerentry e ON e.id = i.ledger_entry_id
                WHERE NOT i.released AND e.merchant_id = %s AND e.period_start = %s
                GROUP BY e.currency
                """,
                [merchant.pk, month],
            )
        )
        for total in statement.totals:
            where = f"{month:%Y-%m} {total.currency}"
            invoiced = invoices.get(total.currency) or 0
            if frozen and invoiced != total.owed:
                found.append(
                    Discrepancy(
                        name,
                        "OWED_NOT_INVOICED",
                        f"{where}: the statement owes {total.owed}, the invoices say {invoiced}.",
                    )
                )
            if (paid_out.get(total.currency) or 0) != total.paid_out:
                found.append(
                    Discrepancy(
                        name,
                        "PAID_OUT_MISMATCH",
                        f"{where}: the statement says {total.paid_out} paid out, the payouts "
                        f"{paid_out.get(total.currency) or 0}.",
                    )
                )
            for split, rows in (
                ("counterparty", statement.counterparties),
                ("campaign", statement.campaigns),
            ):
                owed = sum(r.owed for r in rows if r.currency == total.currency)
                earned = sum(r.earned for r in rows if r.currency == total.currency)
                if (owed, earned) != (total.owed, total.earned):
                    found.append(
                        Discrepancy(
                            name,
                            "SPLIT_MISMATCH",
                            f"{where}: by {split} {owed} owed / {earned} earned, "
                            f"in total {total.owed} / {total.earned}.",
                        )
                    )
    return found
