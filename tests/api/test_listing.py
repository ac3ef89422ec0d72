"""List semantics shared by all resources: filters, fields, sorting, paging, tags, documents."""

from __future__ import annotations

from typing import Any

from tests.api.helpers import network, port, subnet


def _names(response: Any, key: str = "networks") -> list[str]:
    assert response.status_code == 200, response.text
    return [item["name"] for item in response.json()[key]]


def test_filters_repeated_means_or_and_booleans(app_client: Any) -> None:
    for name in ("a", "b", "c"):
        network(app_client, name=name, admin_state_up=name != "c")
    assert sorted(_names(app_client.get("/v2.0/networks?name=a&name=c"))) == ["a", "c"]
    assert _names(app_client.get("/v2.0/networks?admin_state_up=false")) == ["c"]
    assert _names(app_client.get("/v2.0/networks?admin_state_up=False&name=a")) == []
    assert _names(app_client.get("/v2.0/networks?provider:segmentation_id=101")) == ["b"]
    unknown = app_client.get("/v2.0/networks?no_such_attribute=1")  # filter-validation: 400, not an empty list
    assert unknown.status_code == 400 and "no_such_attribute" in unknown.json()["NeutronError"]["message"]


def test_fixed_ips_filter_and_fields(app_client: Any) -> None:
    net = network(app_client)
    subnet(app_client, net["id"], "10.0.0.0/24", enable_dhcp=False)
    first = port(app_client, net["id"], name="p1")
    port(app_client, net["id"], name="p2")
    found = app_client.get("/v2.0/ports?fixed_ips=ip_address%3D10.0.0.2").json()["ports"]
    assert [p["id"] for p in found] == [first["id"]]
    fields = app_client.get("/v2.0/ports?fields=id&fields=name&sort_key=name").json()["ports"]
    assert fields == [{"id": first["id"], "name": "p1"}, {"id": fields[1]["id"], "name": "p2"}]
    shown = app_client.get(f"/v2.0/ports/{first['id']}?fields=mac_address").json()["port"]
    assert shown == {"mac_address": first["mac_address"]}


def test_sorting_and_paging_with_links(app_client: Any) -> None:
    for name in ("d", "b", "e", "a", "c"):
        network(app_client, name=name)
    assert _names(app_client.get("/v2.0/networks?sort_key=name&sort_dir=desc")) == ["e", "d", "c", "b", "a"]
    page = app_client.get("/v2.0/networks?sort_key=name&sort_dir=asc&limit=2").json()
    assert [n["name"] for n in page["networks"]] == ["a", "b"]
    next_link = [link for link in page["networks_links"] if link["rel"] == "next"][0]["href"]
    seen = ["a", "b"]
    while next_link:
        body = app_client.get(next_link).json()
        seen += [n["name"] for n in body["networks"]]
        links = {link["rel"]: link["href"] for link in body.get("networks_links", [])}
        assert "previous" in links
        next_link = links.get("next")
    assert seen == ["a", "b", "c", "d", "e"]
    assert "networks_links" not in app_client.get("/v2.0/networks").json()


def test_tag_filters_and_tag_api(app_client: Any) -> None:
    red = network(app_client, name="red", tags=["red", "warm"])
    network(app_client, name="blue", tags=["blue"])
    network(app_client, name="plain")
    assert _names(app_client.get("/v2.0/networks?tags=red,warm")) == ["red"]
    assert sorted(_names(app_client.get("/v2.0/networks?tags-any=red,blue"))) == ["blue", "red"]
    assert sorted(_names(app_client.get("/v2.0/networks?not-tags=red"))) == ["blue", "plain"]
    assert _names(app_client.get("/v2.0/networks?not-tags-any=red,blue")) == ["plain"]
    url = f"/v2.0/networks/{red['id']}/tags"
    assert app_client.put(url, json={"tags": ["x", "y"]}).json() == {"tags": ["x", "y"]}
    assert app_client.put(f"{url}/z").status_code == 201
    assert app_client.get(f"{url}/z").status_code == 204
    assert app_client.delete(f"{url}/x").status_code == 204
    assert app_client.get(url).json() == {"tags": ["y", "z"]}
    assert app_client.get(f"{url}/x").status_code == 404
    assert app_client.delete(url).status_code == 204
    shown = app_client.get(f"/v2.0/networks/{red['id']}").json()["network"]
    assert shown["tags"] == [] and shown["revision_number"] == 4


def test_version_and_extension_documents(app_client: Any) -> None:
    collections = {r["collection"] for r in app_client.get("/v2.0").json()["resources"]}
    assert {"networks", "subnets", "ports"} <= collections
    aliases = {e["alias"] for e in app_client.get("/v2.0/extensions").json()["extensions"]}
    assert {"provider", "external-net", "binding", "standard-attr-tag", "project-id"} <= aliases
    shown = app_client.get("/v2.0/extensions/provider").json()["extension"]
    assert shown["alias"] == "provider" and shown["name"]


def test_json_format_suffix(app_client: Any) -> None:
    net = network(app_client, name="suffixed")
    assert _names(app_client.get("/v2.0/networks.json")) == ["suffixed"]
    assert app_client.get(f"/v2.0/networks/{net['id']}.json").json()["network"]["id"] == net["id"]


def test_port_pages_cover_every_port_once(app_client: Any) -> None:
    net = network(app_client)
    subnet(app_client, net["id"], "10.0.0.0/24", enable_dhcp=False)
    created = app_client.post("/v2.0/ports", json={"ports": [{"network_id": net["id"]} for _ in range(7)]})
    expected = sorted(p["id"] for p in created.json()["ports"])
    seen: list[str] = []
    url: str | None = "/v2.0/ports?limit=3"
    pages = 0
    while url:
        body = app_client.get(url).json()
        seen += [p["id"] for p in body["ports"]]
        url = {link["rel"]: link["href"] for link in body.get("ports_links", [])}.get("next")
        pages += 1
    assert seen == expected and pages == 3
    filtered = app_client.get("/v2.0/ports", params={"limit": 2, "tags-any": "none"}).json()
    assert filtered["ports"] == []
