"""Attribute validation as Neutron's API layer does it: a small attribute map per resource.

Each :class:`Attr` says whether the attribute may be given on create (POST) and update (PUT), whether it is
required, its default, and a converter that validates and normalises a value (raising ``ValueError(reason)``).
:func:`validate` answers Neutron's messages (``Unrecognized attribute(s) 'x'``, ``Invalid input for x.
Reason: …``, ``Cannot update read-only attribute x``) as ``HTTPBadRequest``.
"""

from __future__ import annotations

import ipaddress
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from floatnet.core.errors import HTTPBadRequest, InvalidInput, InvalidInputSubnetServiceType, InvalidSubnetServiceType

Converter = Callable[[Any], Any]
MISSING: Any = object()
MAC_RE = re.compile(r"^([0-9a-f]{2}:){5}[0-9a-f]{2}$")
# neutron-lib's portbindings.VNIC_TYPES, in its order
VNIC_TYPES: tuple[str, ...] = ("normal", "direct", "macvtap", "baremetal", "direct-physical", "virtio-forwarder")
VNIC_TYPES += ("smart-nic", "vdpa", "accelerator-direct", "accelerator-direct-physical", "remote-managed")
FQDN_MAX = 255  # neutron-lib's FQDN_FIELD_SIZE
DNS_LABEL_RE = re.compile(r"[a-z0-9-]{1,63}|<project_id>|<project_name>|<user_name>|<user_id>")
SERVICE_TYPE_PREFIXES = ("network:", "neutron:", "compute:")


@dataclass(frozen=True)
class Attr:
    """How one attribute is accepted (see the module docstring)."""

    convert: Converter
    post: bool = True
    put: bool = True
    required: bool = False
    default: Any = MISSING


def validate(resource: str, spec: dict[str, Attr], body: Any, creating: bool) -> dict[str, Any]:
    """Check and convert ``body`` against ``spec``; on create, fill defaults. Returns a new dict."""
    if not isinstance(body, dict):
        raise HTTPBadRequest(msg=f"Resource body required for {resource}")
    unknown = sorted(set(body) - set(spec))
    if unknown:
        raise HTTPBadRequest(msg=f"Unrecognized attribute(s) '{', '.join(unknown)}'")
    result: dict[str, Any] = {}
    for name, attr in spec.items():
        if name in body:
            if creating and not attr.post:
                raise HTTPBadRequest(msg=f"Attribute '{name}' not allowed in POST")
            if not creating and not attr.put:
                raise HTTPBadRequest(msg=f"Cannot update read-only attribute {name}")
            try:
                result[name] = attr.convert(body[name])
            except (ValueError, TypeError) as exc:
                raise HTTPBadRequest(msg=f"Invalid input for {name}. Reason: {exc}.") from None
        elif creating and attr.required:
            raise HTTPBadRequest(msg=f"Failed to parse request. Required attribute '{name}' not specified")
        elif creating and attr.default is not MISSING:
            result[name] = attr.default() if callable(attr.default) else attr.default
    return result


