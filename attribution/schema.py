"""GraphQL for attribution: finance reports, their exports, and reconciliation."""

from __future__ import annotations

import graphene
import pandas as pd
from django.urls import reverse
from graphene import relay
from graphene_django.fields import DjangoConnectionField
from graphql import GraphQLError

from backend.api import ids
from backend.api.errors import ServiceError
from backend.api.mutations import BaseMutation
from backend.api.permissions import BRAND, FINANCE, not_found, require_key
from backend.api.scalars import Date, DateTime, Money
from backend.api.types import CountableConnection, MerchantScopedType

from . import exports, selectors, services
from .errors import AttributionErrorCode
from .models import ReportExport
from .reports import Dimension, ReportFilters, Side, encode_key

REPORT_ROLES = (BRAND, FINANCE)
RECONCILE_ROLES = (FINANCE,)

ReportDimension = graphene.Enum.from_enum(
    Dimension, name="ReportDimension", description="How report rows are grouped."
)
ReportSide = graphene.Enum.from_enum(
    Side,
    name="ReportSide",
    description="Records of the caller's campaigns (issuer), of its pools (publisher), or both.",
)
ReportExportStatus = graphene.Enum.from_enum(ReportExport.Status, name="ReportExportStatus")


class AttributionReportFilter(graphene.InputObjectType):
    date_from = Date(description="First day, inclusive, in the caller's time zone.")
    date_to = Date(description="Last day, inclusive, in the caller's time zone.")
    campaign_id = graphene.ID()
    publisher_id = graphene.ID(description="A publisher merchant's id.")
    store_id = graphene.ID()
    currency = graphene.String()
    side = ReportSide()


class ReportFigures(graphene.Interface):
    currency = graphene.String(required=True)
    issued = graphene.BigInt(description="Coupons issued; null where it has no meaning (store, day).")
    redeemed = graphene.BigInt(required=True, description="Write-offs not voided.")
    redemption_rate = graphene.Float(description="redeemed / issued.")
    voided = graphene.BigInt(required=True)
    attributed = graphene.BigInt(required=True, description="Redeemed inside the attribution window.")
    gmv = Money(required=True, description="Order amounts, minor units.")
    discount = Money(required=True, description="Discount given, minor units.")
    fees = Money(required=True, description="Fees of attributed write-offs, minor units.")
    cost_per_redemption = Money(description="(discount + fees) / redeemed, rounded half up.")
    median_seconds_to_redeem = graphene.Float()
    new_customers = graphene.BigInt(required=True)
    new_customer_share = graphene.Float()


class AttributionReportRow(graphene.ObjectType):
    class Meta:
        interfaces = (ReportFigures,)

    key = graphene.String(
        required=True,
        description=(
            "A global id, an ISO date for days, a claim channel for CHANNEL; '-' is the row "
            "without a channel (CHANNEL) or without a sharer (SHARER)."
        ),
    )
    label = graphene.String()


class AttributionReportTotal(graphene.ObjectType):
    class Meta:
        interfaces = (ReportFigures,)


class AttributionReport(graphene.ObjectType):
    dimension = ReportDimension(required=True)
    rows = graphene.List(graphene.NonNull(AttributionReportRow), required=True)
    totals = graphene.List(
        graphene.NonNull(AttributionReportTotal), required=True, description="One per currency."
    )


def _clean(value):
    """A pandas/numpy scalar as a plain Python value; NaN and NA become None."""
    if value is None or pd.isna(value):
        return None
    return value.item() if hasattr(value, "item") else value


def _figures(record: dict) -> dict:
    return {name: _clean(record[name]) for name in ReportFigures._meta.fields}


def _decode_filter(caller, filters) -> ReportFilters:
    filters = filters or {}
    decoded = {}
    for field, type_name in (
        ("campaign_id", "Campaign"),
        ("publisher_id", "Merchant"),
        ("store_id", "Store"),
    ):
        raw = filters.get(field)
        if raw is None:
            continue
        pk = ids.decode(type_name, raw)
        if pk is None:
            raise ServiceError.single(AttributionErrorCode.INVALID, f"Not a {type_name} id.", field)
        decoded[field] = pk
    side = filters.get("side")
    result = ReportFilters(
        date_from=filters.get("date_from"),
        date_to=filters.get("date_to"),
        currency=filters.get("currency"),
        side=Side(side.value if hasattr(side, "value") else side or Side.ANY),
        **decoded,
    )
    services.validate_filters(result)
    return result


def _query_filter(caller, filters) -> ReportFilters:
    """For queries: a bad filter is a top-level error with the service's code."""
    try:
        return _decode_filter(caller, filters)
    except ServiceError as exc:
        error = exc.errors[0]
        raise GraphQLError(error.message, extensions={"code": error.code, "field": error.field}) from None


def _dimension(value) -> Dimension:
    return Dimension(value.value if hasattr(value, "value") else value)


class DownloadLink(graphene.ObjectType):
    format = graphene.String(required=True)
    url = graphene.String(required=True)
    expires_at = DateTime(required=True)


