"""Fixtures of the integration tests: a localstripe server (see tests/stripe_server.py) and a
Stripe-compatible transfers endpoint for payouts (tests/stripe_transfers.py)."""

from tests.stripe_server import localstripe, stripe_gateway  # noqa: F401  (pytest fixtures)
from tests.stripe_transfers import stripe_transfers, stripe_transfers_server  # noqa: F401  (pytest fixtures)