def to_bool(value: Any) -> bool:
    """A boolean, also from the strings Neutron accepts (``true``/``false``/``1``/``0``)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "1", "yes", "on", "false", "0", "no", "off"):
        return value.lower() in ("true", "1", "yes", "on")
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise ValueError(f"'{value}' cannot be converted to boolean")


def string(max_len: int = 255) -> Converter:
    """A string of at most ``max_len`` characters (``None`` is refused)."""

    def convert(value: Any) -> str:
        if not isinstance(value, str):
            raise ValueError(f"'{value}' is not a valid string")
        if len(value) > max_len:
            raise ValueError(f"'{value}' exceeds maximum length of {max_len}")
        return value

    return convert


def string_or_none(max_len: int = 255) -> Converter:
    """Like :func:`string`, with ``None`` meaning the empty string (``openstack port unset --host``)."""
    inner = string(max_len)
    return lambda value: "" if value is None else inner(value)


def to_int(low: int | None = None, high: int | None = None) -> Converter:
    """An integer (also from its text), optionally within ``low``..``high``."""

    def convert(value: Any) -> int:
        if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
            raise ValueError(f"'{value}' is not an integer")
        try:
            number = int(value)
        except (ValueError, TypeError):
            raise ValueError(f"'{value}' is not an integer") from None
        if (low is not None and number < low) or (high is not None and number > high):
            raise ValueError(f"'{number}' is not in the range {low} through {high}")
        return number

    return convert


def nullable(inner: Converter) -> Converter:
    """``None`` stays ``None``, anything else goes through ``inner``."""
    return lambda value: None if value is None else inner(value)


def to_uuid(value: Any) -> str:
    """A UUID string."""
    try:
        return str(uuid.UUID(str(value))) if isinstance(value, str) else _bad_uuid(value)
    except ValueError:
        return _bad_uuid(value)


def _bad_uuid(value: Any) -> str:
    raise ValueError(f"'{value}' is not a valid UUID")


def ip_address(value: Any) -> str:
    """An IPv4/IPv6 address in canonical text."""
    try:
        return str(ipaddress.ip_address(value if isinstance(value, str) else ""))
    except ValueError:
        raise ValueError(f"'{value}' is not a valid IP address") from None


def cidr(value: Any) -> str:
    """A network in CIDR notation; host bits must be zero, as Neutron requires for a subnet."""
    try:
        net = ipaddress.ip_network(value if isinstance(value, str) else "", strict=True)
    except ValueError:
        raise ValueError(f"'{value}' is not a valid IP subnet") from None
    if "/" not in value:
        raise ValueError(f"'{value}' isn't a recommended CIDR, '{net}' should be used instead")
    return str(net)


def subnet_cidr(value: Any) -> str:
    """A subnet's ``cidr``: text that is no network at all is Neutron's ``InvalidInput`` (its converter,
    ``convert_cidr_to_canonical_format``, refuses it before validation); a network with host bits set or
    without a prefix length is the validator's 400 (see :func:`cidr`)."""
    try:
        ipaddress.ip_network(value if isinstance(value, str) else "", strict=False)
    except ValueError:
        raise InvalidInput(error_message=f"cidr '{value}' is not in a CIDR format") from None
    return cidr(value)


def mac_address(value: Any) -> str:
    """A MAC address (lower case, colon separated). Neutron refuses only the all-zero and the broadcast
    address; multicast addresses are accepted."""
    text = value.lower().replace("-", ":") if isinstance(value, str) else ""
    if not MAC_RE.match(text) or text in ("00:00:00:00:00:00", "ff:ff:ff:ff:ff:ff"):
        raise ValueError(f"'{value}' is not a valid MAC address")
    return text


def list_of(inner: Converter) -> Converter:
    """A list whose every element goes through ``inner``."""

    def convert(value: Any) -> list[Any]:
        if not isinstance(value, list):
            raise ValueError(f"'{value}' is not a list")
        return [inner(item) for item in value]

    return convert


def unique_list_of(inner: Converter) -> Converter:
    """Like :func:`list_of`, and duplicates are refused (dns_nameservers)."""

    def convert(value: Any) -> list[Any]:
        items = list_of(inner)(value)
        duplicates = {item for item in items if items.count(item) > 1}
        if duplicates:
            raise ValueError(f"Duplicate items in the list: '{', '.join(sorted(map(str, duplicates)))}'")
        return items

    return convert


