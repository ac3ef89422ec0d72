"""The ini file: the seed's option names parse, and every wrong value names its option and value."""

from __future__ import annotations

from pathlib import Path

import pytest

from floatnet.config import ConfigError, VlanRange, load

SEED = """
[DEFAULT]
bind = 127.0.0.1:9797
[ml2]
type_drivers = flat,vlan
tenant_network_types = vlan
[ml2_type_flat]
flat_networks = public_eth0
[ml2_type_vlan]
network_vlan_ranges = public_eth1:100:199,public_eth2
[ovs]
bridge_mappings = public_eth0:br-ex,public_eth1:br-eth1
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "floatnet.ini"
    path.write_text(text)
    return path


def test_seed_options(tmp_path: Path) -> None:
    config = load(write(tmp_path, SEED), tmp_path / "state")
    assert config.type_drivers == ("flat", "vlan") and config.tenant_network_types == ("vlan",)
    assert config.vlan_ranges == (VlanRange("public_eth1", 100, 199), VlanRange("public_eth2"))
    assert config.bridge_mappings == {"public_eth0": "br-ex", "public_eth1": "br-eth1"}
    assert config.flat_allowed("public_eth0") and not config.flat_allowed("public_eth1")
    assert (config.bind_host, config.bind_port) == ("127.0.0.1", 9797)
    assert config.database_url == f"sqlite:///{tmp_path / 'state' / 'floatnet.db'}"


def test_local_ip_is_the_vxlan_endpoint(tmp_path: Path) -> None:
    assert load(write(tmp_path, SEED)).local_ip == ""
    assert load(write(tmp_path, SEED.replace("[ovs]", "[ovs]\nlocal_ip = 10.0.0.11"))).local_ip == "10.0.0.11"


def test_project_network_types_is_the_new_name(tmp_path: Path) -> None:
    text = SEED.replace("tenant_network_types = vlan", "project_network_types = flat")
    assert load(write(tmp_path, text)).tenant_network_types == ("flat",)


@pytest.mark.parametrize(
    ("old", "new", "named"),
    [
        ("type_drivers = flat,vlan", "type_drivers = flat,gre", "[ml2] type_drivers = 'flat,gre'"),
        ("tenant_network_types = vlan", "tenant_network_types = vxlan", "tenant_network_types"),
        ("public_eth1:100:199", "public_eth1:200:100", "public_eth1:200:100"),
        ("public_eth1:100:199", "public_eth1:100:5000", "network_vlan_ranges"),
        ("public_eth1:br-eth1", "public_eth1", "bridge_mappings"),
        ("bind = 127.0.0.1:9797", "bind = nowhere", "bind"),
        ("[ml2]", "max_dns_nameservers = five\n[ml2]", "[DEFAULT] max_dns_nameservers = 'five'"),
        ("[ml2]", "max_subnet_host_routes = -1\n[ml2]", "[DEFAULT] max_subnet_host_routes = '-1'"),
        ("[ml2]", "allow_insecure_noauth_on_network = maybe\n[ml2]", "allow_insecure_noauth_on_network"),
        ("[ml2]", "max_fixed_ips_per_port = x\n[ml2]", "[DEFAULT] max_fixed_ips_per_port = 'x'"),
        ("[ml2]", "[quotas]\nquota_router = -2\n[ml2]", "[quotas] quota_router = '-2'"),
        ("[ml2]", "[quotas]\nquota_floatingip = many\n[ml2]", "[quotas] quota_floatingip = 'many'"),
        ("[ml2]", "l3_ha = sometimes\n[ml2]", "[DEFAULT] l3_ha = 'sometimes'"),
        ("[ml2]", "max_l3_agents_per_router = -1\n[ml2]", "[DEFAULT] max_l3_agents_per_router = '-1'"),
        ("[ml2]", "l3_ha_net_cidr = 169.254.192.1/18\n[ml2]", "[DEFAULT] l3_ha_net_cidr = '169.254.192.1/18'"),
        ("[ml2]", "l3_ha_net_cidr = 169.254.192.0\n[ml2]", "l3_ha_net_cidr"),
        ("[ml2]", "l3_ha_net_cidr = fd00::/64\n[ml2]", "l3_ha_net_cidr"),
        ("[ml2]", "ha_vrrp_advert_int = 0\n[ml2]", "[DEFAULT] ha_vrrp_advert_int = '0'"),
        ("[ml2]", "ha_vrrp_advert_int = 300\n[ml2]", "ha_vrrp_advert_int"),
        ("[ml2]", "dhcp_agents_per_network = 0\n[ml2]", "[DEFAULT] dhcp_agents_per_network = '0'"),
        ("[ml2]", "dhcp_agents_per_network = two\n[ml2]", "[DEFAULT] dhcp_agents_per_network = 'two'"),
        ("[ovs]", "[ovs]\nlocal_ip = node1", "[ovs] local_ip = 'node1'"),
        ("[ovs]", "[ovs]\nlocal_ip = 2001:db8::1", "[ovs] local_ip = '2001:db8::1'"),
    ],
)
def test_wrong_values_name_option_and_value(tmp_path: Path, old: str, new: str, named: str) -> None:
    with pytest.raises(ConfigError) as info:
        load(write(tmp_path, SEED.replace(old, new)))
    assert named in str(info.value)


def test_neutron_subnet_limits_and_the_insecure_opt_in(tmp_path: Path) -> None:
    defaults = load(write(tmp_path, SEED))
    assert (defaults.max_subnet_host_routes, defaults.max_dns_nameservers) == (20, 5)
    assert defaults.allow_insecure_noauth_on_network is False
    text = SEED.replace("[ml2]", "max_subnet_host_routes = 3\nmax_dns_nameservers = 0\n"
                        "allow_insecure_noauth_on_network = True\n[ml2]")  # fmt: skip
    config = load(write(tmp_path, text))
    assert (config.max_subnet_host_routes, config.max_dns_nameservers) == (3, 0)
    assert config.allow_insecure_noauth_on_network is True


def test_quotas_section_and_max_fixed_ips_per_port(tmp_path: Path) -> None:
    defaults = load(write(tmp_path, SEED))
    assert defaults.quota_overrides == {} and defaults.max_fixed_ips_per_port == 5
    text = SEED + "[quotas]\nquota_router = 1\nquota_floatingip = -1\n"
    text = text.replace("[ml2]", "max_fixed_ips_per_port = 2\n[ml2]", 1)
    config = load(write(tmp_path, text))
    assert config.quota_overrides == {"router": 1, "floatingip": -1} and config.max_fixed_ips_per_port == 2


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load(tmp_path / "absent.ini")


def test_availability_zone_of_the_node(tmp_path: Path) -> None:
    assert load().availability_zone == "nova"
    ini = tmp_path / "az.ini"
    ini.write_text("[agent]\navailability_zone = zone-a\n")
    assert load(ini).availability_zone == "zone-a"
    ini.write_text("[agent]\navailability_zone = " + "z" * 256 + "\n")
    with pytest.raises(ConfigError, match="availability_zone"):
        load(ini)


def test_agent_roles(tmp_path: Path) -> None:
    """``[agent] roles``: all three by default, any subset in a fixed order, an unknown or empty one refused."""
    assert load(write(tmp_path, SEED)).roles == ("l3", "dhcp", "compute")
    assert load(write(tmp_path, SEED + "[agent]\nroles = compute, l3\n")).roles == ("l3", "compute")
    for wrong, why in (("router", "unknown role 'router'"), (" , ", "at least one role")):
        with pytest.raises(ConfigError) as info:
            load(write(tmp_path, SEED + f"[agent]\nroles = {wrong}\n"))
        assert "[agent] roles" in str(info.value) and why in str(info.value)


def test_l3_ha_options_and_neutrons_defaults(tmp_path: Path) -> None:
    config = load(write(tmp_path, SEED))
    assert (config.l3_ha, config.max_l3_agents_per_router, config.l3_ha_net_cidr) == (False, 3, "169.254.192.0/18")
    assert config.ha_vrrp_advert_int == 2
    text = SEED.replace("[ml2]", "l3_ha = true\nmax_l3_agents_per_router = 0\nl3_ha_net_cidr = 169.254.0.0/24\n"
                        "ha_vrrp_advert_int = 0.2\n[ml2]")  # fmt: skip
    config = load(write(tmp_path, text))
    assert (config.l3_ha, config.max_l3_agents_per_router, config.l3_ha_net_cidr) == (True, 0, "169.254.0.0/24")
    assert config.ha_vrrp_advert_int == 0.2


def test_dhcp_agents_per_network_defaults_to_one_as_neutron(tmp_path: Path) -> None:
    assert load(write(tmp_path, SEED)).dhcp_agents_per_network == 1
    text = SEED.replace("[ml2]", "dhcp_agents_per_network = 2\n[ml2]")
    assert load(write(tmp_path, text)).dhcp_agents_per_network == 2


def test_ha_conntrackd_enabled_is_an_agent_boolean_off_by_default(tmp_path: Path) -> None:
    """``[agent] ha_conntrackd_enabled``: false unless set; a value that is no boolean is refused by name."""
    assert load(write(tmp_path, SEED)).ha_conntrackd_enabled is False
    assert load(write(tmp_path, SEED + "[agent]\nha_conntrackd_enabled = true\n")).ha_conntrackd_enabled is True
    with pytest.raises(ConfigError) as info:
        load(write(tmp_path, SEED + "[agent]\nha_conntrackd_enabled = sometimes\n"))
    assert "[agent] ha_conntrackd_enabled = 'sometimes'" in str(info.value)
