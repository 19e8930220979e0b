"""The operator's desk: every dispute with its evidence, and the decision form.

All the dispute's facts are read-only; an open dispute's page has a decision (upheld or
rejected) and a note, which go through ``services.dispute_decide`` with the admin user as
the actor, exactly as the API's ``disputeDecide`` does.
"""

from django import forms
from django.contrib import admin, messages
from django.db import transaction

from backend.api import ids
from backend.api.errors import ServiceError
from backend.audit.services import record_staff_action

from . import services
from .models import Dispute, DisputeAttachment, DisputeEvent


class DisputeEventInline(admin.TabularInline):
    model = DisputeEvent
    fields = ("occurred_at", "kind", "actor", "detail")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


class DisputeAttachmentInline(admin.TabularInline):
    model = DisputeAttachment
    fields = ("filename", "content_type", "size", "sha256", "uploaded_by", "uploaded_at", "file")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


class DecisionForm(forms.ModelForm):
    decision = forms.ChoiceField(
        choices=[("", "- undecided -"), ("upheld", "Uphold (credit the charge)"), ("rejected", "Reject")],
        required=False,
    )
    decision_text = forms.CharField(label="Decision note", widget=forms.Textarea, required=False)

    class Meta:
        model = Dispute
        fields = ()

    def clean(self):
        data = super().clean()
        if data.get("decision") and not (data.get("decision_text") or "").strip():
            self.add_error("decision_text", "Say why.")
        return data


@admin.register(Dispute)
class DisputeAdmin(admin.ModelAdmin):
    form = DecisionForm
    list_display = (
        "id",
        "status",
        "reason_code",
        "issuer",
        "counterparty",
        "counterparty_role",
        "fee_amount",
        "currency",
        "opened_at",
        "responded_at",
        "decided_at",
    )
    list_filter = ("status", "reason_code", "counterparty_role")
    search_fields = ("=redemption__id", "issuer__name", "counterparty__name")
    readonly_fields = (
        "redemption",
        "charge",
        "issuer",
        "counterparty",
        "counterparty_role",
        "campaign",
        "fee_amount",
        "currency",
        "reason_code",
        "note",
        "receipt",
        "status",
        "opened_at",
        "opened_by",
        "response_note",
        "responded_at",
        "responded_by",
        "decision_note",
        "decided_at",
        "decided_by",
        "credit",
    )
    inlines = [DisputeEventInline, DisputeAttachmentInline]

    def get_fields(self, request, obj=None):
        fields = list(self.readonly_fields)
        if obj is not None and obj.status == Dispute.Status.OPEN:
            fields += ["decision", "decision_text"]
        return fields

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        decision = form.cleaned_data.get("decision")
        if not decision:
            return
        try:
            # The decision and the trail rows of both parties commit together.
            with transaction.atomic():
                services.dispute_decide(
                    dispute_id=obj.pk,
                    upheld=decision == "upheld",
                    note=form.cleaned_data["decision_text"],
                    actor=services.Actor(user=request.user),
                )
                for merchant in {m.pk: m for m in (obj.issuer, obj.counterparty)}.values():
                    record_staff_action(
                        user=request.user,
                        merchant=merchant,
                        operation="admin.disputeDecide",
                        targets=[{"type": "Dispute", "id": ids.encode("Dispute", obj.pk)}],
                        details={"decision": decision, "note": form.cleaned_data["decision_text"]},
                    )
        except ServiceError as exc:
            self.message_user(request, f"Not decided: {exc}", level=messages.ERROR)
