"""What a (project, stack) owns in AWS, as the Resource Groups Tagging API finds it by tags."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from launchdeck.providers.aws import names
from launchdeck.providers.aws.api import Aws

Inventory = dict[str, dict[str, dict[str, str]]]
"""Resource kind (``ecs:service``) -> ARN -> tags."""


def kind(arn: str) -> str:
    """``service:resource-type`` of an ARN, as the tagging API's type filters name them."""
    parts = arn.split(":", 5)
    return f"{parts[2]}:{parts[5].split('/')[0].split(':')[0]}"


TAGS_PER_PAGE = 500
"""Tags one GetResources page may hold, the most it allows ("You can set TagsPerPage to a minimum
of 100 items up to a maximum of 500 items", GetResources, Resource Groups Tagging API
Reference): each resource carries half a dozen of ours, so at 100 a stack of some fifteen
services took a second page, asked after the first."""


async def tagged(aws: Aws, project: str, stack: str, kinds: Sequence[str] = ()) -> Inventory:
    """Everything tagged with the project and stack (only of ``kinds``, when given)."""
    filters = {"ResourceTypeFilters": list(kinds)} if kinds else {}
    found = await aws.pages("resourcegroupstaggingapi", "get_resources", "ResourceTagMappingList",
                            TagFilters=[{"Key": names.PROJECT, "Values": [project]},
                                        {"Key": names.STACK, "Values": [stack]}],
                            TagsPerPage=TAGS_PER_PAGE, **filters)
    out: Inventory = {k: {} for k in kinds}
    for item in found:
        out.setdefault(kind(item["ResourceARN"]), {})[item["ResourceARN"]] = names.tag_dict(item.get("Tags"))
    return out


async def find_namespace(aws: Aws, project: str, stack: str, *,
                         refuse: bool = False) -> dict[str, Any] | None:
    """The stack's Cloud Map namespace (``Id``, ``Arn``, ``Name`` ...), found by the name the
    deploy gives it, if it exists and carries the stack's tags. One of that name that is not the
    stack's is left alone, or stops a deploy (``refuse``): its services are another's."""
    wanted = names.namespace(project, stack)
    found = await aws.pages("servicediscovery", "list_namespaces", "Namespaces",
                            Filters=[{"Name": "TYPE", "Values": ["HTTP"]}])
    namespace = next((n for n in found if n["Name"] == wanted), None)
    if namespace is None:
        return None
    tags = names.tag_dict((await aws("servicediscovery", "list_tags_for_resource",
                                     ResourceARN=namespace["Arn"])).get("Tags"))
    if names.owned(tags, project, stack):
        return namespace
    if refuse:
        names.refuse_foreign("service namespace", wanted, tags, project, stack)
    return None
