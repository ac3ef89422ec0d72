"""Every failure answered in Neutron's shape: ``{"NeutronError": {"type", "message", "detail"}}``.

One handler per exception family, registered by :func:`install`: domain errors keep their status; unknown
paths and methods become ``HTTPNotFound``/``HTTPMethodNotAllowed``; a transaction that kept conflicting is a
409; anything unexpected is logged and answered as a 500 in the same shape (never a stack trace).
"""

from __future__ import annotations

import logging

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from floatnet.api.http import respond
from floatnet.core.errors import (
    HTTPBadRequest,
    HTTPMethodNotAllowed,
    HTTPNotFound,
    NeutronError,
    TooManyConflicts,
)
from floatnet.db.session import RetryLimitExceeded

LOG = logging.getLogger(__name__)


def neutron_response(error: NeutronError) -> Response:
    """The JSON response for a domain error."""
    return respond(error.to_dict(), error.status_code)


async def on_neutron_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, NeutronError)
    return neutron_response(exc)


async def on_http_exception(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    error: NeutronError
    if exc.status_code == 404:
        error = HTTPNotFound()
    elif exc.status_code == 405:
        error = HTTPMethodNotAllowed()
    else:
        error = HTTPBadRequest(msg=str(exc.detail))
        error.status_code = exc.status_code
    return neutron_response(error)


async def on_retry_limit(_request: Request, exc: Exception) -> Response:
    LOG.warning("transaction retry limit reached: %s", exc)
    return neutron_response(TooManyConflicts())


async def on_unexpected(request: Request, exc: Exception) -> Response:
    LOG.exception("unexpected error on %s %s", request.method, request.url.path)
    error = NeutronError("Request Failed: internal server error while processing your request.")
    return neutron_response(error)


def install(app: Starlette) -> None:
    """Register the handlers on ``app``."""
    app.add_exception_handler(NeutronError, on_neutron_error)
    app.add_exception_handler(HTTPException, on_http_exception)
    app.add_exception_handler(RetryLimitExceeded, on_retry_limit)
    app.add_exception_handler(Exception, on_unexpected)
