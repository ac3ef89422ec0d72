"""The CLI's HTTP side: which endpoint and credentials, found the way the OpenStack clients find them.

One habit works for floatnet and for a real cloud:

* ``--os-url URL`` / ``OS_URL``: no authentication (the server's ``auth_strategy = noauth``), the URL as the
  endpoint;
* otherwise ``--os-cloud NAME`` / ``OS_CLOUD`` / clouds.yaml / ``OS_*`` variables through ``openstack.config``:
  the catalog's ``network`` endpoint, and the cloud's Keystone session for tokens and TLS settings.

Requests go through the shared :class:`floatnet.client.Client` (name-or-id lookup included). Every failure
becomes a :class:`CliError` or a :class:`floatnet.client.ApiError` carrying the message the user should read;
``main`` prints it and exits 1, never a traceback.
"""

from __future__ import annotations

import os

from keystoneauth1 import exceptions as ks_exc

from floatnet.client import Client, session_tokens

TIMEOUT = 60.0


class CliError(Exception):
    """A failure to report to the user as one line on stderr, with exit status 1."""


def connect(os_url: str | None, os_cloud: str | None) -> Client:
    """A client of the Neutron v2.0 endpoint, from ``--os-url``/``OS_URL`` or the cloud config.

    No URL and no cloud configuration at all is a :class:`CliError` telling the user what to set.
    """
    url = os_url or os.environ.get("OS_URL")
    if url:
        return Client(url, timeout=TIMEOUT)
    return _cloud_client(os_cloud or os.environ.get("OS_CLOUD"))


def _cloud_client(cloud: str | None) -> Client:
    """The client of a clouds.yaml entry (or ``OS_*`` variables): its ``network`` endpoint, its session's tokens."""
    import openstack.config
    from openstack import exceptions as sdk_exc

    try:
        region = openstack.config.OpenStackConfig().get_one(cloud=cloud)
        sess = region.get_session()
        endpoint = region.get_endpoint("network") or sess.get_endpoint(
            service_type="network",
            interface=region.get_interface(),
            region_name=region.get_region_name("network"),
        )
    except (sdk_exc.SDKException, ks_exc.ClientException) as error:
        raise CliError(f"cannot configure the endpoint (use --os-url, OS_URL or OS_CLOUD): {error}") from None
    if not endpoint:
        raise CliError(
            "no network endpoint found: pass --os-url URL (or set OS_URL), or OS_CLOUD with a catalog"
        )
    return Client(endpoint, tokens=session_tokens(sess), timeout=TIMEOUT, verify=sess.verify)
