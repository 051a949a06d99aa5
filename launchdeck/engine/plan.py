"""What a deploy must change, decided without touching anything (Terraform's vocabulary).

Each unit (a service, a store, a provider's load balancer) is rendered to a digest; the
target keeps the digest of what it last applied (in a tag or label). Equal digests plan to
NOOP, and applying skips NOOPs. The digest is made of named parts (each compose setting,
the image, each config value's digest, the target's own settings), and the deployment
record keeps the parts last applied, so a plan can say what changed, not only that
something did.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from launchdeck.compose.model import Service


RENDERED = "rendered"
"""The part a provider adds for its own rendering of a unit (task definition, service spec):
it moves with the other parts, and alone when the target's resources changed under it."""


class Action(StrEnum):
    NOOP = "NOOP"
    CREATE = "CREATE"
    UPDATE = "UPDATE"
    REPLACE = "REPLACE"
    DELETE = "DELETE"


def digest_of(value: Any, size: int = 12) -> str:
    """A short, stable digest of any JSON-able value."""
    blob = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:size]


def combine(parts: Mapping[str, str]) -> str:
    """The unit's digest: one value for all its parts."""
    return digest_of(dict(parts), 16)


def config_digest(project: str, stack: str, name: str, value: str, key: str | None = None) -> str:
    """A config value's digest: keyed with the stack's digest key (an HMAC), so a record or tag
    that holds it cannot be checked against guessed values by whoever lacks the key. A stack
    deployed before it had a key (``key`` None) has the digest salted only with where the
    value lives, which a short value can be recovered from offline."""
    text = f"{project}\0{stack}\0{name}\0{value}".encode()
    if key is None:
        return hashlib.sha256(text).hexdigest()[:12]
    return hmac.new(key.encode(), text, hashlib.sha256).hexdigest()[:12]


_LATER = frozenset({"secrets", "configs"})
"""Settings the compose model came to declare after digests were first kept: left out while
empty, so a unit deployed before they were declared keeps its digest."""


def service_parts(service: Service, image: str, config: Mapping[str, str], *, project: str,
                  stack: str, exclude_replicas: bool = True, key: str | None = None) -> dict[str, str]:
    """The parts every target's service digest starts from: each compose setting, the image,
    each config value the service reads (as its digest, keyed with ``key``)."""
    exclude: dict[str, Any] = {"deploy": {"replicas"}} if exclude_replicas else {}
    spec = service.model_dump(mode="json", by_alias=True, exclude=exclude, exclude_none=True)
    parts = {f"compose:{setting}": digest_of(value) for setting, value in spec.items()
             if not (setting in _LATER and value == [])}
    parts["image"] = digest_of(image)
    return parts | config_parts(service.required_config(), config, project=project, stack=stack,
                                key=key)


def config_parts(names: Iterable[str], config: Mapping[str, str], *, project: str, stack: str,
                 key: str | None) -> dict[str, str]:
    """The digest part of each of ``names`` that ``config`` holds (``config:NAME``)."""
    return {f"config:{name}": config_digest(project, stack, name, config[name], key)
            for name in sorted(names) if name in config}


def decide(digest: str, replicas: int, found_digest: str | None, found_replicas: int = 0,
           ready: bool = True, *, force: bool = False, replace_on_change: bool = False,
           parts: Mapping[str, str] | None = None,
           applied: Mapping[str, str] | None = None) -> tuple[Action, str]:
    """The action one unit needs and why (the reason is for display only).

    ``applied`` holds the parts the deployment record says were last applied; when they add
    up to what the target holds, the reason names the parts that changed.
    """
    if found_digest is None:
        return Action.CREATE, "new"
    if force:
        return Action.REPLACE, "forced"
    if found_digest != digest:
        action = Action.REPLACE if replace_on_change else Action.UPDATE
        return action, _what_changed(parts, applied, found_digest)
    if found_replicas != replicas:
        return Action.UPDATE, f"replicas {found_replicas} -> {replicas}"
    if not ready:
        return Action.UPDATE, "not running as deployed"
    return Action.NOOP, ""


def _what_changed(parts: Mapping[str, str] | None, applied: Mapping[str, str] | None,
                  found_digest: str) -> str:
    if not parts or not applied or combine(applied) != found_digest:
        return "settings changed"
    changed = sorted(k for k in set(parts) | set(applied) if parts.get(k) != applied.get(k))
    settings = [k.split(":", 1)[1] for k in changed if k.startswith("compose:")]
    configs = [k.split(":", 1)[1] for k in changed if k.startswith("config:")]
    others = [k for k in changed if ":" not in k]
    if RENDERED in others:  # the target's own form of the rest: news only when alone
        others.remove(RENDERED)
        if not (settings or configs or others):
            return "target settings changed"
    words = []
    if settings:
        words.append(", ".join(settings))
    words += [o for o in others if o not in settings]  # `image:` and the image it names
    if configs:
        words.append("config " + ", ".join(configs))
    return (" and ".join(words) + " changed") if words else "settings changed"
