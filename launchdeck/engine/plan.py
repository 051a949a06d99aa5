"""What a deploy must change, decided without touching anything (Terraform's vocabulary).

``plan`` compares what each service should be (a hash of its settings, image and config
digests) with what was last applied (the hash in its containers' labels or tags). An
unchanged project plans to all-NOOP, and applying skips NOOPs.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from launchdeck.compose.model import Service


class Action(StrEnum):
    NOOP = "NOOP"
    CREATE = "CREATE"
    UPDATE = "UPDATE"
    REPLACE = "REPLACE"
    DELETE = "DELETE"


@dataclass(frozen=True, slots=True)
class Change:
    service: str
    action: Action
    reason: str = ""
    """For display only."""


@dataclass(frozen=True, slots=True)
class Desired:
    hash: str
    replicas: int


@dataclass(frozen=True, slots=True)
class Actual:
    """One running (or stopped) replica as found on the target."""

    hash: str
    running: bool


def service_hash(service: Service, image: str, config: Mapping[str, str]) -> str:
    """A digest of everything that, when changed, needs new containers.

    Config values enter only as their own digests, so the hash (kept in labels) reveals
    nothing; replicas are left out because scaling does not replace running replicas.
    """
    spec = service.model_dump(mode="json", by_alias=True, exclude={"deploy": {"replicas"}})
    values = {name: hashlib.sha256(config[name].encode()).hexdigest()
              for name in sorted(service.required_config()) if name in config}
    blob = json.dumps({"service": spec, "image": image, "config": values}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def plan(desired: Mapping[str, Desired], actual: Mapping[str, list[Actual]],
         *, force: bool = False) -> list[Change]:
    """The change each service needs, in name order; services no longer wanted are DELETE."""
    changes = []
    for name in sorted(set(desired) | set(actual)):
        want, have = desired.get(name), actual.get(name, [])
        if want is None:
            changes.append(Change(name, Action.DELETE, "no longer in the project"))
        elif not have:
            changes.append(Change(name, Action.CREATE, "new service"))
        elif force:
            changes.append(Change(name, Action.REPLACE, "forced"))
        elif any(a.hash != want.hash for a in have):
            changes.append(Change(name, Action.REPLACE, "configuration changed"))
        elif len(have) != want.replicas or not all(a.running for a in have):
            stopped = sum(not a.running for a in have)
            reason = f"{stopped} replica(s) not running" if stopped else \
                f"replicas {len(have)} -> {want.replicas}"
            changes.append(Change(name, Action.UPDATE, reason))
        else:
            changes.append(Change(name, Action.NOOP))
    return changes
