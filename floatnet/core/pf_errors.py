"""Errors of port forwardings, with Neutron's type names (``neutron.services.portforwarding.common``).

Generic 400s (``BadRequest`` with ``resource="port_forwarding"``) come from :mod:`floatnet.core.errors`.
"""

from __future__ import annotations

from floatnet.core.errors import BadRequest, Conflict, InUse, NotFound


class PortForwardingNotFound(NotFound):
    message_template = "Port Forwarding %(id)s could not be found."


class PortForwardingNotSupportFilterField(BadRequest):
    message_template = "Port Forwarding filter %(filter)s is not supported."


class FipInUseByPortForwarding(InUse):
    message_template = "Floating IP %(id)s in use by Port Forwarding resources."


class PortHasBindingFloatingIP(InUse):
    message_template = (
        "Cannot create port forwarding to floating IP %(floating_ip_address)s (%(fip_id)s) with port %(port_id)s "
        "using fixed IP %(fixed_ip)s, as that port already has a binding floating IP."
    )


class PortForwardingCollision(Conflict):
    """Two forwardings of one floating IP and protocol may not share an external port (nor two of one internal
    address and protocol an internal port): the second would never receive a packet."""

    message_template = (
        "There is a port collision with the %(key)s. The following ranges collide: %(existing)s and %(port)s"
    )
