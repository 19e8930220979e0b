"""The ledger (double entry, integer minor units), billing periods, invoices, and Stripe facts.

The ledger in PostgreSQL is the source of truth; Stripe is where invoices are sent and paid.

Sign convention: a line's ``amount`` is a debit when positive and a credit when negative.
A charge posting debits the issuer's receivable with the fee and credits the publisher's
payable with its share and the platform's revenue with the rest, so every posting sums to
zero (checked in code and by a deferred constraint trigger at commit, see the migration).
A write-off at a partner's store adds the reimbursement (the discount given, capped, plus
the handling fee): the issuer's receivable is debited with it too and the partner's payable
credited, in the same posting, so it locks, reverses and credits with the fee.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q


class LedgerAccount(models.Model):
    """One account per (owner, kind, currency); the platform's revenue has no merchant."""

    class Kind(models.TextChoices):
        ISSUER_RECEIVABLE = "issuer_receivable", "Issuer receivable"
        PUBLISHER_PAYABLE = "publisher_payable", "Publisher payable"
        PARTNER_PAYABLE = "partner_payable", "Partner payable (reimbursements)"
        PLATFORM_REVENUE = "platform_revenue", "Platform revenue"

    merchant = models.ForeignKey(
        "merchants.Merchant", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    kind = models.CharField(max_length=24, choices=Kind.choices)
    currency = models.CharField(max_length=3)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "kind", "currency"], nulls_distinct=False, name="ledgeraccount_unique"
            ),
            models.CheckConstraint(
                condition=Q(kind="platform_revenue", merchant__isnull=True)
                | (
                    Q(kind__in=["issuer_receivable", "publisher_payable", "partner_payable"])
                    & Q(merchant__isnull=False)
                ),
                name="ledgeraccount_owner_matches_kind",
            ),
        ]

    def __str__(self) -> str:
        owner = f"merchant {self.merchant_id}" if self.merchant_id else "platform"
        return f"{self.kind} {self.currency} ({owner})"


class Posting(models.Model):
    """A balanced set of ledger lines about one redemption, in one currency.

    At most one charge per redemption, and at most one undo (a reversal while the charge
    is pending, or a credit once it is locked): unique constraints make handlers exactly-once.
    """

    class Kind(models.TextChoices):
        CHARGE = "charge"
        REVERSAL = "reversal", "Reversal (void inside the window)"
        CREDIT = "credit", "Credit (void after lock, billed in a later period)"

    kind = models.CharField(max_length=16, choices=Kind.choices)
    redemption = models.ForeignKey("redemptions.Redemption", on_delete=models.PROTECT, related_name="+")
    issuer = models.ForeignKey("merchants.Merchant", on_delete=models.PROTECT, related_name="+")
    publisher = models.ForeignKey("merchants.Merchant", on_delete=models.PROTECT, related_name="+")
    campaign = models.ForeignKey("campaigns.Campaign", on_delete=models.PROTECT, related_name="+")
    currency = models.CharField(max_length=3)
    fee_amount = models.BigIntegerField(help_text="The fee this posting charges (negative for an undo).")
    partner = models.ForeignKey(
        "merchants.Merchant",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="The redeeming partner the issuer reimburses; null at the issuer's own stores.",
    )
    reimbursement_amount = models.BigIntegerField(
        default=0, db_default=0, help_text="The discount reimbursed to the partner (negative for an undo)."
    )
    handling_fee_amount = models.BigIntegerField(
        default=0, db_default=0, help_text="The partner's handling fee (negative for an undo)."
    )
    occurred_at = models.DateTimeField(help_text="The write-off (charge) or the void (undo).")
    reason = models.CharField(
        max_length=200, blank=True, default="", help_text="Why an undo was posted: a void, or a dispute."
    )
    reverses = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="reversed_by"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["redemption"], condition=Q(kind="charge"), name="posting_one_charge_per_redemption"
            ),
            models.UniqueConstraint(
                fields=["redemption"],
                condition=Q(kind__in=["reversal", "credit"]),
                name="posting_one_undo_per_redemption",
            ),
            models.CheckConstraint(
                condition=Q(kind__in=["charge", "reversal", "credit"]), name="posting_kind_valid"
            ),
            models.CheckConstraint(
                condition=Q(kind="charge", reverses__isnull=True, fee_amount__gte=0)
                | (Q(kind__in=["reversal", "credit"]) & Q(reverses__isnull=False) & Q(fee_amount__lte=0)),
                name="posting_undo_has_origin",
            ),
            models.CheckConstraint(
                condition=Q(kind="charge", reimbursement_amount__gte=0, handling_fee_amount__gte=0)
                | Q(kind__in=["reversal", "credit"], reimbursement_amount__lte=0, handling_fee_amount__lte=0),
                name="posting_reimbursement_sign",
            ),
            models.CheckConstraint(
                condition=Q(partner__isnull=False) | Q(reimbursement_amount=0, handling_fee_amount=0),
                name="posting_reimbursement_has_partner",
            ),
        ]
        indexes = [models.Index(fields=["issuer", "occurred_at"], name="posting_issuer_time_idx")]


