"""Operators' view of billing: read-only. The ledger changes only through services."""

from django.contrib import admin
from django.db import transaction

from backend.api import ids
from backend.audit.services import record_staff_action

from .models import (
    BillingPeriod,
    BillingProfile,
    Invoice,
    LedgerAccount,
    LedgerEntry,
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


@admin.action(description="Credit the selected charges (dispute upheld)")
def credit_disputed_charges(modeladmin, request, queryset):
    from backend.api.errors import ServiceError

    from .services import dispute_charge

    for posting in queryset.filter(kind=Posting.Kind.CHARGE):
        try:
            # The credit and its trail rows (the issuer's and the publisher's) commit together.
            with transaction.atomic():
                credit = dispute_charge(
                    redemption_id=posting.redemption_id, reason=f"upheld by {request.user}"
                )
                for merchant in {m.pk: m for m in (posting.issuer, posting.publisher)}.values():
                    record_staff_action(
                        user=request.user,
                        merchant=merchant,
                        operation="admin.creditDisputedCharge",
                        targets=[
                            {"type": "Redemption", "id": ids.encode("Redemption", posting.redemption_id)}
                        ],
                        details={
                            "redemptionId": ids.encode("Redemption", posting.redemption_id),
                            "creditedFee": -credit.fee_amount,
                            "currency": credit.currency,
                            "reason": credit.reason,
                        },
                    )
        except ServiceError as exc:
            modeladmin.message_user(request, f"Posting {posting.pk}: {exc}", level="warning")


@admin.register(Posting)
class PostingAdmin(ReadOnlyAdmin):
    actions = [credit_disputed_charges]
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
