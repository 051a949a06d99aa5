"""Names and labels of what launchdeck creates in GCP.

Labels decide ownership (``launchdeck_project`` and ``launchdeck_stack`` on everything that
takes labels); names only have to be unique and within each API's rules, so long ones are
cut and given a short digest of the full name. Label keys use underscores, which every
filter language (Secret Manager, Cloud Logging) reads without quoting.

A stack's names that must be unique in the GCP project (``Names``: its Cloud Run services and
worker pools, runtime service account, load balancer parts and certificates, Memorystore and
Cloud SQL instances, remote repositories) join its project, its stack and what the name is for
with dashes, and a project or stack may hold dashes itself: project ``a-b`` stack ``c`` and
project ``a`` stack ``b-c`` would both make the Cloud Run service ``a-b-c-web``. A project may
also start with a digit, which a name that must start with a letter gets an ``x`` before
(``_letter_first``): project ``1a`` would meet project ``x1a``. So a stack whose project or
stack has a dash, or whose project starts with a digit, gets, when it is first deployed, a mark
after the two: six hex digits of sha256 of ``project NUL stack`` (``a-b-c-695274-web`` and
``a-b-c-02654a-web``). Any other stack (plain) keeps the names it always had, and so does a
stack deployed before the mark existed (``inventory.stack_names`` finds which a stack has;
names are never changed under a stack: GCP renames none of these things). Why no two stacks
meet, given ``short`` (which keeps a name that is valid and short enough as it is, and
otherwise cleans it, cuts it to the limit less seven and ends it with six hex digits of the
full name, mark and all) and ``_letter_first`` (an ``x`` first, then cut to the limit):

- Two plain stacks: a name kept as it is reads ``[ld-]project-stack-what``, and with no dash in
  either and a letter first, its first fields say whose it is. ``_letter_first`` changes no
  plain stack's name (a plain project starts with a letter; ``ld-`` names start with one).
- A marked stack and any other: a name kept as it is carries the pair's mark right after the
  pair; another stack's name is the same text only if that stack's names spell this mark out
  (a service called ``c-695274-web``) or two pairs of the same join draw the same mark, both 1
  in 16.7 million, the odds the digests here already take. An ``x`` put first keeps the rest:
  ``x1a-b-<mark>-web`` is not the plain ``x1a-b-web``, and the cut after it drops at most the
  last character, which in a name kept whole comes after ``project-stack-mark-`` (every name
  that may get an ``x``, the Cloud Run service (49), Memorystore (40) and Cloud SQL (80)
  instances, ends with a service's name), and in a cut one is the digest's last (five left).
- A name ``short`` cleaned or cut ends with the digest of its full text, which differs between
  two stacks as the names kept whole do: it meets another only if those six digits do (or if
  the other's own text spells them out). The account id's 30 characters leave 20 for
  ``project-stack`` beside ``ld-`` and the mark; a longer pair's is cut, and the digest keeps
  it apart. The mark is hex, valid wherever a name is.
- Stacks deployed before marks keep the names they had, so two of them may still meet as they
  did (a deploy then refuses to write into the other's); a marked stack meets neither.

Where a stack's load balancer parts are listed by what their names start with
(``balancer()``), another stack's names may start with it too (``ld-a-b-`` begins those of
project ``a`` stack ``b-be``): ``ingress`` tells them apart by each part's description.

Paths that separate with ``/`` (image paths) or carry a digest of their own (secret ids,
Firestore databases) say where project ends and stack begins already: they stay module
functions of project and stack, the same for every stack. Before writing into a name that
exists (a Cloud Run service, the account, a store, the load balancer's address, a remote
repository), a deploy refuses one that is another stack's (``refuse_foreign``), so even two
marks drawn alike overwrite nothing.
"""

from __future__ import annotations

import hashlib
import re
from urllib.parse import quote

from launchdeck.engine.marks import StackNames, foreign

PROJECT = "launchdeck_project"
STACK = "launchdeck_stack"
SERVICE = "launchdeck_service"
ETAG = "launchdeck_etag"
HASH = "launchdeck_hash"
"""Digest of what was last applied to a resource; equal digests mean nothing to do."""
KIND = "launchdeck_kind"
"""What a secret holds: ``config`` (set by the user) or ``derived`` (made by a deploy)."""
ANNOTATION = "launchdeck/service"
"""The Cloud Run annotation holding the compose service's name as written (labels are lowercase)."""
SHARED = {"launchdeck": "shared"}
"""The label of what every project in a GCP project and region shares (kept by destroy)."""
PENDING = "pending"
"""The hash label of a store whose setup (users, databases) is not finished yet."""

REPOSITORY = "launchdeck"
ROUTER = "launchdeck-nat"
PEERING_RANGE = "launchdeck-google-services"
"""The range reserved in the network for Google's managed services (Cloud SQL private IP)."""
BUILDER = "launchdeck-builder"
"""The build service account of a GCP project (shared by its projects and stacks, as the image
repository is)."""
BUILD_ROLES = ("roles/artifactregistry.writer", "roles/logging.logWriter", "roles/storage.objectUser")
"""What a build needs: push to the repository, write its logs, read its context (and write its
log file) in the bucket."""
LLM_ROLE = "roles/aiplatform.user"
INVOKER = "roles/run.invoker"
ACCESSOR = "roles/secretmanager.secretAccessor"


