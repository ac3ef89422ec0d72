"""Network segments (ML2 type drivers in miniature): validate provider attributes, allocate and free ids.

A segment is ``(network_type, physical_network, segmentation_id)``; its row in ``segment_allocations``
(primary key = the segment) guarantees one network per flat physnet / VLAN id / VNI, even across servers.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from floatnet.config import VLAN_MAX, VLAN_MIN, VNI_MAX, VNI_MIN, Config
from floatnet.core.errors import (
    FlatNetworkInUse,
    InvalidInput,
    NoNetworkAvailable,
    TunnelIdInUse,
    VlanIdInUse,
)
from floatnet.db.models import SegmentAllocation
from floatnet.db.session import serialize

MTU = {"flat": 1500, "vlan": 1500, "vxlan": 1450, "local": 1500}


@dataclass(frozen=True)
class Segment:
    """A network's segment as the API shows it (``provider:*``)."""

    network_type: str
    physical_network: str | None
    segmentation_id: int | None

    @property
    def key(self) -> tuple[str, str, int]:
        return (self.network_type, self.physical_network or "", self.segmentation_id or 0)


def _used(session: Session, network_type: str, physnet: str) -> set[int]:
    rows = session.execute(
        select(SegmentAllocation.segmentation_id).where(
            SegmentAllocation.network_type == network_type, SegmentAllocation.physical_network == physnet
        )
    )
    return {row[0] for row in rows}


def _first_free(used: set[int], ranges: list[tuple[int, int]]) -> int | None:
    for low, high in ranges:
        for candidate in range(low, high + 1):
            if candidate not in used:
                return candidate
    return None


def _is_taken(session: Session, segment: Segment) -> bool:
    network_type, physnet, seg_id = segment.key
    return session.get(SegmentAllocation, (network_type, physnet, seg_id)) is not None


def _check_flat(config: Config, physnet: str | None, seg_id: int | None) -> Segment:
    if not physnet:
        raise InvalidInput(error_message="physical_network required for flat provider network")
    if seg_id is not None:
        raise InvalidInput(error_message="segmentation_id specified for flat provider network")
    if not config.flat_allowed(physnet):
        raise InvalidInput(error_message=f"physical_network '{physnet}' unknown for flat provider network")
    return Segment("flat", physnet, None)


def _check_vlan(config: Config, physnet: str | None, seg_id: int | None) -> Segment | None:
    if physnet is not None and physnet not in config.vlan_physnets:
        raise InvalidInput(error_message=f"physical_network '{physnet}' unknown for VLAN provider network")
    if seg_id is not None:
        if not physnet:
            raise InvalidInput(error_message="segmentation_id requires physical_network for VLAN provider network")
        if not VLAN_MIN <= seg_id <= VLAN_MAX:
            raise InvalidInput(error_message=f"segmentation_id out of range ({VLAN_MIN} through {VLAN_MAX})")
        return Segment("vlan", physnet, seg_id)
    return None


def _check_vxlan(physnet: str | None, seg_id: int | None) -> Segment | None:
    if physnet:
        raise InvalidInput(error_message="provider:physical_network specified for vxlan network")
    if seg_id is not None and not VNI_MIN <= seg_id <= VNI_MAX:
        raise InvalidInput(error_message=f"segmentation_id out of range ({VNI_MIN} through {VNI_MAX})")
    return Segment("vxlan", None, seg_id) if seg_id is not None else None


def _allocate_vlan(session: Session, config: Config, physnet: str | None) -> Segment | None:
    for physnet_name in dict.fromkeys(r.physnet for r in config.vlan_ranges if r.has_pool):
        if physnet is not None and physnet_name != physnet:
            continue
        ranges = [
            (r.minimum, r.maximum)
            for r in config.vlan_ranges
            if r.physnet == physnet_name and r.minimum is not None and r.maximum is not None
        ]
        found = _first_free(_used(session, "vlan", physnet_name), ranges)
        if found is not None:
            return Segment("vlan", physnet_name, found)
    return None


def _allocate_vxlan(session: Session, config: Config) -> Segment | None:
    found = _first_free(_used(session, "vxlan", ""), list(config.vni_ranges))
    return Segment("vxlan", None, found) if found is not None else None


def _claim(session: Session, segment: Segment, network_id: str, requested: bool) -> None:
    """Insert the segment's row. A requested segment that is taken is the caller's error (409); an
    allocated one lost a race with a concurrent transaction, and the flush's IntegrityError makes
    :meth:`Database.run` retry the whole transaction, which then picks another id."""
    if segment.network_type == "local":
        return
    if requested and _is_taken(session, segment):
        if segment.network_type == "flat":
            raise FlatNetworkInUse(physical_network=segment.physical_network)
        if segment.network_type == "vlan":
            raise VlanIdInUse(vlan_id=segment.segmentation_id, physical_network=segment.physical_network)
        raise TunnelIdInUse(tunnel_id=segment.segmentation_id)
    network_type, physnet, seg_id = segment.key
    session.add(
        SegmentAllocation(
            network_type=network_type, physical_network=physnet, segmentation_id=seg_id, network_id=network_id
        )
    )
    session.flush()


def _provider(session: Session, config: Config, network_type: str, physnet: str | None, seg_id: int | None) -> Segment:
    if network_type not in config.type_drivers:
        raise InvalidInput(error_message=f"network_type value '{network_type}' not supported")
    if network_type == "flat":
        return _check_flat(config, physnet, seg_id)
    if network_type == "local":
        if physnet or seg_id is not None:
            raise InvalidInput(error_message="physical_network and segmentation_id are not allowed for local")
        return Segment("local", None, None)
    if network_type == "vlan":
        segment = _check_vlan(config, physnet, seg_id) or _allocate_vlan(session, config, physnet)
    else:
        segment = _check_vxlan(physnet, seg_id) or _allocate_vxlan(session, config)
    if segment is None:
        raise NoNetworkAvailable()
    return segment


def _tenant(session: Session, config: Config) -> Segment:
    for network_type in config.tenant_network_types:
        segment: Segment | None = None
        if network_type == "vlan":
            segment = _allocate_vlan(session, config, None)
        elif network_type == "vxlan":
            segment = _allocate_vxlan(session, config)
        elif network_type == "local":
            segment = Segment("local", None, None)
        if segment is not None:
            return segment
    raise NoNetworkAvailable()


def allocate(
    session: Session,
    config: Config,
    network_id: str,
    network_type: str | None,
    physnet: str | None,
    seg_id: int | None,
) -> Segment:
    """Validate the requested provider attributes (or pick a tenant segment) and claim the segment."""
    serialize(session, "segments")
    if network_type is None:
        if physnet is not None or seg_id is not None:
            raise InvalidInput(error_message="network_type required")
        segment = _tenant(session, config)
    else:
        segment = _provider(session, config, network_type, physnet, seg_id)
    _claim(session, segment, network_id, requested=network_type == "flat" or seg_id is not None)
    return segment


def release(session: Session, network_id: str) -> None:
    """Free a deleted network's segment."""
    session.execute(delete(SegmentAllocation).where(SegmentAllocation.network_id == network_id))
