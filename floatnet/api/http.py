"""Request/response plumbing shared by every route: JSON in and out, the threadpool hop, list queries.

Route modules (core, L3, agent) use these helpers so that every endpoint parses bodies, answers errors and
renders JSON the same way.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from floatnet.api.auth import request_context
from floatnet.core.context import RequestContext
from floatnet.core.errors import HTTPBadRequest, MalformedRequestBody
from floatnet.core.listing import ListQuery
from floatnet.core.numbers import bounded_int
from floatnet.core.service import Core

T = TypeVar("T")
PAGING_PARAMS = ("fields", "sort_key", "sort_dir", "limit", "marker", "page_reverse")


def dumps(data: Any) -> bytes:
    """Compact JSON bytes (orjson: the list endpoints render thousands of objects)."""
    return orjson.dumps(data)


class JSONResponse(Response):
    """A JSON response rendered with :func:`dumps`."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return dumps(content)


def respond(data: Any, status: int = 200) -> Response:
    """Answer ``data`` as JSON (``status`` 204 answers an empty body)."""
    if status == 204:
        return Response(status_code=204)
    return JSONResponse(data, status_code=status)


def core_of(request: Request) -> Core:
    """The domain container the app was built with."""
    core: Core = request.app.state.core
    return core


def context_of(request: Request) -> RequestContext:
    """The caller's identity (built once per request by :mod:`floatnet.api.auth`)."""
    return request_context(request)


async def run_sync(func: Callable[..., T], *args: Any) -> T:
    """Run blocking (database) work in the threadpool so the event loop keeps serving other requests."""
    return await run_in_threadpool(func, *args)


def _has_float(data: Any) -> bool:
    """Whether a parsed JSON document holds a float anywhere (iterative: orjson allows 1024 levels)."""
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, float):
            return True
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def parse_json(raw: bytes) -> Any:
    """``raw`` as JSON; malformed is a 400 ``MalformedRequestBody``.

    orjson is strict (no NaN, no lone surrogates, bounded depth) but turns integers beyond 64 bits into
    floats, so ``2**70`` would be judged (and echoed) as ``1.18e+21``. A document holding floats is therefore
    parsed again, already known to be well-formed, with the standard library, which keeps integers exact.
    """
    try:
        data = orjson.loads(raw)
        return json.loads(raw) if _has_float(data) else data
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise MalformedRequestBody(reason=str(exc)) from None


def body_json(raw: bytes) -> Any:
    """A request body as JSON; an empty or malformed body is a 400 ``MalformedRequestBody``."""
    if not raw.strip():
        raise MalformedRequestBody(reason="no body given")
    return parse_json(raw)


async def read_json(request: Request) -> Any:
    """The request body as JSON (see :func:`body_json`)."""
    return body_json(await request.body())


def unwrap(body: Any, key: str) -> dict[str, Any]:
    """The object under ``key`` in a ``{"<key>": {...}}`` body (400 when missing or not an object)."""
    if not isinstance(body, dict) or key not in body:
        raise HTTPBadRequest(msg=f"Resource body required: expected '{key}'")
    inner = body[key]
    if not isinstance(inner, dict):
        raise HTTPBadRequest(msg=f"Invalid format for '{key}': expected an object")
    return inner


def envelope_of(raw: bytes, key: str) -> dict[str, Any]:
    """The object under ``key`` in a raw ``{"<key>": {...}}`` body (see :func:`body_json`, :func:`unwrap`)."""
    return unwrap(body_json(raw), key)


async def read_envelope(request: Request, key: str) -> dict[str, Any]:
    """The object under ``key`` in the request's ``{"<key>": {...}}`` body (see :func:`unwrap`)."""
    return envelope_of(await request.body(), key)


def if_match_revision(request: Request) -> int | None:
    """The ``If-Match: revision_number=N`` constraint, if present (400 when malformed)."""
    header = request.headers.get("if-match")
    if not header:
        return None
    for part in header.split(","):
        name, sep, value = part.strip().partition("=")
        if sep and name == "revision_number":
            try:
                return int(value)
            except ValueError:
                raise HTTPBadRequest(msg=f"Invalid revision number constraint: {part.strip()}") from None
    return None


def fields_param(request: Request) -> list[str]:
    """The attributes ``fields=a&fields=b,c`` asks for (all when none); the only parameter a show takes."""
    return [field for value in request.query_params.getlist("fields") for field in value.split(",") if field]


def list_query(request: Request) -> ListQuery:
    """Parse filters, ``fields``, ``sort_key``/``sort_dir``, ``limit``, ``marker``, ``page_reverse``."""
    params = request.query_params
    filters: dict[str, list[str]] = {}
    for name, value in params.multi_items():
        if name not in PAGING_PARAMS:
            filters.setdefault(name, []).append(value)
    keys, dirs = params.getlist("sort_key"), params.getlist("sort_dir")
    if dirs and len(dirs) != len(keys):
        raise HTTPBadRequest(msg="The number of sort_keys and sort_dirs must be same")
    for direction in dirs:
        if direction not in ("asc", "desc"):
            raise HTTPBadRequest(msg=f"{direction} is invalid value for sort_dir, valid values are 'asc', 'desc'")
    limit = params.get("limit")
    return ListQuery(
        filters=filters,
        sort=[(key, (dirs[i] if dirs else "asc") == "asc") for i, key in enumerate(keys)],
        limit=(bounded_int("limit", limit, 0) or None) if limit is not None else None,
        marker=params.get("marker"),
        page_reverse=params.get("page_reverse", "").lower() == "true",
        fields=fields_param(request),
    )


def select_fields(item: dict[str, Any], fields: list[str]) -> dict[str, Any]:
    """Only the requested ``fields`` of ``item`` (all when none requested)."""
    if not fields:
        return item
    return {name: item[name] for name in fields if name in item}