def dict_with(keys: dict[str, Converter], required: tuple[str, ...] = ()) -> Converter:
    """A dict with only ``keys`` (each converted), ``required`` ones present."""

    def convert(value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise ValueError(f"'{value}' is not a dictionary")
        extra = sorted(set(value) - set(keys))
        if extra:
            raise ValueError(f"Unrecognized attribute(s) '{', '.join(extra)}'")
        missing = [key for key in required if key not in value]
        if missing:
            raise ValueError(f"Missing key(s) '{', '.join(missing)}' in '{value}'")
        return {key: keys[key](item) for key, item in value.items()}

    return convert


def any_dict(value: Any) -> dict[str, Any]:
    """Any JSON object (binding:profile)."""
    if not isinstance(value, dict):
        raise ValueError(f"'{value}' is not a dictionary")
    return value


def choice(*allowed: str) -> Converter:
    """One of ``allowed``."""

    def convert(value: Any) -> str:
        if value not in allowed:
            raise ValueError(f"'{value}' is not in {list(allowed)}")
        return str(value)

    return convert


def project_id(value: Any) -> str:
    """A project id (any non-empty string of at most 255 characters)."""
    text = string(255)(value)
    if not text:
        raise ValueError("'' is not a valid project id")
    return text


def _dns_format_problem(name: str) -> str | None:
    """Why ``name`` is not a PQDN/FQDN as neutron-lib's ``_validate_dns_format`` sees it (None: it is)."""
    trimmed = name[:-1] if name.endswith(".") else name
    if len(trimmed) > FQDN_MAX:
        return f"'{trimmed}' exceeds the {FQDN_MAX} character FQDN limit"
    labels = trimmed.split(".")
    for label in labels:
        if not label:
            return "Encountered an empty component"
        if label.startswith("-") or label.endswith("-"):
            return f"Name '{label}' must not start or end with a hyphen"
        if not DNS_LABEL_RE.fullmatch(label):
            return f"Name '{label}' must be 1-63 characters long, each of which can only be alphanumeric or a hyphen"
    if len(labels) > 1 and labels[-1].isdigit():  # RFC 1123: a TLD is never all numeric (this refuses IPs)
        return f"TLD '{labels[-1]}' must not be all numeric"
    return None


def _lower_string(value: Any) -> str:
    """neutron-lib's ``convert_string_to_case_insensitive``: DNS names compare case-insensitively."""
    if not isinstance(value, str):
        raise ValueError(f"Input value {value} must be string type")
    return value.lower()


def dns_name(value: Any) -> str:
    """A port's ``dns_name`` (``type:dns_host_name``): empty, or a DNS label / PQDN / FQDN; lower-cased.

    ``None`` means empty (clearing it), as floatnet has always accepted.
    """
    name = "" if value is None else _lower_string(value)
    problem = _dns_format_problem(name) if name else None
    if problem:
        raise ValueError(f"'{name}' not a valid PQDN or FQDN. Reason: {problem}")
    return name


def fip_dns_name(value: Any) -> str:
    """A floating IP's ``dns_name`` (``type:fip_dns_host_name``): empty, or a relative name (no trailing dot)
    that still fits an FQDN once a domain is added; lower-cased."""
    name = _lower_string(value)
    if not name:
        return name
    if name.endswith("."):
        raise ValueError(f"'{name}' is a FQDN. It should be a relative domain name")
    problem = _dns_format_problem(name)
    if problem:
        raise ValueError(f"'{name}' not a valid PQDN or FQDN. Reason: {problem}")
    if len(name) > FQDN_MAX - 3:
        raise ValueError(
            f"'{name}' contains {len(name)} characters. Adding a domain name will cause it to exceed the maximum "
            f"length of a FQDN of '{FQDN_MAX}'"
        )
    return name


def dns_domain(value: Any) -> str:
    """A network's ``dns_domain`` (``type:dns_domain_name``): empty, or an FQDN ending in a dot; lower-cased."""
    name = _lower_string(value)
    if not name:
        return name
    if not name.endswith("."):
        raise ValueError(f"'{name}' is not a FQDN")
    problem = _dns_format_problem(name)
    if problem:
        raise ValueError(f"'{name}' not a valid PQDN or FQDN. Reason: {problem}")
    if len(name) > FQDN_MAX - 2:
        raise ValueError(
            f"'{name}' contains {len(name)} characters. Adding a sub-domain will cause it to exceed the maximum "
            f"length of a FQDN of '{FQDN_MAX}'"
        )
    return name


def subnet_service_types(value: Any) -> list[str]:
    """A subnet's ``service_types``: device-owner prefixes (``network:``, ``neutron:``, ``compute:``…).

    Answers Neutron's own errors (``InvalidSubnetServiceType``, ``InvalidInputSubnetServiceType``), not the
    generic attribute message. neutron-lib means the same three prefixes (its list concatenation accidentally
    admits any string starting with one of the letters of ``compute:``; floatnet keeps the intent).
    """
    if value is None:
        return []
    if not isinstance(value, list):
        raise HTTPBadRequest(msg="Subnet service types must be a list.")
    for service_type in value:
        if not isinstance(service_type, str):
            raise InvalidInputSubnetServiceType(service_type=service_type)
        if not service_type.startswith(SERVICE_TYPE_PREFIXES):
            raise InvalidSubnetServiceType(service_type=service_type)
    return list(value)
