"""Authentication and authorization checks for resolvers: top-level errors with a code.

An API key's role decides what it may call; ``admin`` may call everything a key may.
A terminal may only call the POS operations.
"""

from __future__ import annotations

from collections.abc import Iterable

from graphql import GraphQLError

from .callers import Caller, Role

ADMIN = Role.ADMIN.value
BRAND = Role.BRAND.value
FINANCE = Role.FINANCE.value
ANY_KEY = (ADMIN, BRAND, FINANCE)
# Redeemable coupon codes are money: finance reads reports, ledger and invoices, never codes.
CODE_READERS = (ADMIN, BRAND)


def unauthenticated(message: str = "Authentication required.") -> GraphQLError:
    return GraphQLError(message, extensions={"code": "UNAUTHENTICATED"})


def forbidden(message: str = "Your role may not do this.") -> GraphQLError:
    return GraphQLError(message, extensions={"code": "FORBIDDEN"})


def caller_of(info) -> Caller | None:
    return getattr(info.context, "caller", None)


def require_key(info, roles: Iterable[str] = ANY_KEY) -> Caller:
    """The API-key caller, if its role is one of ``roles`` (admin always passes)."""
    caller = caller_of(info)
    if caller is None:
        raise unauthenticated()
    if caller.is_terminal:
        raise forbidden("Terminals may only call the POS operations.")
    if caller.role != ADMIN and caller.role not in tuple(roles):
        raise forbidden(f"This needs one of the roles: {', '.join(sorted(set(roles) | {ADMIN}))}.")
    return caller


def require_terminal(info) -> Caller:
    caller = caller_of(info)
    if caller is None:
        raise unauthenticated("A signed terminal request is required.")
    if not caller.is_terminal:
        raise forbidden("Only a POS terminal may call this.")
    return caller


def not_found(what: str) -> GraphQLError:
    """For a single-object query: the same answer for a missing id and another merchant's id."""
    return GraphQLError(f"{what} not found.", extensions={"code": "NOT_FOUND"})
