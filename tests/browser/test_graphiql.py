"""GraphiQL at /graphql/ (DEBUG) comes from vendored files: it works without internet."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from tests.browser.screenshots import save_product_screenshot

pytestmark = pytest.mark.django_db(transaction=True)

LOCAL_HOSTS = {"127.0.0.1", "localhost"}


@pytest.fixture
def desktop_page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()


def test_graphiql_renders_and_runs_a_query_with_no_network(live_server, desktop_page, settings):
    settings.DEBUG = True  # GraphiQL is shown under DEBUG only
    page = desktop_page
    refused = []

    def only_this_machine(route):
        if urlsplit(route.request.url).hostname in LOCAL_HOSTS:
            route.continue_()
        else:  # no internet: what a CDN would have served never arrives
            refused.append(route.request.url)
            route.abort("internetdisconnected")

    page.route("**/*", only_this_machine)
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    page.goto(f"{live_server.url}/graphql/", wait_until="networkidle")

    run = page.get_by_role("button", name=re.compile("Execute query"))
    expect(run).to_be_visible()
    editor = page.locator(".graphiql-query-editor .CodeMirror")
    expect(editor).to_be_visible()
    # The schema loaded (GraphiQL's introspection query ran): the documentation explorer has it.
    page.get_by_role("button", name=re.compile("documentation explorer", re.I)).click()
    expect(page.get_by_text("A GraphQL schema provides a root type")).to_be_visible()
    editor.click()
    page.keyboard.press("Control+A")
    page.keyboard.insert_text("{ __typename }")
    run.click()
    # Anonymous callers may ask __typename; the answer shows in the result pane.
    expect(page.locator(".result-window")).to_contain_text('"__typename": "Query"')
    save_product_screenshot(page, "graphiql", full_page=False)
    assert refused == []
    assert errors == []


def test_graphql_get_without_debug_shows_no_graphiql(client, settings):
    settings.DEBUG = False
    response = client.get("/graphql/", HTTP_ACCEPT="text/html")
    assert b"graphiql" not in response.content.lower()
