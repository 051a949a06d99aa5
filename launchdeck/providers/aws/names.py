"""Names and tags of what launchdeck creates in AWS.

Tags decide ownership (``launchdeck:project`` and ``launchdeck:stack`` on everything); names
only have to be unique and valid. Compose allows names AWS refuses (``api.v1``, ``Web``, a
project called ``2048-game``), so every name is made here against the rule AWS documents
for it: a name that already follows the rule is used as it is, and any other is cleaned to
the rule and given a short digest of the full name, so that two different compose names
never meet in one AWS name. ``problems`` checks a whole project before anything is created.

A stack's names (``Names``) join its project, its stack and what the name is for with dashes,
and a project or stack may hold dashes itself: project ``a-b`` stack ``c`` and project ``a``
stack ``b-c`` would both make ``ld-a-b-c``. So a stack whose project or stack has a dash gets,
when it is first deployed, a mark after the two: six hex digits of sha256 of
``project NUL stack`` (``ld-a-b-c-695274`` and ``ld-a-b-c-02654a``). A stack of plain names
(no dash in either) keeps the names it always had, and so does a stack deployed before the
mark existed (``inventory.stack_names`` finds which a stack has; names are never changed under
a stack, since AWS renames none of these things). Why no two stacks meet:

- Two plain stacks: a name made as it is begins ``project-stack-`` (after ``ld-`` or
  ``launchdeck-``), and with no dash in either, its first two fields say whose it is.
- A marked stack and any other: a marked name made as it is carries the mark of its pair right
  after the pair; another stack's name is the same text only if that stack's own names spell
  this mark out (a service called ``c-695274-web``) or two pairs of the same join draw the same
  mark, both 1 in 16.7 million, the odds the digests below already take.
- Cleaning and cutting (ELB's 32 characters and dashes only, the stores' lowercase letter-first
  identifiers with no ``--``, ECS's 200, IAM's 64) keep the digest of the full name, mark and
  all, in the name they make: a cut name meets another only if those six digits do. The mark
  is hex (letters and digits), so it is valid everywhere a name is, and puts no ``--`` in one.

Paths that separate with ``/`` or ``.`` (SSM parameters, log groups, ECR repositories, the
Docker Hub policy) say where project ends and stack begins already: they stay module functions
of project and stack, the same for every stack.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Collection
from dataclasses import dataclass

from launchdeck.engine.marks import StackNames, foreign

PROJECT = "launchdeck:project"
STACK = "launchdeck:stack"
SERVICE = "launchdeck:service"
ETAG = "launchdeck:etag"
HASH = "launchdeck:hash"
"""Digest of what was last applied to a resource; equal digests mean nothing to do."""
REVISION = "launchdeck:revision"
"""On an ECS service: the task definition (``family:7``) its hash was applied with. When the
circuit breaker rolls that deployment back, the service runs another one though its hash is new."""
ROLE = "launchdeck:role"
SCALING = "launchdeck:scaling"
"""On an ECS service that follows the load: its range and CPU target (``1-10@50``)."""
"""What a security group is for: alb, members, service, store."""
CLUSTER = "launchdeck"
CODEBUILD = "launchdeck-build"
PARAMETERS = "/launchdeck"
_DIGEST = 6
"""Hex digits of the full name kept in a cleaned one: enough to tell a project's names apart."""


@dataclass(frozen=True)
class Rule:
    """What AWS accepts for one kind of name, and how to bring any text within it."""

    pattern: re.Pattern[str]
    limit: int
    clean: Callable[[str], str]

    def valid(self, name: str) -> bool:
        return len(name) <= self.limit and self.pattern.fullmatch(name) is not None

    def fit(self, full: str) -> str:
        """``full`` if valid, else cleaned, cut, and marked with a digest of ``full``."""
        if self.valid(full):
            return full
        digest = hashlib.sha256(full.encode()).hexdigest()[:_DIGEST]
        stem = self.clean(full)[:self.limit - _DIGEST - 1].rstrip("-_.")
        name = f"{stem}-{digest}" if stem else self.clean(f"x{digest}")
        if not self.valid(name):  # a rule whose cleaning cannot reach it: a bug here
            raise ValueError(f"cannot make a valid name from {full!r}")
        return name