def short(*parts: str, limit: int) -> str:
    """``parts`` joined by dashes, lowercase letters, digits and dashes only, cut to ``limit``
    with a digest of the full name when it had to change."""
    full = "-".join(parts)
    clean = re.sub(r"-+", "-", re.sub(r"[^a-z0-9-]", "-", full.lower())).strip("-")
    if len(clean) <= limit and clean == full:
        return clean
    digest = hashlib.sha256(full.encode()).hexdigest()[:6]
    return f"{clean[: limit - 7].rstrip('-')}-{digest}"


def _letter_first(name: str, limit: int) -> str:
    return name if name[:1].isalpha() else f"x{name}"[:limit].rstrip("-")


def label(value: str) -> str:
    """``value`` as a label value can hold it: lowercase, ``[a-z0-9_-]``, at most 63."""
    clean = re.sub(r"[^a-z0-9_-]", "-", value.lower())
    if len(clean) <= 63 and clean == value:
        return clean
    return f"{clean[:56]}-{hashlib.sha256(value.encode()).hexdigest()[:6]}"


def labels(project: str, stack: str, **extra: str | None) -> dict[str, str]:
    keys = {"service": SERVICE, "etag": ETAG, "hash": HASH, "kind": KIND}
    out = {PROJECT: label(project), STACK: label(stack)}
    out.update({keys[k]: label(v) for k, v in extra.items() if v is not None})
    return out


def owned(found: dict[str, str] | object, project: str, stack: str) -> bool:
    found = dict(found)  # type: ignore[call-overload]
    return found.get(PROJECT) == label(project) and found.get(STACK) == label(stack)


def refuse_foreign(what: str, name: str, labels: dict[str, str] | object, project: str, stack: str) -> None:
    """Stop when something found by the name a deploy gives is not this stack's (its launchdeck
    project and stack labels differ): it is written to only when they match."""
    found = dict(labels)  # type: ignore[call-overload]
    if owned(found, project, stack):
        return
    refuse(what, name, (found[PROJECT], found.get(STACK, "?")) if PROJECT in found else None,
           project, stack)


def refuse(what: str, name: str, owner: tuple[str, str] | None, project: str, stack: str) -> None:
    """The error of a ``what`` called ``name`` that is ``owner``'s (None: not launchdeck's)."""
    raise foreign(what, name, owner, project, stack, provider="gcp")


def account_description(project: str, stack: str) -> str:
    """What the runtime service account of a stack says of itself: a service account takes no
    labels, so this is what says whose it is (``account_owner``)."""
    return f"Runs the Cloud Run services of {project} ({stack}); made by launchdeck"


_ACCOUNT = re.compile(r"Runs the Cloud Run services of (\S+) \((\S+)\); made by launchdeck")


def account_owner(description: str) -> tuple[str, str] | None:
    """The (project, stack) a runtime service account's description names, or None."""
    found = _ACCOUNT.fullmatch(description or "")
    return (found.group(1), found.group(2)) if found else None


def run_url(service_id_: str, project_number: str, region: str) -> str:
    """The deterministic URL Cloud Run gives a service (known before it exists)."""
    return f"https://{service_id_}-{project_number}.{region}.run.app"


def bucket(gcp_project: str, region: str) -> str:
    """The bucket a GCP project and region share for contexts, records, locks and build logs."""
    return _letter_first(short("launchdeck", gcp_project, region, limit=63), 63)


def image_path(project: str, stack: str, service: str) -> str:
    """The image's path in the shared repository (one package per service and stack)."""
    return "/".join(short(part, limit=60) for part in (project, stack, service))


def package(gcp_project: str, region: str, path: str) -> str:
    """The Artifact Registry package of an image path (``/`` escaped as the API wants it)."""
    return f"{repository(gcp_project, region)}/packages/{quote(path, safe='')}"


def repository(gcp_project: str, region: str) -> str:
    return f"projects/{gcp_project}/locations/{region}/repositories/{REPOSITORY}"


def registry(gcp_project: str, region: str) -> str:
    """Where the shared repository's images are pushed and pulled."""
    return f"{region}-docker.pkg.dev/{gcp_project}/{REPOSITORY}"


def _stack_key(project: str, stack: str) -> str:
    # project names may hold dashes and stacks too: a digest keeps (a, b-c) and (a-b, c) apart
    digest = hashlib.sha256("\0".join((project, stack)).encode()).hexdigest()[:6]
    return f"ld-{short(project, limit=60)}-{stack}-{digest}"


def secret_id(project: str, stack: str, name: str) -> str:
    """The Secret Manager secret of config ``name`` (config names keep their case)."""
    return f"{_stack_key(project, stack)}-{name}"


