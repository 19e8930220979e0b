"""Browser tests: Debian's Chromium driven by Playwright, against pages served by `live_server`.

scripts/test installs Chromium and a CJK font when they are missing (scripts/_setup.sh,
`ensure_browser`); Playwright never downloads a browser of its own here.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
# Without the background-networking flags Chromium keeps dialling out of a closed network.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",  # the machines run as root
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ROOT = Path(__file__).resolve().parents[2]
# Screenshots of failed browser tests, kept as test artifacts (git-ignored under .local/).
ARTIFACTS = ROOT / ".local" / "test-artifacts"


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the test item, so `page` can tell a failure at teardown."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


@pytest.fixture(scope="session")
def browser() -> Iterator:
    from playwright.sync_api import sync_playwright

    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: run scripts/test, which installs it (apt-get install chromium)")
    # Playwright's sync API keeps an asyncio event loop in this thread, so Django would see an
    # "async context" and raise SynchronousOnlyOperation on ORM calls made by the test itself
    # (factories, assertions). The tests are plain synchronous code: allow it, for the browser
    # tests' session only (this conftest is the only place that sets it).
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
    if previous is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def locale() -> str:
    """The browser's language; override with `@pytest.mark.parametrize("locale", [...])`."""
    return "en-US"


@pytest.fixture
def new_context(browser, request):
    """Opens further browser contexts (a second person on another phone); all closed after the test."""
    contexts = []

    def _open(*, locale: str = "en-US"):
        context = browser.new_context(
            locale=locale,
            extra_http_headers={"Accept-Language": locale},
            viewport={"width": 390, "height": 844},  # a phone: the fan pages are mobile web
            device_scale_factor=1,
        )
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context

    yield _open
    failed = getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed
    for index, context in enumerate(contexts):
        if failed:
            _keep_failure_screenshots(context, request.node.nodeid, index)
        context.close()


@pytest.fixture
def context(new_context, locale):
    return new_context(locale=locale)


@pytest.fixture
def page(context):
    return context.new_page()


def _keep_failure_screenshots(context, nodeid: str, index: int) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", nodeid)
    for number, page in enumerate(context.pages):
        try:
            page.screenshot(path=str(ARTIFACTS / f"{stem}-ctx{index}-page{number}.png"), full_page=True)
        except Exception:  # noqa: BLE001, S112  (a closed page must not hide the test's own failure)
            continue
