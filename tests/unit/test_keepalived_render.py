"""floatnet.linux.keepalived.render: Neutron's shape of a replica's VRRP instance (pure)."""

from __future__ import annotations

import pytest

from floatnet.linux import keepalived

FIP, UPSTREAM = "203.0.113.20/32", "203.0.113.1"


def test_render_is_neutrons_shape() -> None:
    text = keepalived.render(
        keepalived.HaInstance(
            3, "ha-0123456789a", 2, (keepalived.Vip("10.0.0.1/24", "qr-x"), keepalived.Vip(FIP, "qg-x")),
            (keepalived.VirtualRoute("0.0.0.0/0", UPSTREAM, "qg-x"),),
        )
    )  # fmt: skip
    assert "vrrp_version 2" in text and "advert_int 2\n" in text and "state BACKUP" in text and "nopreempt" in text
    assert "169.254.0.3/24 dev ha-0123456789a" in text and "virtual_router_id 3" in text
    assert text.index("203.0.113.20/32 dev qg-x") < text.index("10.0.0.1/24 dev qr-x")
    assert "0.0.0.0/0 via 203.0.113.1 dev qg-x" in text
    assert "vrrp_version 3" in keepalived.render(keepalived.HaInstance(3, "ha-x", 0.25))
    for bad in (keepalived.HaInstance(0, "ha-x", 2), keepalived.HaInstance(3, "ha-x", 0)):
        with pytest.raises(ValueError):
            keepalived.render(bad)