def config_name(project: str, stack: str, secret: str) -> str | None:
    """The config name a secret id stands for, or None if it is not one of this stack's."""
    prefix = f"{_stack_key(project, stack)}-"
    name = secret.rsplit("/", 1)[-1]
    return name[len(prefix) :] if name.startswith(prefix) else None


def derived_secret_id(project: str, stack: str, service: str, key: str) -> str:
    """The secret of an environment value that mixes config into other text. A dash cannot
    be in a config name, so ``derived-...`` never shows up as one. An environment key may hold
    what a secret id may not (``app.url``): it is made safe, with a digest when it changed."""
    return f"{_stack_key(project, stack)}-derived-{short(service, limit=60)}-{_secret_part(key)}"


def _secret_part(text: str, limit: int = 100) -> str:
    """``text`` as a part of a secret id (``[A-Za-z0-9_-]``), at most ``limit`` characters."""
    clean = re.sub(r"[^A-Za-z0-9_-]", "_", text)
    if clean == text and len(clean) <= limit:
        return clean
    return f"{clean[: limit - 7]}-{hashlib.sha256(text.encode()).hexdigest()[:6]}"


FIRESTORE_ID = re.compile(r"^[a-z][a-z0-9-]{2,61}[a-z0-9]$")
"""A Firestore database or user credential id: 4-63 lowercase letters, digits and hyphens, a
letter first, a letter or digit last
(https://cloud.google.com/firestore/docs/reference/rest/v1/projects.databases/create)."""
DATABASE = "launchdeck_database"
"""On a MongoDB store's credential secret: the Firestore database it stands for (a Firestore
database takes no labels, so the secret, made first, is what marks it as the stack's)."""
USER = "launchdeck_user"
"""On a MongoDB store's credential secret: the user credential its password belongs to."""


def firestore_database(project: str, stack: str, service: str) -> str:
    """The Firestore database of a MongoDB store: unique in the GCP project (a digest of the
    project, stack and service keeps ``(a-b, c)`` and ``(a, b-c)`` apart), by Firestore's rules."""
    digest = hashlib.sha256("\0".join((project, stack, service)).encode()).hexdigest()[:6]
    return _letter_first(f"{short(project, stack, service, limit=56).rstrip('-')}-{digest}", 63)


def store_secret_id(project: str, stack: str, service: str) -> str:
    """The secret holding a MongoDB store's generated password (a dash keeps it from ever
    being read as a config name)."""
    return f"{_stack_key(project, stack)}-store-{short(service, limit=60)}"


class Names(StackNames):
    """Every name a (project, stack) gives what it makes in GCP that must be unique beyond it:
    ``project-stack`` joined with what the name is for, and ``mark`` after the two when the
    stack has one (see the module's docstring)."""

    @staticmethod
    def plain(project: str, stack: str) -> bool:
        """Whether ``project-stack`` says where each ends and starts with a letter as it is."""
        return "-" not in project and "-" not in stack and project[:1].isalpha()

    @property
    def _pair(self) -> tuple[str, ...]:
        return (self.project, self.stack, self.mark) if self.mark else (self.project, self.stack)

    def service(self, service: str) -> str:
        """The Cloud Run service (or worker pool): a lowercase DNS label of at most 49
        characters."""
        return _letter_first(short(*self._pair, service, limit=49), 49)

    def account_id(self) -> str:
        """The runtime service account: 6 to 30 characters, a letter first."""
        return _letter_first(short("ld", *self._pair, limit=30), 30)

    def account(self, gcp_project: str) -> str:
        """The runtime service account's email."""
        return f"{self.account_id()}@{gcp_project}.iam.gserviceaccount.com"

    def sql(self, service: str, suffix: str) -> str:
        """A Cloud SQL instance. A deleted instance's name cannot be used again for a week, so
        each one made gets a new ``suffix``; deploys find it by its labels."""
        return _letter_first(short(*self._pair, service, limit=80), 80) + f"-{suffix}"

    def redis(self, service: str) -> str:
        """A Memorystore instance id: at most 40 characters, a letter first."""
        return _letter_first(short(*self._pair, service, limit=40), 40)

    def remote_repository(self, host: str) -> str:
        """The Artifact Registry remote repository the stack pulls the images of registry
        ``host`` through: a lowercase letter first, lowercase letters, digits and hyphens, a
        letter or digit last, at most 63 characters."""
        return _letter_first(short("ld", *self._pair, host, limit=63), 63)

    def balancer(self, part: str = "") -> str:
        """A load balancer resource of the stack (the URL maps, proxies, rules, address); without
        ``part``, what every one's name starts with."""
        return _letter_first(short("ld", *self._pair, *([part] if part else []), limit=63), 63)

    def certificate(self, domains: list[str]) -> str:
        """A managed certificate is immutable: a new set of domains gets a new one."""
        digest = hashlib.sha256(",".join(sorted(domains)).encode()).hexdigest()[:8]
        return self.balancer(f"cert-{digest}")


def context_key(digest: str) -> str:
    return f"contexts/{digest}.tar.gz"


BUILD_LOGS = "builds"
"""The bucket folder Cloud Build writes build logs to."""
