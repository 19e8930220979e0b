"""Every string the till's script shows, translated for the request's language (zh-Hans, en).

The page embeds them (json_script), so the script needs no translation machinery of its own.
Reason messages of a write-off come from the API, translated there by Accept-Language.
"""

from __future__ import annotations

from django.utils.translation import gettext as _


def till_strings() -> dict[str, str]:
    return {
        "title": _("Till"),
        "pairHeading": _("Pair this phone"),
        "pairHelp": _(
            "Ask your store manager for a pairing code (valid 10 minutes), then type it or scan its QR code."
        ),
        "pairingCode": _("Pairing code"),
        "pair": _("Pair"),
        "pairing": _("Pairing…"),
        "scan": _("Scan"),
        "stopScan": _("Stop scanning"),
        "cameraUnavailable": _("The camera cannot be used here: type the code."),
        "couponCode": _("Coupon code"),
        "orderAmount": _("Order amount"),
        "check": _("Check coupon"),
        "checking": _("Checking…"),
        "order": _("Order"),
        "discount": _("Discount"),
        "customerPays": _("Customer pays"),
        "confirm": _("Confirm write-off"),
        "cancel": _("Cancel"),
        "receipt": _("Receipt"),
        "accepted": _("Accepted"),
        "refused": _("Refused"),
        "nextCustomer": _("Next customer"),
        "waitingForNetwork": _("Waiting for the network…"),
        "waitingHelp": _(
            "The write-off is sent again until the server answers. Do not write it off a second time."
        ),
        "recentHeading": _("Recent write-offs"),
        "recentHelp": _("Write-offs of this till that can still be voided."),
        "noRecent": _("No write-offs to void."),
        "void": _("Void"),
        "voidReason": _("Reason for voiding"),
        "confirmVoid": _("Void write-off"),
        "voided": _("The write-off was voided."),
        "voidableUntil": _("can be voided until {time}"),
        "revokedHeading": _("This till has been revoked"),
        "revokedBody": _(
            "A store manager revoked this terminal: it can no longer write coupons off. "
            "Ask for a new pairing code to use this phone again."
        ),
        "pairAgain": _("Pair again"),
        "unpair": _("Unpair this phone"),
        "clockSkew": _(
            "This phone's clock is {seconds} s off the server's (the limit is {limit} s). "
            "The till corrects for it, but please set the phone's clock."
        ),
        "offline": _("No network. Nothing can be checked or written off until it is back."),
        "networkError": _("The network did not answer. Try again."),
        "insecure": _("This page must be opened over HTTPS to sign requests."),
        "invalidAmount": _("Type an amount such as 30 or 30.50."),
        "requiredCode": _("Scan or type the coupon code."),
        # Codes the till may meet besides the reasons (those come translated from the API).
        "PAIRING_CODE_INVALID": _("This pairing code is not valid."),
        "PAIRING_CODE_USED": _("This pairing code was already used. Ask for a new one."),
        "PAIRING_CODE_EXPIRED": _("This pairing code has expired. Ask for a new one."),
        "PAIRING_RATE_LIMITED": _("Too many wrong pairing codes. Wait a few minutes."),
        "TERMINAL_REVOKED": _("This terminal has been revoked."),
        "BAD_SIGNATURE": _(
            "The server refused this till's signature. Check the phone's clock, or pair again."
        ),
        "RATE_LIMITED": _("Too many write-offs at this till. Wait a minute."),
        "TERMINAL_COOLING_DOWN": _("Too many refused codes at this till. Wait a few minutes."),
        "ALREADY_VOIDED": _("This write-off was already voided."),
        "VOID_WINDOW_PASSED": _("The time to void this write-off has passed."),
        "NOT_VOIDABLE": _("Only an accepted write-off can be voided."),
        "IDEMPOTENCY_KEY_REUSED": _("This write-off was already sent with other details."),
    }
