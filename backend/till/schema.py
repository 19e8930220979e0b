"""GraphQL for the web till: a store manager asks for a pairing code (admin keys)."""

from __future__ import annotations

import graphene

from backend.api import ids
from backend.api.errors import ServiceError
from backend.api.mutations import BaseMutation
from backend.api.permissions import ADMIN
from backend.api.scalars import DateTime
from backend.merchants import selectors as merchant_selectors
from backend.merchants.errors import MerchantErrorCode
from backend.merchants.schema import TerminalType

from . import services
from .errors import TillErrorCode
from .qr import pairing_qr_svg, pairing_url


class TerminalPairingCode(graphene.ObjectType):
    """A code a phone's web till (/till/) exchanges once for the terminal's id and secret."""

    code = graphene.String(required=True, description="XXXX-XXXX; single use; shown once.")
    expires_at = DateTime(required=True, description="10 minutes after it was asked for.")
    url = graphene.String(
        required=True, description="The till's address with the code: what the QR code holds."
    )
    qr_svg = graphene.String(required=True, description="The URL as a QR code, an SVG document.")
    terminal = graphene.Field(TerminalType, required=True)


class TerminalPairingCreateInput(graphene.InputObjectType):
    terminal_id = graphene.ID(description="Pair an existing terminal (it gets a new secret when paired).")
    store_id = graphene.ID(description="Or create a new terminal at this store ...")
    name = graphene.String(description="... with this name.")


class TerminalPairingCreate(BaseMutation):
    """A single-use pairing code, valid 10 minutes, for a new or an existing terminal."""

    error_codes = (TillErrorCode, MerchantErrorCode)  # a new terminal: the store may be inactive

    pairing = graphene.Field(TerminalPairingCode)
    roles = (ADMIN,)

    class Arguments:
        input = TerminalPairingCreateInput(required=True)

    @classmethod
    def perform(cls, caller, info, input):
        terminal = store = None
        if input.get("terminal_id"):
            terminal = merchant_selectors.terminal_for(
                merchant=caller.merchant, terminal_id=ids.decode("Terminal", input.terminal_id) or 0
            )
            if terminal is None:
                raise ServiceError.not_found("terminal_id", "Terminal")
        elif input.get("store_id"):
            store = merchant_selectors.store_for(
                merchant=caller.merchant, store_id=ids.decode("Store", input.store_id) or 0
            )
            if store is None:
                raise ServiceError.not_found("store_id", "Store")
        issued = services.pairing_create(
            terminal=terminal, store=store, name=input.get("name"), created_by=caller.api_key
        )
        url = pairing_url(info.context, issued.code)
        return {
            "pairing": TerminalPairingCode(
                code=issued.code,
                expires_at=issued.pairing.expires_at,
                url=url,
                qr_svg=pairing_qr_svg(url),
                terminal=issued.pairing.terminal,
            )
        }


class Query(graphene.ObjectType):
    pass


class Mutation(graphene.ObjectType):
    terminal_pairing_create = TerminalPairingCreate.Field()
