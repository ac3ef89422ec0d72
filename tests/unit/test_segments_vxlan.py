"""VNI allocation (core/resources/segments.py) against a real SQLite database: tenant vxlan networks get the
lowest free VNI of ``[ml2_type_vxlan] vni_ranges``, a freed VNI is reused, an admin's explicit VNI is checked,
and concurrent allocators never share a VNI."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from floatnet import config as fconfig
from floatnet.core import errors
from floatnet.core.resources import segments
from floatnet.db.migrate import upgrade
from floatnet.db.models import Network
from floatnet.db.session import Database

CONFIG = fconfig.Config(type_drivers=("vlan", "vxlan"), tenant_network_types=("vxlan",), vni_ranges=((5, 6), (9, 9)))


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'unit.db'}")
    upgrade(database.engine)
    yield database
    database.dispose()


def _allocate(
    db: Database, network_type: str | None = None, seg_id: int | None = None, physnet: str | None = None
) -> tuple[str, segments.Segment]:
    """A new network row and its segment, in one transaction (as the network service does)."""
    network_id = str(uuid.uuid4())

    def work(session: Session) -> tuple[str, segments.Segment]:
        session.add(Network(id=network_id, project_id="p", name=""))
        session.flush()
        return network_id, segments.allocate(session, CONFIG, network_id, network_type, physnet, seg_id)

    return db.run(work)


def test_tenant_vnis_in_order_across_ranges_then_exhausted(db: Database) -> None:
    assert [_allocate(db)[1].segmentation_id for _ in range(3)] == [5, 6, 9]
    assert {_allocate(db, "vxlan", 7)[1].segmentation_id} == {7}  # an admin's VNI outside the pool is fine
    with pytest.raises(errors.NoNetworkAvailable):
        _allocate(db)


def test_a_released_vni_is_reused(db: Database) -> None:
    first, _ = _allocate(db)
    _allocate(db)
    db.run(lambda s: segments.release(s, first))
    assert _allocate(db)[1].segmentation_id == 5


def test_explicit_vni_checked(db: Database) -> None:
    assert _allocate(db, "vxlan", 9)[1] == segments.Segment("vxlan", None, 9)
    with pytest.raises(errors.TunnelIdInUse):
        _allocate(db, "vxlan", 9)
    with pytest.raises(errors.InvalidInput, match="out of range"):
        _allocate(db, "vxlan", 2**24)
    with pytest.raises(errors.InvalidInput, match="physical_network"):
        _allocate(db, "vxlan", None, "public_eth1")
    assert _allocate(db, "vxlan")[1].segmentation_id == 5  # no VNI given: from the pool


def test_concurrent_allocations_never_share_a_vni(db: Database) -> None:
    found: list[int | None] = []
    failures: list[Exception] = []

    def one() -> None:
        try:
            found.append(_allocate(db)[1].segmentation_id)
        except Exception as exc:  # collected: the assertion below names it
            failures.append(exc)

    threads = [threading.Thread(target=one) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == [] and sorted(v for v in found if v is not None) == [5, 6, 9]
