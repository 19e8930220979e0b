"""The web till's browser tests: a paired phone, through the API a store manager uses."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from backend.api import ids
from tests.browser.conftest import _keep_failure_screenshots
from tests.client import ApiClient
from tests.conftest import load_operation
from tests.factories import make_api_key, pos_setup

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def context(browser, locale, request):
    """A phone, as tests/browser/conftest.py opens one, with service workers blocked: a worker
    would sit between the page and Playwright's route interception. The installability test
    opens its own context with them allowed."""
    context = browser.new_context(
        locale=locale,
        extra_http_headers={"Accept-Language": locale},
        viewport=PHONE,
        device_scale_factor=1,
        service_workers="block",
    )
    context.set_default_timeout(10_000)
    yield context
    if getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed:
        _keep_failure_screenshots(context, request.node.nodeid, 0)
    context.close()


@dataclass
class Shop:
    setup: object  # tests.factories.redemptions.PosSetup
    admin_key: str
    api: ApiClient
    url: str

    def pairing_code(self, *, terminal=None) -> dict:
        terminal = terminal or self.setup.terminal
        data = self.api.execute(
            load_operation("till_terminal_pairing_create"),
            {"input": {"terminalId": ids.encode("Terminal", terminal.pk)}},
            key=self.admin_key,
        ).ok()
        payload = data["terminalPairingCreate"]
        assert payload["errors"] == []
        return payload["pairing"]

    def revoke_terminal(self) -> None:
        data = self.api.execute(
            load_operation("merchants_terminal_revoke"),
            {"id": ids.encode("Terminal", self.setup.terminal.pk)},
            key=self.admin_key,
        ).ok()
        assert data["terminalRevoke"]["errors"] == []


@pytest.fixture
def shop(live_server, transactional_db) -> Shop:
    setup = pos_setup(coupons=3)
    # Names a shop would have, for the screenshots in docs/screenshots/.
    for row, name in (
        (setup.merchant, "Sweet Spoon"),
        (setup.store, "Jing'an"),
        (setup.terminal, "Counter phone"),
        (setup.campaign, "5 off any dessert"),
    ):
        type(row).objects.filter(pk=row.pk).update(name=name)
        row.name = name
    return Shop(
        setup=setup,
        admin_key=make_api_key(setup.merchant, "admin"),
        api=ApiClient(base_url=live_server.url),
        url=live_server.url,
    )


def pair(page, shop: Shop, code: str | None = None) -> None:
    """Open the till on the phone and pair it with a fresh code (or ``code``)."""
    page.goto(f"{shop.url}/till/")
    page.get_by_label("Pairing code").fill(code or shop.pairing_code()["code"])
    page.get_by_role("button", name="Pair", exact=True).click()
