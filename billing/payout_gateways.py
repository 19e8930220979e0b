"""The payout gateway interface and its two implementations.

A gateway takes one payout (a :class:`PayoutOrder`) and answers with a receipt; ``submit`` is
idempotent on the order's ``key``, so the caller may call it again after a crash at any step:

- :class:`StripeConnectGateway`: a Stripe Connect transfer to the merchant's connected
  account (``POST /v1/transfers``), created with our deterministic key as the
  ``Idempotency-Key`` and as its ``transfer_group``. Stripe keeps idempotency keys for about
  24 hours, so before creating, the transfer is looked up by ``transfer_group``: a re-run a
  week after a crash still finds it. A transfer moves the money at once: the payout is paid.
- :class:`BankTransferGateway`: nothing leaves the building; the payout is *submitted* and
  goes into the run's bank batch file (CSV, :func:`bank_batch_csv`), which finance uploads
  to the bank and then confirms (``run_payouts --confirm-bank``).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

import stripe
from django.conf import settings

from backend.api.spreadsheets import safe_row

KEY_METADATA = "billing_payout"


@dataclass(frozen=True)
class PayoutOrder:
    key: str
    merchant_id: int
    amount: int  # minor units, > 0
    currency: str  # ISO, upper case
    destination: str  # acct_... for Stripe; the bank account number for a bank transfer
    description: str


@dataclass(frozen=True)
class PayoutReceipt:
    reference: str  # the gateway's id (tr_... at Stripe; our key in a bank batch)
    settled: bool  # True: the money moved (paid); False: submitted, finance confirms later


@dataclass(frozen=True)
class TransferView:
    """What Stripe says about one transfer: compared with our payout by reconcile."""

    id: str
    amount: int
    currency: str  # upper case, as ours
    destination: str
    amount_reversed: int


class PayoutRefused(Exception):
    """The gateway refused the payout for good (e.g. a connected account that cannot receive)."""


class PayoutGatewayUnavailable(Exception):
    """The gateway could not answer now (network, rate limit, its outage): retry later."""


class PayoutGateway(Protocol):
    method: str

    def submit(self, order: PayoutOrder) -> PayoutReceipt: ...


class StripeConnectGateway:
    method = "stripe_connect"

    def __init__(self, *, api_key: str, api_base: str | None = None, http_client=None):
        self.client = stripe.StripeClient(
            api_key,
            base_addresses={"api": api_base} if api_base else {},
            stripe_version=settings.STRIPE_API_VERSION,
            max_network_retries=2,
            http_client=http_client,
        )

    @classmethod
    def from_settings(cls) -> StripeConnectGateway:
        live = settings.STRIPE_LIVE_MODE
        return cls(
            api_key=settings.STRIPE_LIVE_SECRET_KEY if live else settings.STRIPE_TEST_SECRET_KEY,
            api_base=getattr(settings, "STRIPE_API_HOST", None),
        )

    def find_transfer(self, *, key: str) -> str | None:
        """The transfer created for ``key``, if a crash lost its id (looked up by transfer_group)."""
        transfers = self.client.v1.transfers.list(params={"transfer_group": key, "limit": 10})
        for transfer in transfers.auto_paging_iter():
            metadata = getattr(transfer, "metadata", None) or {}
            if transfer.transfer_group == key or metadata.get(KEY_METADATA) == key:
                return transfer.id
        return None

    def create_transfer(self, order: PayoutOrder) -> str:
        transfer = self.client.v1.transfers.create(
            params={
                "amount": order.amount,
                "currency": order.currency.lower(),
                "destination": order.destination,
                "transfer_group": order.key,
                "description": order.description,
                "metadata": {KEY_METADATA: order.key, "merchant_id": str(order.merchant_id)},
            },
            options={"idempotency_key": order.key},
        )
        return transfer.id

    def retrieve_transfer(self, *, transfer_id: str) -> TransferView:
        transfer = self.client.v1.transfers.retrieve(transfer_id)
        return TransferView(
            id=transfer.id,
            amount=int(transfer.amount),
            currency=str(transfer.currency).upper(),
            destination=str(transfer.destination or ""),
            amount_reversed=int(getattr(transfer, "amount_reversed", 0) or 0),
        )

    def submit(self, order: PayoutOrder) -> PayoutReceipt:
        try:
            transfer_id = self.find_transfer(key=order.key) or self.create_transfer(order)
        except (stripe.InvalidRequestError, stripe.PermissionError) as exc:
            raise PayoutRefused(str(exc.user_message or exc)[:300]) from exc
        except stripe.StripeError as exc:
            raise PayoutGatewayUnavailable(str(exc)[:300]) from exc
        return PayoutReceipt(reference=transfer_id, settled=True)


class BankTransferGateway:
    method = "bank_transfer"

    def submit(self, order: PayoutOrder) -> PayoutReceipt:
        return PayoutReceipt(reference=order.key, settled=False)


def gateway_for(method: str) -> PayoutGateway:
    if method == StripeConnectGateway.method:
        return StripeConnectGateway.from_settings()
    if method == BankTransferGateway.method:
        return BankTransferGateway()
    raise ValueError(f"no payout gateway for {method!r}")


BANK_BATCH_COLUMNS = [
    "payout_key",
    "merchant",
    "account_holder",
    "account_number",
    "bank_code",
    "currency",
    "amount_minor",
    "reference",
]


def bank_batch_csv(rows: Iterable[dict]) -> str:
    """The bank batch file: one row per payout, every text cell spreadsheet-safe.

    ``rows`` are dicts with the columns above; a merchant's name or holder such as
    ``=HYPERLINK(...)`` is shown as text, never run as a formula."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(BANK_BATCH_COLUMNS)
    for row in rows:
        writer.writerow(safe_row(row[column] for column in BANK_BATCH_COLUMNS))
    return out.getvalue()
