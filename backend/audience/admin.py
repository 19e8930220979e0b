"""Operators' view of fans, pools and imports. Fans show only their hashed key, never raw PII."""

from django.contrib import admin

from .models import Fan, FanImport, FanPool, PoolMembership


@admin.register(Fan)
class FanAdmin(admin.ModelAdmin):
    list_display = ("id", "kind", "created_at")
    list_filter = ("kind",)
    readonly_fields = ("fan_key", "kind", "created_at")
    search_fields = ("fan_key",)


@admin.register(FanPool)
class FanPoolAdmin(admin.ModelAdmin):
    list_display = ("id", "name", "merchant", "is_listed", "auto_accept_min_share_bps", "created_at")
    list_filter = ("is_listed",)
    search_fields = ("name", "merchant__name")
    list_select_related = ("merchant",)


@admin.register(PoolMembership)
class PoolMembershipAdmin(admin.ModelAdmin):
    list_display = ("id", "pool", "fan", "consented_at", "source", "consent_withdrawn_at")
    list_filter = ("source",)
    raw_id_fields = ("pool", "fan")
    list_select_related = ("pool", "fan")


@admin.register(FanImport)
class FanImportAdmin(admin.ModelAdmin):
    list_display = ("id", "pool", "merchant", "status", "total_rows", "added", "duplicates", "bad_count")
    list_filter = ("status",)
    readonly_fields = (
        "file_path",
        "total_rows",
        "processed_rows",
        "added",
        "duplicates",
        "bad_count",
        "bad_rows",
        "started_at",
        "finished_at",
    )
    raw_id_fields = ("pool", "merchant")
