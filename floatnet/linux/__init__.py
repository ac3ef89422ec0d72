"""floatnet.linux — the only code that changes the kernel (namespaces, links, OVS, nftables, dnsmasq, conntrack, ARP).

This layer's contract (what it may import, what it owns) is in docs/architecture.md, "Layers".
"""