def _cleaner(disallowed: str, *, lower: bool = False, letter_first: bool = False) -> Callable[[str], str]:
    """Replace what the rule disallows by ``-``, one at a time, and trim dashes at the ends."""

    def clean(text: str) -> str:
        text = text.lower() if lower else text
        text = re.sub(r"-+", "-", re.sub(disallowed, "-", text)).strip("-")
        if letter_first and not text[:1].isalpha():
            text = f"x{text}"
        return text

    return clean


# Load balancer and target group names: "This name must be unique per region per account,
# can have a maximum of 32 characters, must contain only alphanumeric characters or hyphens,
# and must not begin or end with a hyphen."
ELB = Rule(re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"), 32, _cleaner(r"[^A-Za-z0-9-]"))
# ECS service names and task definition families: "Up to 255 letters (uppercase and
# lowercase), numbers, underscores, and hyphens are allowed." Container names: the same.
ECS = Rule(re.compile(r"[A-Za-z0-9_-]+"), 255, _cleaner(r"[^A-Za-z0-9_-]"))
# RDS DB instance identifiers: "Must contain from 1 to 63 letters, numbers, or hyphens. First
# character must be a letter. Can't end with a hyphen or contain two consecutive hyphens."
# ElastiCache replication group ids: the same, "from 1 to 40 alphanumeric characters or
# hyphens"; both are stored in lowercase, so lowercase is what two names must differ in.
STORE = Rule(re.compile(r"[a-z](?:-?[a-z0-9])*"), 40, _cleaner(r"[^a-z0-9-]", lower=True, letter_first=True))
# ECS Service Connect discoveryName: "The name can contain up to 64 characters. The name can
# include lowercase letters, numbers, underscores (_), and hyphens (-). The name can't start
# with a hyphen." Port mapping names follow the same rule.
DISCOVERY = Rule(re.compile(r"[a-z0-9_][a-z0-9_-]*"), 64, _cleaner(r"[^a-z0-9_-]", lower=True))
# ServiceConnectClientAlias dnsName: "The name can include up to 127 characters. The name can
# include lowercase letters, numbers, underscores (_), hyphens (-), and periods (.). The name
# can't start with a hyphen."
DNS_ALIAS = re.compile(r"[a-z0-9_.][a-z0-9_.-]{0,126}")
# ECR repository names: "The repository name must start with a letter and can only contain
# lowercase letters, numbers, hyphens, underscores, periods and forward slashes", as the
# pattern (?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*, 2 to 256 long.
REPOSITORY = Rule(re.compile(r"(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*"), 256,
                  lambda text: "/".join(re.sub(r"[._-]*[^a-z0-9]+", "-", part.lower()).strip("-")
                                        for part in text.split("/")))
# IAM role names: "up to 64 characters. Valid characters are upper and lowercase alphanumeric
# characters with no spaces. You can also include any of the following characters: _+=,.@-"
IAM = Rule(re.compile(r"[\w+=,.@-]+"), 64, _cleaner(r"[^\w+=,.@-]"))
# Cloud Map HTTP namespace names: "^[0-9A-Za-z_-]{1,1024}$" (kept to 64 for readability).
NAMESPACE = Rule(re.compile(r"[0-9A-Za-z_-]+"), 64, _cleaner(r"[^0-9A-Za-z-]"))
# EC2 security group names: "Up to 255 characters in length ... a-z, A-Z, 0-9, spaces, and
# ._-:/()#,@[]+=&;{}!$*"; they "cannot start with sg-".
SECURITY_GROUP = Rule(re.compile(r"(?!sg-)[A-Za-z0-9 ._\-:/()#,@\[\]+=&;{}!$*]+"), 255,
                      _cleaner(r"[^A-Za-z0-9-]"))
# RDS DB snapshot identifiers: "Must contain from 1 to 255 letters, numbers, or hyphens.
# First character must be a letter. Can't end with a hyphen or contain two consecutive hyphens."
SNAPSHOT = Rule(re.compile(r"[A-Za-z](?:-?[A-Za-z0-9])*"), 255,
                _cleaner(r"[^A-Za-z0-9-]", letter_first=True))


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


def refuse_foreign(what: str, name: str, tags: dict[str, str], project: str, stack: str) -> None:
    """Stop when something found by the name a deploy gives is not this stack's (its
    launchdeck project and stack tags differ): it is adopted only when they match."""
    if owned(tags, project, stack):
        return
    owner = (tags[PROJECT], tags.get(STACK, "?")) if PROJECT in tags else None
    raise foreign(what, name, owner, project, stack, provider="aws")


def parameter(project: str, stack: str, name: str) -> str:
    """The SSM parameter holding config ``name``."""
    return f"{PARAMETERS}/{project}/{stack}/{name}"


def derived_parameter(project: str, stack: str, service: str, key: str) -> str:
    """The SSM parameter for an environment value that mixes config into other text.

    ``.derived`` cannot be a config name, so these never mix with what `config ls` shows.
    """
    return f"{PARAMETERS}/{project}/{stack}/.derived/{service}/{key}"


class Names(StackNames):
    """Every name a (project, stack) gives what it makes in AWS that must be unique beyond it:
    ``project-stack`` joined with what the name is for, and ``mark`` after the two when the
    stack has one (see the module's docstring)."""

    @property
    def _join(self) -> str:
        return f"{self.project}-{self.stack}-{self.mark}" if self.mark else f"{self.project}-{self.stack}"

    def service(self, service: str) -> str:
        """The ECS service and task definition family (the cluster is shared)."""
        return Rule(ECS.pattern, 200, ECS.clean).fit(f"{self._join}-{service}")

    def store(self, service: str) -> str:
        """An RDS / ElastiCache / DocumentDB cluster identifier: a letter first, letters,
        digits and single dashes."""
        return STORE.fit(f"{self._join}-{service}")

    def store_instance(self, service: str) -> str:
        """The one instance of a DocumentDB cluster (the cluster is ``store``). DocumentDB
        instance identifiers: "Must contain from 1 to 63 letters, numbers, or hyphens. The first
        character must be a letter. Cannot end with a hyphen or contain two consecutive hyphens."
        (a ``store`` has at most 40)."""
        return instance_of(self.store(service))

    def load_balancer(self) -> str:
        return ELB.fit(f"ld-{self._join}")

    def target_group(self, service: str, port: int) -> str:
        return ELB.fit(f"ld-{self._join}-{service}-{port}")

    def role(self, kind: str) -> str:
        """The IAM role the stack's tasks start with (``exec``) or run as (``task``)."""
        return IAM.fit(f"ld-{self._join}-{kind}")

    def namespace(self) -> str:
        """The Cloud Map namespace Service Connect resolves the stack's service names in."""
        return NAMESPACE.fit(f"launchdeck-{self._join}")

    def security_group(self, role_key: str) -> str:
        return SECURITY_GROUP.fit(f"ld-{self._join}-{role_key}")


def instance_of(cluster: str, number: int = 1) -> str:
    """Instance ``number`` of DocumentDB cluster ``cluster`` (1 is the primary it is made with)."""
    return f"{cluster}-{number}"


def container(service: str) -> str:
    """The container's name in its task definition (one container per task)."""
    return ECS.fit(service)


def port_name(port: int) -> str:
    """The name of a container port, which Service Connect refers to."""
    return f"p{port}"


def discovery(service: str, port: int) -> str:
    """The Cloud Map service ECS makes for one port of a service (unique in the namespace)."""
    return DISCOVERY.fit(f"{service}-{port}")


def dns_alias(service: str) -> str:
    """The name other services reach ``service`` by: its compose name, as DNS spells it."""
    return service.lower()


def repository(project: str, stack: str, service: str) -> str:
    return REPOSITORY.fit(f"launchdeck/{project}/{stack}/{service}")


def hub_policy(project: str, stack: str) -> str:
    """The shared CodeBuild role's inline policy that reads the stack's Docker Hub credentials
    (``.`` is in neither a project nor a stack name, so no two stacks share it)."""
    return IAM.fit(f"dockerhub.{project}.{stack}")


HUB_POLICIES = "dockerhub."
"""How the names of those policies start."""


def snapshot(project: str, service: str, snapshot_id: str) -> str:
    """A database's final snapshot: unique by ``snapshot_id``, so cleaned without a digest."""
    return SNAPSHOT.clean(f"{project}-{service}-postgres-{snapshot_id}-final-snapshot")[:SNAPSHOT.limit]


def cluster_snapshot(project: str, service: str, snapshot_id: str) -> str:
    """A DocumentDB cluster's final snapshot. FinalDBSnapshotIdentifier: "Must be from 1 to 255
    letters, numbers, or hyphens. The first character must be a letter. Cannot end with a
    hyphen or contain two consecutive hyphens." (the RDS snapshot rule)."""
    name = SNAPSHOT.clean(f"{project}-{service}-mongodb-{snapshot_id}-final-snapshot")
    return name[:SNAPSHOT.limit].rstrip("-")


def idempotency_token(project: str, stack: str, domain: str, etag: str) -> str:
    """ACM's idempotency token for one deploy's certificate request for ``domain``.

    ACM answers every request with the same token within an hour with the first one's
    certificate: a token per stack would give a second domain the first's certificate, and
    one per domain would give a deploy right after ``compose down`` the deleted certificate.
    Within one deploy, a retried request still gets the same one."""
    return hashlib.sha256(f"{project}/{stack}/{domain}/{etag}".encode()).hexdigest()[:32]


def log_group(project: str, stack: str) -> str:
    return f"/launchdeck/{project}/{stack}"


def bucket(account: str, region: str) -> str:
    """The region's shared bucket for build contexts and deployment records."""
    return f"launchdeck-{account}-{region}"


@dataclass(frozen=True)
class Problem:
    """A compose name that cannot become a working AWS name."""

    service: str | None
    message: str
    fix: str


def problems(stack: Names, services: list[str], ports: dict[str, list[int]],
             clusters: Collection[str] = ()) -> list[Problem]:
    """Every clash or invalid name among what ``services`` (and their ``ports``) become in
    ``stack``; ``clusters`` are those that become a DocumentDB cluster, whose instance shares
    the name space of the RDS instances. (Two services clash or not alike under either of a
    stack's names: both put the service after the same stack part, and cleaning keeps a digest
    of each.)"""
    out: list[Problem] = []
    kinds: dict[str, Callable[[str], list[str]]] = {
        "ECS service": lambda s: [stack.service(s)],
        "store identifier": lambda s: [stack.store(s)],
        **({"database instance": lambda s: [stack.store_instance(s) if s in clusters
                                            else stack.store(s)]} if clusters else {}),
        "image repository": lambda s: [repository(stack.project, stack.stack, s)],
        "Service Connect name": lambda s: [discovery(s, p) for p in ports.get(s, [])],
        "service address": lambda s: [dns_alias(s)] if ports.get(s) else [],
        "target group": lambda s: [stack.target_group(s, p) for p in ports.get(s, [])],
    }
    for kind, make in kinds.items():
        seen: dict[str, str] = {}
        for service in services:
            for name in make(service):
                if name in seen and seen[name] != service:
                    out.append(Problem(service, f"services {seen[name]!r} and {service!r} would share "
                                                f"the {kind} {name!r}",
                                       "Rename one of the two services."))
                seen.setdefault(name, service)
    for service in services:
        if ports.get(service) and not DNS_ALIAS.fullmatch(dns_alias(service)):
            out.append(Problem(service, f"{service!r} cannot be a Service Connect DNS name (up to 127 "
                                        "lowercase letters, digits, '_', '-' and '.', not starting "
                                        "with '-')", "Rename the service."))
    return out
