"""floatnet.client — the one HTTP client of the Neutron v2.0 API, shared by the CLI, the agent, the lab and the
benchmarks (docs/architecture.md, "Layers").

Everything that speaks to a floatnet server from another process goes through :class:`Client`: one place that
builds the ``/v2.0`` base URL, authenticates (a fixed token, or Keystone tokens refreshed after a 401), retries
what is worth retrying, and turns a ``{"NeutronError": {"type", "message", "detail"}}`` answer — or no answer at
all — into one exception type, :class:`ApiError`. The transport is injectable (``httpx.MockTransport`` in unit
tests). This package imports nothing of floatnet's server, agent or CLI (an import-linter contract says so), so
every process can use it. ``floatnet.diagnose`` keeps a reader of its own on purpose (see its docstring).
"""

from floatnet.client.auth import TokenAuth, TokenSource, keystone_tokens, session_tokens
from floatnet.client.errors import ApiError, neutron_message
from floatnet.client.http import Client, versioned

__all__ = [
    "ApiError",
    "Client",
    "TokenAuth",
    "TokenSource",
    "keystone_tokens",
    "neutron_message",
    "session_tokens",
    "versioned",
]
