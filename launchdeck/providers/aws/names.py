"""Names and tags of what launchdeck creates in AWS.

Tags decide ownership (``launchdeck:project`` and ``launchdeck:stack`` on everything);
names only have to be unique and within each service's limits, so long ones are cut and
given a short digest of the full name.
"""

from __future__ import annotations

import hashlib
import re

PROJECT = "launchdeck:project"
STACK = "launchdeck:stack"
SERVICE = "launchdeck:service"
ETAG = "launchdeck:etag"
HASH = "launchdeck:hash"
"""Digest of what was last applied to a resource; equal digests mean nothing to do."""
ROLE = "launchdeck:role"
"""What a security group is for: alb, members, service, store."""
CLUSTER = "launchdeck"
CODEBUILD = "launchdeck-build"
PARAMETERS = "/launchdeck"
LOCKS = "/launchdeck-locks"


def tags(project: str, stack: str, **extra: str) -> dict[str, str]:
    keys = {"service": SERVICE, "etag": ETAG, "hash": HASH, "role": ROLE}
    out = {PROJECT: project, STACK: stack}
    out.update({keys[k]: v for k, v in extra.items() if v is not None})
    return out


def tag_list(tags: dict[str, str], key: str = "Key", value: str = "Value") -> list[dict[str, str]]:
    """Tags in the list form most AWS APIs take (ECS spells the keys in lower case)."""
    return [{key: k, value: v} for k, v in sorted(tags.items())]


def tag_dict(tags: list[dict[str, str]] | None) -> dict[str, str]:
    out = {}
    for tag in tags or []:
        k = tag.get("Key", tag.get("key"))
        v = tag.get("Value", tag.get("value", ""))
        if k is not None:
            out[k] = v
    return out


def owned(found: dict[str, str], project: str, stack: str) -> bool:
    return found.get(PROJECT) == project and found.get(STACK) == stack


def short(*parts: str, limit: int, alphabet: str = r"[^a-zA-Z0-9-]") -> str:
    """``parts`` joined by dashes, cleaned to ``alphabet`` and cut to ``limit`` with a digest."""
    full = "-".join(parts)
    clean = re.sub(r"-+", "-", re.sub(alphabet, "-", full)).strip("-")
    if len(clean) <= limit and clean == full:
        return clean
    digest = hashlib.sha256(full.encode()).hexdigest()[:6]
    return f"{clean[:limit - 7].rstrip('-')}-{digest}"


def parameter(project: str, stack: str, name: str) -> str:
    """The SSM parameter holding config ``name``."""
    return f"{PARAMETERS}/{project}/{stack}/{name}"


def derived_parameter(project: str, stack: str, service: str, key: str) -> str:
    """The SSM parameter for an environment value that mixes config into other text.

    ``.derived`` cannot be a config name, so these never mix with what `config ls` shows.
    """
    return f"{PARAMETERS}/{project}/{stack}/.derived/{service}/{key}"


def resource_id(project: str, stack: str, service: str) -> str:
    """An RDS / ElastiCache identifier: a letter first, letters, digits and single dashes."""
    name = short(project, stack, service, limit=40).lower()
    return name if name[0].isalpha() else f"x{name}"[:40]


def service_name(project: str, stack: str, service: str) -> str:
    """The ECS service and task definition family (the cluster is shared)."""
    return short(project, stack, service, limit=200, alphabet=r"[^a-zA-Z0-9_-]")


def repository(project: str, stack: str, service: str) -> str:
    return f"launchdeck/{project}/{stack}/{short(service, limit=100).lower()}"


def load_balancer(project: str, stack: str) -> str:
    return short("ld", project, stack, limit=32)


def target_group(project: str, stack: str, service: str, port: int) -> str:
    return short("ld", project, stack, service, str(port), limit=32)


def role(project: str, stack: str, kind: str) -> str:
    """The IAM role a stack's tasks start with (``exec``) or run as (``task``)."""
    return short("ld", project, stack, kind, limit=64)


def namespace(project: str, stack: str) -> str:
    """The Cloud Map namespace Service Connect resolves the stack's service names in."""
    return short("launchdeck", project, stack, limit=64)


def log_group(project: str, stack: str) -> str:
    return f"/launchdeck/{project}/{stack}"


def bucket(account: str, region: str) -> str:
    """The region's shared bucket for build contexts and deployment records."""
    return f"launchdeck-{account}-{region}"


def record_key(project: str, stack: str) -> str:
    """Where the last deploy's outcome is kept in the bucket."""
    return f"deployments/{project}/{stack}.json"
