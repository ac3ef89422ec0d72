"""Service providers (``service-type``, ``GET /v2.0/service-providers``): which drivers implement a service.

Neutron lists the providers its service plugins loaded; with the L3 router plugin that is ``L3_ROUTER_NAT``
with ``single_node``, ``ha``, ``dvr`` and ``dvrha``, none the default unless the operator says so. floatnet
routes with single-node routers only (no HA, no DVR), so it lists exactly that one provider: clients that pick a
flavor or provider from this list never pick one floatnet cannot run. Read-only, visible to every caller
(Neutron's ``get_service_provider``: ``rule:regular_user``, readers included).
"""

from __future__ import annotations

from typing import Any

from floatnet.core.access import policy
from floatnet.core.context import RequestContext
from floatnet.core.listing import ListQuery, Page, apply
from floatnet.core.service import Core

PROVIDERS: tuple[dict[str, Any], ...] = ({"service_type": "L3_ROUTER_NAT", "name": "single_node", "default": False},)


class ServiceProviderService:
    """The ``service_providers`` collection (list only)."""

    def __init__(self, core: Core) -> None:
        self.core = core

    def list(self, ctx: RequestContext, query: ListQuery) -> Page:
        """The providers, filtered and paged; none for a caller an operator's policy refuses
        ``get_service_provider`` (as a refused ``get_agent`` lists no agents)."""
        if not policy.allowed(ctx, "get_service_provider", {}):
            return Page([])
        return apply([dict(provider) for provider in PROVIDERS], query)
