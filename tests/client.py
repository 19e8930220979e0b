"""How tests call the API: GraphQL over HTTP, with an API key or a terminal signature."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import requests

from backend.merchants.credentials import new_nonce, sign_terminal_request


@dataclass
class GraphQLResponse:
    status: int
    body: dict[str, Any]

    @property
    def data(self) -> dict[str, Any] | None:
        return self.body.get("data")

    @property
    def errors(self) -> list[dict[str, Any]]:
        return self.body.get("errors") or []

    @property
    def error_codes(self) -> list[str]:
        return [e.get("extensions", {}).get("code") for e in self.errors]

    def ok(self) -> dict[str, Any]:
        assert not self.errors, self.errors
        assert self.status == 200, self.body
        return self.data


def terminal_headers(
    uid: str,
    secret: str,
    body: bytes,
    timestamp: int | None = None,
    *,
    nonce: str | None = None,
    method: str = "POST",
    path: str = "/graphql/",
    query: str = "",
) -> dict[str, str]:
    """Signature scheme v2 headers for one request; ``timestamp`` in Unix seconds (converted
    to the milliseconds the scheme sends) or now."""
    ts = str(int(time.time() * 1000) if timestamp is None else int(timestamp) * 1000)
    nonce = nonce or new_nonce()
    signature = sign_terminal_request(
        secret, method=method, path=path, query=query, timestamp=ts, nonce=nonce, body=body
    )
    return {"X-Terminal-Id": uid, "X-Timestamp": ts, "X-Nonce": nonce, "X-Signature": signature}


class ApiClient:
    """Sends GraphQL over a real HTTP connection (``base_url``) or Django's test client."""

    def __init__(self, *, base_url: str | None = None, django_client=None):
        self.base_url = base_url
        self.django_client = django_client
        self.session = requests.Session() if base_url else None

    def post_raw(self, body: bytes, headers: dict[str, str]) -> GraphQLResponse:
        headers = {"Content-Type": "application/json", **headers}
        if self.base_url:
            r = self.session.post(f"{self.base_url}/graphql/", data=body, headers=headers, timeout=60)
            status, text = r.status_code, r.text
        else:
            meta = {
                f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items() if k != "Content-Type"
            }
            r = self.django_client.post("/graphql/", body, content_type="application/json", **meta)
            status, text = r.status_code, r.content.decode()
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = {"errors": [{"message": text, "extensions": {"code": "NOT_JSON"}}]}
        return GraphQLResponse(status=status, body=parsed)

    def execute(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        key: str | None = None,
        terminal: tuple[str, str] | None = None,
        timestamp: int | None = None,
    ) -> GraphQLResponse:
        body = json.dumps({"query": query, "variables": variables or {}}).encode()
        headers: dict[str, str] = {}
        if key is not None:
            headers["Authorization"] = f"Bearer {key}"
        if terminal is not None:
            headers.update(terminal_headers(terminal[0], terminal[1], body, timestamp))
        return self.post_raw(body, headers)
