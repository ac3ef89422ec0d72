"""RBAC policy API benchmark: the list of 1,000 RBAC policies (target ≤ 30 ms, issue 21) and its page of 100.

Starts its own ``floatnet server`` (SQLite, temp dir) through ``bench/api.py``'s helpers, shares one network
with 1,000 projects over keep-alive HTTP and prints one JSON document (latencies in ms: p50, p90, p99, mean).
Run: ``.venv/bin/python bench/api_rbac.py [--policies 1000]``.
"""

from __future__ import annotations

import argparse
import json
import os
import uuid
from typing import Any

from api import repeat_get, server  # bench/api.py (the script's directory is on sys.path)

from floatnet.client import Client


def run(policies: int) -> dict[str, Any]:
    """The whole benchmark against a fresh server."""
    with server() as (url, _pid):
        client = Client(url, timeout=60)
        client.call("PUT", "/quotas/admin", {"quota": {"rbac_policy": -1}})
        network_id = client.create("network", name="bench-rbac")["id"]
        share = {"object_type": "network", "object_id": network_id, "action": "access_as_shared"}
        for _ in range(policies):
            client.call("POST", "/rbac-policies", {"rbac_policy": {**share, "target_tenant": uuid.uuid4().hex}})
        result = {
            f"rbac_policy_list_{policies}": repeat_get(url, "/rbac-policies", 50),
            "rbac_policy_list_page_100": repeat_get(url, "/rbac-policies?limit=100", 100),
        }
        client.close()
        return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--policies", type=int, default=1000, help="RBAC policies to list")
    args = parser.parse_args()
    result = run(args.policies)
    result["load_average_1m"] = round(os.getloadavg()[0], 2)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