class BillingPeriod(models.Model):
    """An issuer's month (in the issuer's time zone). Once closing, no line joins it."""

    class Status(models.TextChoices):
        OPEN = "open"
        CLOSING = "closing", "Closing (lines frozen, invoices being sent)"
        CLOSED = "closed"

    issuer = models.ForeignKey("merchants.Merchant", on_delete=models.PROTECT, related_name="+")
    period_start = models.DateField(help_text="The first day of the month.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    frozen_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["issuer_id", "period_start"]
        constraints = [
            models.UniqueConstraint(fields=["issuer", "period_start"], name="billingperiod_unique"),
            models.CheckConstraint(
                condition=Q(status__in=["open", "closing", "closed"]), name="billingperiod_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.issuer_id} {self.period_start:%Y-%m}"


class Invoice(models.Model):
    """The issuer's invoice for one period and currency, and its Stripe objects.

    ``amount`` is frozen at close: it equals the sum of the issuer-receivable lines attached
    to it. The Stripe ids are stored one step at a time so that a retry never creates twice.
    """

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft (frozen; not yet at Stripe)"
        OPEN = "open", "Open (sent through Stripe)"
        PAID = "paid"
        PAYMENT_FAILED = "payment_failed"
        SETTLED = "settled", "Settled without Stripe (nothing to pay)"
        MISMATCH = "mismatch", "Mismatch (Stripe's currency or total differs from ours; never paid)"

    billing_period = models.ForeignKey(BillingPeriod, on_delete=models.PROTECT, related_name="invoices")
    issuer = models.ForeignKey("merchants.Merchant", on_delete=models.PROTECT, related_name="+")
    period_start = models.DateField()
    currency = models.CharField(max_length=3)
    amount = models.BigIntegerField()
    line_count = models.PositiveIntegerField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    key = models.CharField(max_length=100, unique=True, help_text="Deterministic; names the Stripe objects.")
    stripe_invoice_item_id = models.CharField(max_length=255, blank=True, default="")
    stripe_invoice_id = models.CharField(max_length=255, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    payment_failed_at = models.DateTimeField(null=True, blank=True)
    # Stripe's view of the invoice, as last seen (at send, on every webhook, at reconcile).
    collection_method = models.CharField(max_length=32, blank=True, default="")
    stripe_status = models.CharField(max_length=32, blank=True, default="")
    stripe_currency = models.CharField(max_length=3, blank=True, default="")
    stripe_total = models.BigIntegerField(null=True, blank=True)
    stripe_amount_paid = models.BigIntegerField(null=True, blank=True)
    hosted_invoice_url = models.URLField(max_length=1000, blank=True, default="")
    invoice_pdf = models.URLField(max_length=1000, blank=True, default="")
    due_at = models.DateTimeField(null=True, blank=True)
    mismatch = models.CharField(max_length=300, blank=True, default="", help_text="Why Stripe disagrees.")
    # Dunning: the next retry of a failed payment, and the campaigns paused while overdue.
    payment_attempts = models.PositiveIntegerField(default=0)
    next_retry_at = models.DateTimeField(null=True, blank=True)
    campaigns_paused_at = models.DateTimeField(null=True, blank=True)
    paused_campaign_ids = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["billing_period", "currency"], name="invoice_one_per_period_currency"
            ),
            models.UniqueConstraint(
                fields=["stripe_invoice_id"],
                condition=~Q(stripe_invoice_id=""),
                name="invoice_stripe_id_unique",
            ),
            models.CheckConstraint(condition=Q(amount__gte=0), name="invoice_amount_nonneg"),
            models.CheckConstraint(
                condition=Q(status__in=["draft", "open", "paid", "payment_failed", "settled", "mismatch"]),
                name="invoice_status_valid",
            ),
        ]
        indexes = [models.Index(fields=["issuer", "period_start"], name="invoice_issuer_period_idx")]


class LedgerEntry(models.Model):
    """One line of a posting: pending -> locked -> invoiced -> paid (or reversed)."""

    class State(models.TextChoices):
        PENDING = "pending", "Pending (inside the void window)"
        LOCKED = "locked"
        INVOICED = "invoiced"
        PAID = "paid"
        REVERSED = "reversed", "Reversed (voided inside the window)"

    posting = models.ForeignKey(Posting, on_delete=models.PROTECT, related_name="lines")
    account = models.ForeignKey(LedgerAccount, on_delete=models.PROTECT, related_name="lines")
    # Copies of account.merchant and posting.issuer, so tenant filters and period close are one index away.
    merchant = models.ForeignKey(
        "merchants.Merchant", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    issuer = models.ForeignKey("merchants.Merchant", on_delete=models.PROTECT, related_name="+")
    account_kind = models.CharField(max_length=24, choices=LedgerAccount.Kind.choices)
    amount = models.BigIntegerField(help_text="Minor units; debit > 0, credit < 0.")
    currency = models.CharField(max_length=3)
    state = models.CharField(max_length=16, choices=State.choices)
    lock_after = models.DateTimeField(help_text="The end of the void window.")
    locked_at = models.DateTimeField(null=True, blank=True)
    period_start = models.DateField(null=True, blank=True, help_text="The issuer's month; set at lock.")
    invoice = models.ForeignKey(
        Invoice, on_delete=models.PROTECT, null=True, blank=True, related_name="lines"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        verbose_name_plural = "ledger entries"
        constraints = [
            models.UniqueConstraint(
                fields=["posting", "account"], name="ledgerentry_one_per_posting_account"
            ),
            models.CheckConstraint(condition=~Q(amount=0), name="ledgerentry_amount_nonzero"),
            models.CheckConstraint(
                condition=Q(state__in=["pending", "locked", "invoiced", "paid", "reversed"]),
                name="ledgerentry_state_valid",
            ),
            models.CheckConstraint(
                condition=Q(state__in=["pending", "reversed"]) | Q(period_start__isnull=False),
                name="ledgerentry_locked_has_period",
            ),
            models.CheckConstraint(
                condition=Q(state__in=["invoiced", "paid"], invoice__isnull=False)
                | (~Q(state__in=["invoiced", "paid"]) & Q(invoice__isnull=True)),
                name="ledgerentry_invoiced_has_invoice",
            ),
        ]
        indexes = [
            models.Index(fields=["lock_after"], name="ledgerentry_pending_idx", condition=Q(state="pending")),
            models.Index(fields=["issuer", "period_start", "state"], name="ledgerentry_close_idx"),
            models.Index(fields=["merchant", "period_start"], name="ledgerentry_merchant_idx"),
        ]


class BillingProfile(models.Model):
    """A merchant's Stripe customer (and, against localstripe only, its $0 subscription)."""

    merchant = models.OneToOneField("merchants.Merchant", on_delete=models.PROTECT, related_name="+")
    stripe_customer_id = models.CharField(max_length=255, blank=True, default="")
    stripe_subscription_id = models.CharField(max_length=255, blank=True, default="")
    # localstripe only: one $0 subscription per currency ({"usd": "sub_..."}), see stripe_gateway.
    zero_subscriptions = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)


class StripeInvoiceEvent(models.Model):
    """A verified Stripe webhook about an invoice: recorded in the request, applied by Celery."""

    stripe_event_id = models.CharField(max_length=255, unique=True)
    type = models.CharField(max_length=64)
    stripe_invoice_id = models.CharField(max_length=255)
    stripe_created = models.BigIntegerField(default=0)
    # Stripe's view of the invoice in the (signed) event: compared with ours before applying.
    currency = models.CharField(max_length=3, blank=True, default="")
    total = models.BigIntegerField(null=True, blank=True)
    amount_paid = models.BigIntegerField(null=True, blank=True)
    invoice_status = models.CharField(max_length=32, blank=True, default="")
    received_at = models.DateTimeField(auto_now_add=True)
    applied_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=32, blank=True, default="")

    class Meta:
        indexes = [
            models.Index(
                fields=["received_at"], name="stripeevent_unapplied_idx", condition=Q(applied_at__isnull=True)
            )
        ]


class InvoiceEvent(models.Model):
    """One step in an invoice's life after the close: sent, mismatch, paid, payment failed,
    retried, overdue (campaigns paused), resumed. The issuer sees them in the API."""

    class Kind(models.TextChoices):
        SENT = "sent"
        MISMATCH = "mismatch"
        PAID = "paid"
        PAYMENT_FAILED = "payment_failed"
        RETRY_SCHEDULED = "retry_scheduled"
        RETRIED = "retried"
        RETRY_FAILED = "retry_failed"
        CAMPAIGNS_PAUSED = "campaigns_paused", "Overdue: the issuer's campaigns were paused"
        CAMPAIGNS_RESUMED = "campaigns_resumed", "Paid: the paused campaigns were resumed"

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="events")
    issuer = models.ForeignKey("merchants.Merchant", on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=24, choices=Kind.choices)
    detail = models.CharField(max_length=300, blank=True, default="")
    occurred_at = models.DateTimeField()

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["issuer", "occurred_at"], name="invoiceevent_issuer_idx")]
