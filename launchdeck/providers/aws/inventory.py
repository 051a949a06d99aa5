"""What a (project, stack) owns in AWS, as the Resource Groups Tagging API finds it by tags."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from launchdeck.providers.aws import names
from launchdeck.providers.aws.api import Aws, parallel

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


async def stack_names(aws: Aws, project: str, stack: str) -> names.Names:
    """The names the (project, stack) has: those a first deploy gives now, unless the stack was
    deployed before marks (``names``' docstring) and has its roles or namespace under the
    names it had then. Its marked ones, once it has them, are kept whatever else appears (an
    older release deploying the stack again, say). Nothing is written: every command asks AWS
    the same way and finds the same answer, and a teardown removes what either named."""
    fresh, *earlier = names.Names.every(project, stack)
    if not earlier:
        return fresh
    marked, before = await parallel(lambda: _made(aws, fresh), lambda: _made(aws, earlier[0]))
    return earlier[0] if before and not marked else fresh


async def _made(aws: Aws, named: names.Names) -> bool:
    """Whether the stack has its tasks' start role or its namespace under these names:
    a deploy's first step makes both, before any service, store or load balancer."""

    async def role() -> bool:
        found = await aws.maybe("iam", "get_role", ("NoSuchEntity",), RoleName=named.role("exec"))
        return bool(found) and names.owned(names.tag_dict(found["Role"].get("Tags")),
                                           named.project, named.stack)

    async def namespace() -> bool:
        return await find_namespace(aws, named) is not None

    return any(await parallel(role, namespace))


async def find_namespace(aws: Aws, named: names.Names, *,
                         refuse: bool = False) -> dict[str, Any] | None:
    """The stack's Cloud Map namespace (``Id``, ``Arn``, ``Name`` ...), found by the name
    ``named`` gives it, if it exists and carries the stack's tags. One of that name that is not
    the stack's is left alone, or stops a deploy (``refuse``): its services are another's."""
    project, stack, wanted = named.project, named.stack, named.namespace()
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
