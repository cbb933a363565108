"""Sample trunks shared by the provisioning tests."""

from __future__ import annotations

from provisioning.models import InboundRoute, Trunk

REGISTRATION_TRUNK = Trunk(
    id="3f0c9a52-6a7e-4c1b-9d38-2b51f0e8a001",
    tenant_id="tenant-acme",
    name="Acme SIP (main)",
    kind="registration",
    host="sip.acme.example",
    transport="udp",
    username="123456",
    password='s3cr=t,"x" y!',
    from_user="123456",
    from_domain="acme.example",
    codecs=("alaw", "ulaw"),
    dtmf_mode="rfc4733",
    max_cps=2.0,
    max_calls=30,
    inbound_routes=(
        InboundRoute(did="+15551234567", agent_id="agent-1"),
        InboundRoute(did="+15551234568", agent_id="agent-2"),
    ),
)

IP_TRUNK = Trunk(
    id="42",
    tenant_id="tenant-acme",
    name="Carrier / IP",
    kind="ip",
    host="2001:db8::10",
    port=5061,
    transport="tls",
    codecs=("ulaw", "g722"),
    dtmf_mode="info",
    inbound_routes=(InboundRoute(did="4930123456", agent_id="agent-3"),),
    identify_match=("203.0.113.0/24", "198.51.100.7", "2001:db8:1::5"),
)