class ReportExportType(MerchantScopedType):
    status = ReportExportStatus(required=True)
    dimension = ReportDimension(required=True)
    downloads = graphene.List(
        graphene.NonNull(DownloadLink),
        required=True,
        description="Fresh expiring links, once the export has succeeded.",
    )

    class Meta:
        model = ReportExport
        name = "ReportExport"
        fields = ("row_count", "error", "created_at", "started_at", "finished_at")
        interfaces = (relay.Node,)
        connection_class = CountableConnection

    def resolve_downloads(export, info):
        if export.status != ReportExport.Status.SUCCEEDED:
            return []
        links = []
        for fmt in exports.FORMATS:
            if fmt not in (export.files or {}):
                continue
            link = exports.download_token(export, fmt)
            path = reverse("attribution:export-download", kwargs={"token": link.token})
            links.append(
                DownloadLink(
                    format=fmt, url=info.context.build_absolute_uri(path), expires_at=link.expires_at
                )
            )
        return links


class CampaignBalanceType(graphene.ObjectType):
    campaign_id = graphene.ID(required=True)
    verified_redemptions = graphene.Int(required=True, description="Verified and not voided.")
    attribution_records = graphene.Int(required=True, description="Not voided.")
    balanced = graphene.Boolean(required=True)


class DiscrepancyType(graphene.ObjectType):
    check = graphene.String(required=True)
    kind = graphene.String(required=True)
    detail = graphene.String(required=True)
    campaign_id = graphene.ID()
    redemption_id = graphene.ID()
    record_id = graphene.String()


class ReconcileReport(graphene.ObjectType):
    ok = graphene.Boolean(required=True)
    checks = graphene.List(graphene.NonNull(graphene.String), required=True)
    campaigns = graphene.List(graphene.NonNull(CampaignBalanceType), required=True)
    discrepancies = graphene.List(graphene.NonNull(DiscrepancyType), required=True)


def _id_or_none(type_name: str, pk: int | None) -> str | None:
    return ids.encode(type_name, pk) if pk else None


class Query(graphene.ObjectType):
    attribution_report = graphene.Field(
        AttributionReport,
        required=True,
        dimension=ReportDimension(required=True),
        filter=AttributionReportFilter(),
        description="Finance report over attribution records (brand or finance role).",
    )
    report_export = graphene.Field(ReportExportType, id=graphene.ID(required=True))
    report_exports = DjangoConnectionField(
        ReportExportType, description="The caller's exports, newest first."
    )
    attribution_reconcile = graphene.Field(
        ReconcileReport,
        required=True,
        date_from=Date(required=True),
        date_to=Date(required=True),
        description="Verified non-voided redemptions = attribution records, per campaign (finance role).",
    )

    def resolve_attribution_report(root, info, dimension, filter=None):
        caller = require_key(info, REPORT_ROLES)
        dim = _dimension(dimension)
        if dim == Dimension.WRITEOFFS:
            raise GraphQLError(
                "One row per write-off is exported, not reported: use reportExportCreate.",
                extensions={"code": AttributionErrorCode.INVALID.value, "field": "dimension"},
            )
        report = selectors.report_for(
            merchant=caller.merchant, dimension=dim, filters=_query_filter(caller, filter)
        )
        rows = [
            AttributionReportRow(key=encode_key(dim, r["key"]), label=_clean(r["label"]), **_figures(r))
            for r in report.rows.to_dict("records")
        ]
        totals = [AttributionReportTotal(**_figures(t)) for t in report.totals.to_dict("records")]
        return AttributionReport(dimension=dim, rows=rows, totals=totals)

    def resolve_report_export(root, info, id):
        caller = require_key(info, REPORT_ROLES)
        export = selectors.export_for(merchant=caller.merchant, export_id=ids.decode("ReportExport", id) or 0)
        if export is None:
            raise not_found("Report export")
        return export

    def resolve_report_exports(root, info, **kwargs):
        caller = require_key(info, REPORT_ROLES)
        return selectors.exports_for(merchant=caller.merchant)

    def resolve_attribution_reconcile(root, info, date_from, date_to):
        caller = require_key(info, RECONCILE_ROLES)
        if date_from > date_to:
            raise GraphQLError(
                "dateTo is before dateFrom.", extensions={"code": AttributionErrorCode.INVALID_PERIOD.value}
            )
        result = selectors.reconcile_for(merchant=caller.merchant, date_from=date_from, date_to=date_to)
        return ReconcileReport(
            ok=result.ok,
            checks=result.checks,
            campaigns=[
                CampaignBalanceType(
                    campaign_id=ids.encode("Campaign", b.campaign_id),
                    verified_redemptions=b.verified_redemptions,
                    attribution_records=b.attribution_records,
                    balanced=b.balanced,
                )
                for b in result.campaigns
            ],
            discrepancies=[
                DiscrepancyType(
                    check=d.check,
                    kind=d.kind,
                    detail=d.detail,
                    campaign_id=_id_or_none("Campaign", d.campaign_id),
                    redemption_id=_id_or_none("Redemption", d.redemption_id),
                    record_id=str(d.record_id) if d.record_id else None,
                )
                for d in result.discrepancies
            ],
        )


class ReportExportCreate(BaseMutation):
    error_codes = AttributionErrorCode
    export = graphene.Field(ReportExportType)
    roles = REPORT_ROLES

    class Arguments:
        dimension = ReportDimension(required=True)
        filter = AttributionReportFilter()

    @classmethod
    def perform(cls, caller, info, dimension, filter=None):
        export = services.export_create(
            merchant=caller.merchant,
            requested_by=caller.api_key,
            dimension=_dimension(dimension),
            filters=_decode_filter(caller, filter),
        )
        return {"export": export}


class Mutation(graphene.ObjectType):
    report_export_create = ReportExportCreate.Field()
