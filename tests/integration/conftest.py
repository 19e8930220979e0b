"""Fixtures of the integration tests: a localstripe server (see tests/stripe_server.py)."""

from tests.stripe_server import localstripe, stripe_gateway  # noqa: F401  (pytest fixtures)
