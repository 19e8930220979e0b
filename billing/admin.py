"""Operators' view of billing: read-only. The ledger changes only through services."""

from django.contrib import admin
from django.db import transaction
from django.utils import timezone

from backend.api import ids
from backend.audit.services import record_staff_action

from .models import (
    BillingPeriod,
    BillingProfile,
    Invoice,
    LedgerAccount,
    LedgerEntry,
    Payout,
    PayoutAccount,
    PayoutHold,
    PayoutItem,
    PayoutRun,
    Posting,
    StripeInvoiceEvent,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(LedgerAccount)
class LedgerAccountAdmin(ReadOnlyAdmin):
    list_display = ("id", "kind", "currency", "merchant", "created_at")
    list_filter = ("kind", "currency")


class LedgerEntryInline(admin.TabularInline):
    model = LedgerEntry
    fields = ("account_kind", "merchant", "amount", "currency", "state", "period_start", "invoice")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Posting)
class PostingAdmin(ReadOnlyAdmin):
    # Disputes are decided on the Dispute page (disputes/admin.py), with evidence and an actor.
    list_display = (
        "id",
        "kind",
        "redemption_id",
        "issuer",
        "publisher",
        "fee_amount",
        "currency",
        "occurred_at",
    )
    list_filter = ("kind", "currency")
    search_fields = ("=redemption__id", "issuer__name", "publisher__name")
    inlines = [LedgerEntryInline]


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "posting_id",
        "account_kind",
        "merchant",
        "amount",
        "currency",
        "state",
        "period_start",
    )
    list_filter = ("state", "account_kind", "currency")
    search_fields = ("=posting__redemption__id", "merchant__name")


@admin.register(BillingPeriod)
class BillingPeriodAdmin(ReadOnlyAdmin):
    list_display = ("id", "issuer", "period_start", "status", "frozen_at", "closed_at")
    list_filter = ("status",)


@admin.register(Invoice)
class InvoiceAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "issuer",
        "period_start",
        "currency",
        "amount",
        "line_count",
        "status",
        "stripe_invoice_id",
    )
    list_filter = ("status", "currency")
    search_fields = ("stripe_invoice_id", "key", "issuer__name")


@admin.register(BillingProfile)
class BillingProfileAdmin(ReadOnlyAdmin):
    list_display = ("merchant", "stripe_customer_id", "stripe_subscription_id", "created_at")


@admin.register(StripeInvoiceEvent)
class StripeInvoiceEventAdmin(ReadOnlyAdmin):
    list_display = ("stripe_event_id", "type", "stripe_invoice_id", "received_at", "applied_at", "outcome")
    list_filter = ("type", "outcome")


# --- payouts: read-only; runs go through billing.payouts (run_payouts, the hourly task) ----------


@admin.register(PayoutAccount)
class PayoutAccountAdmin(ReadOnlyAdmin):
    list_display = ("merchant", "method", "stripe_account_id", "bank_code", "minimum_amount", "updated_at")
    list_filter = ("method",)
    exclude = ("bank_account_number",)  # never shown in full, even to operators


@admin.register(PayoutRun)
class PayoutRunAdmin(ReadOnlyAdmin):
    list_display = ("key", "cutoff", "require_collected", "planned_at", "finished_at")


class PayoutItemInline(admin.TabularInline):
    model = PayoutItem
    fields = ("ledger_entry", "amount", "released")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.action(description="Mark the selected bank transfers paid (the bank executed the batch)")
def confirm_bank_payouts(modeladmin, request, queryset):
    with transaction.atomic():
        payouts = list(
            queryset.filter(method=PayoutAccount.Method.BANK_TRANSFER, status=Payout.Status.SUBMITTED)
            .select_for_update()
            .select_related("merchant")
        )
        done = Payout.objects.filter(pk__in=[p.pk for p in payouts], status=Payout.Status.SUBMITTED).update(
            status=Payout.Status.PAID, paid_at=timezone.now()
        )
        for payout in payouts:
            record_staff_action(
                user=request.user,
                merchant=payout.merchant,
                operation="admin.confirmBankPayout",
                targets=[{"type": "Payout", "id": ids.encode("Payout", payout.pk)}],
                details={"amount": payout.amount, "currency": payout.currency},
            )
    modeladmin.message_user(request, f"{done} bank payouts marked paid.")


@admin.register(Payout)
class PayoutAdmin(ReadOnlyAdmin):
    list_display = (
        "key",
        "merchant",
        "currency",
        "amount",
        "method",
        "status",
        "stripe_transfer_id",
        "paid_at",
    )
    list_filter = ("status", "method", "currency")
    search_fields = ("key", "stripe_transfer_id")
    inlines = [PayoutItemInline]
    actions = [confirm_bank_payouts]


@admin.register(PayoutHold)
class PayoutHoldAdmin(ReadOnlyAdmin):
    list_display = ("id", "redemption", "ledger_entry", "reason", "created_at", "released_at")
    list_filter = ("released_at",)
