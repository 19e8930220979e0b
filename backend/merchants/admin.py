from django.contrib import admin
from django.db import transaction

from backend.api import ids
from backend.audit.services import record_staff_action

from . import services
from .models import ApiKey, Membership, Merchant, Store, Terminal


@admin.register(Merchant)
class MerchantAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "name",
        "slug",
        "timezone",
        "default_currency",
        "is_approved",
        "is_network_operator",
        "created_at",
    )
    list_filter = ("is_approved", "is_network_operator")
    search_fields = ("name", "slug")
    actions = ["approve"]

    @admin.action(description="Approve the selected self-serve merchants")
    def approve(self, request, queryset):
        for merchant in queryset.filter(is_approved=False):
            with transaction.atomic():  # the approval and its trail row commit together
                services.merchant_approve(merchant=merchant)
                record_staff_action(
                    user=request.user,
                    merchant=merchant,
                    operation="admin.merchantApprove",
                    targets=[{"type": "Merchant", "id": ids.encode("Merchant", merchant.pk)}],
                    details={},
                )


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ("id", "user", "merchant", "role", "created_at")
    list_filter = ("role",)
    search_fields = ("user__email", "merchant__name")
    raw_id_fields = ("user", "merchant")


@admin.register(Store)
class StoreAdmin(admin.ModelAdmin):
    list_display = ("id", "name", "merchant", "is_active", "created_at")
    list_filter = ("is_active",)
    search_fields = ("name", "merchant__name")


@admin.register(Terminal)
class TerminalAdmin(admin.ModelAdmin):
    list_display = ("id", "uid", "name", "store", "merchant", "revoked_at")
    exclude = ("secret_encrypted",)
    readonly_fields = ("uid",)
    search_fields = ("uid", "name")


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ("id", "prefix", "name", "role", "merchant", "last_used_at", "revoked_at")
    list_filter = ("role",)
    exclude = ("secret_hash",)
    readonly_fields = ("prefix", "last_used_at")
    search_fields = ("prefix", "name", "merchant__name")
