"""The server answers over HTTP, in-process and as a real process."""

from __future__ import annotations

from typing import Any

import httpx


def test_version_document_in_process(app_client: Any) -> None:
    body = app_client.get("/").json()
    assert body["versions"][0]["id"] == "v2.0"
    assert body["versions"][0]["status"] == "CURRENT"


def test_live_server_lists_networks(live_server: str) -> None:
    response = httpx.get(f"{live_server}/v2.0/networks")
    assert response.status_code == 200
    assert response.json() == {"networks": []}
