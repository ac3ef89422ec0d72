"""One exception for every failed API call, parsed from Neutron's error body in one place.

Neutron answers errors as ``{"NeutronError": {"type": "NetworkNotFound", "message": "…", "detail": ""}}``;
some proxies and older servers answer ``{"NeutronError": "text"}`` or ``{"message": "…"}``, and a server that
is not there answers nothing. :class:`ApiError` carries all of it: ``status`` (0: no answer), ``type``,
``message`` (what a user should read), ``detail`` and ``request`` (``"GET /v2.0/networks/x"``, for logs).
"""

from __future__ import annotations

from typing import Any

import httpx


class ApiError(Exception):
    """The server refused a request (``status`` ≥ 400) or could not be reached (``status`` 0).

    ``str()`` is the whole story for a log line (request, status, type, message); ``message`` alone is what a
    command-line user reads.
    """

    def __init__(self, message: str, status: int = 0, type: str = "", detail: str = "", request: str = "") -> None:
        self.message = message
        self.status = status
        self.type = type
        self.detail = detail
        self.request = request
        head = [f"{request}:" if request else "", str(status) if status else "", f"{type}:" if type else ""]
        super().__init__(" ".join(part for part in [*head, message] if part))


def neutron_message(status: int, body: Any, text: str) -> str:
    """The human message of an error answer: the ``NeutronError`` message when the body has one."""
    if isinstance(body, dict):
        error = body.get("NeutronError")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
        if isinstance(error, str) and error:
            return error
        if body.get("message"):
            return str(body["message"])
    return text.strip() or f"HTTP {status}"


def error_of(response: httpx.Response, request: str) -> ApiError:
    """The :class:`ApiError` of an error answer (any body, JSON or not)."""
    try:
        body = response.json() if response.content else None
    except ValueError:
        body = None
    error = body.get("NeutronError") if isinstance(body, dict) else None
    fields = error if isinstance(error, dict) else {}
    return ApiError(
        neutron_message(response.status_code, body, response.text),
        response.status_code,
        str(fields.get("type") or ""),
        str(fields.get("detail") or ""),
        request,
    )
