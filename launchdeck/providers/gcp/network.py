"""The network the stack's services and stores share: the project's ``default`` network, and
in the region its ``default`` subnetwork.

What is added to it, only when a project needs it, and kept by destroy since other stacks
use it too:

- private services access (a /16 range reserved for Google's services and a Service
  Networking connection), which Cloud SQL needs for a private address;
- Private Google Access on the subnetwork and a Cloud Router with NAT, which services need
  when they call an internal-only service: Cloud Run takes a request as internal only if it
  came through the network, so such callers send all their traffic into it (Direct VPC
  egress, all traffic), and from there reach the internet through NAT.
"""

from __future__ import annotations

from dataclasses import dataclass

from launchdeck.engine import poll
from launchdeck.errors import ProviderError
from launchdeck.providers.gcp import compute, names
from launchdeck.providers.gcp.api import Gcp

NETWORK = "default"
SUBNETWORK = "default"


@dataclass(frozen=True)
class Network:
    name: str = NETWORK
    subnetwork: str = SUBNETWORK
    subnetwork_link: str = ""
    """The subnetwork's self link, as ``lookup`` read it (none read when nothing needs it)."""
    private_google_access: bool = False

    def link(self, gcp_project: str) -> str:
        return f"projects/{gcp_project}/global/networks/{self.name}"


async def lookup(gcp: Gcp, choice: str, *, needed: bool = True) -> Network:
    """The network a deploy uses; says clearly what is missing without changing anything. A
    project whose services reach nothing through the network does not need Compute at all."""
    if choice != "default":
        raise ProviderError(
            f"the {choice} network is not available on gcp yet",
            provider="gcp",
            hint="Deploy with the default network (the project's `default` VPC).",
        )
    if not needed:
        return Network()
    found = await gcp.maybe(
        "compute.Subnetworks", "get", project=gcp.project, region=gcp.region, subnetwork=SUBNETWORK
    )
    if found is None:
        raise ProviderError(
            f"the project has no `{NETWORK}` network with a subnetwork in {gcp.region}",
            provider="gcp",
            hint=f"Create it (`gcloud compute networks create {NETWORK} --subnet-mode=auto --project "
            f"{gcp.project}`), then deploy again.",
        )
    return Network(subnetwork_link=found.self_link, private_google_access=found.private_ip_google_access)


async def private_services_access(gcp: Gcp, network: Network, project_number: str, interval: float) -> None:
    """A range reserved for Google's services in the network, peered with them (for Cloud SQL)."""
    from google.cloud import compute_v1 as c

    link = network.link(gcp.project)
    await compute.insert(
        gcp,
        "GlobalAddresses",
        "address",
        c.Address(
            name=names.PEERING_RANGE,
            purpose="VPC_PEERING",
            address_type="INTERNAL",
            prefix_length=16,
            network=link,
            description="Made by launchdeck: private addresses of Google's managed services",
            labels=dict(names.SHARED),
        ),
    )
    numbered = f"projects/{project_number}/global/networks/{network.name}"
    base = "/v1/services/servicenetworking.googleapis.com/connections"
    listed = await gcp.rest("servicenetworking", "GET", base, params={"network": numbered})
    if listed and listed.get("connections"):
        return  # peered already (by us or by whoever set up the network): Cloud SQL can use it
    operation = await gcp.rest(
        "servicenetworking",
        "POST",
        base,
        body={"network": numbered, "reservedPeeringRanges": [names.PEERING_RANGE]},
    )

    async def done() -> bool | None:
        current = await gcp.rest("servicenetworking", "GET", f"/v1/{operation['name']}")
        if current.get("error"):
            raise ProviderError(
                f"could not set up private services access: {current['error'].get('message')}",
                provider="gcp",
                hint="Check the network's peerings in the VPC console, then deploy again.",
            )
        return True if current.get("done") else None

    if not operation.get("done") and await poll.until(done, interval=interval, timeout=900) is None:
        raise ProviderError(
            "private services access is still being set up",
            provider="gcp",
            hint="Deploy again in a few minutes to keep waiting.",
        )


async def internal_calls(gcp: Gcp, network: Network) -> None:
    """Private Google Access on the subnetwork and a NAT for it, so that services sending all
    their traffic into the network reach both internal services and the internet (``network``
    as ``lookup`` found it, needed)."""
    from google.cloud import compute_v1 as c

    if not network.private_google_access:
        op = await gcp.call(
            "compute.Subnetworks",
            "set_private_ip_google_access",
            project=gcp.project,
            region=gcp.region,
            subnetwork=network.subnetwork,
            subnetworks_set_private_ip_google_access_request_resource=c.SubnetworksSetPrivateIpGoogleAccessRequest(
                private_ip_google_access=True
            ),
        )
        await gcp.wait(op, what="turn on Private Google Access", api="compute")
    nat = c.RouterNat(
        name="launchdeck",
        nat_ip_allocate_option="AUTO_ONLY",
        source_subnetwork_ip_ranges_to_nat="LIST_OF_SUBNETWORKS",
        subnetworks=[
            c.RouterNatSubnetworkToNat(
                name=network.subnetwork_link, source_ip_ranges_to_nat=["ALL_IP_RANGES"]
            )
        ],
    )
    router = c.Router(
        name=names.ROUTER,
        network=network.link(gcp.project),
        nats=[nat],
        description="Made by launchdeck: internet for services sending all traffic into the network",
    )
    await compute.insert(gcp, "Routers", "router", router, region=gcp.region)
