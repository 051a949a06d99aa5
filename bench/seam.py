"""How many members a provider implements: the engine's seams, counted from their declarations.

A seam that declares abstract members (Provider, Session) is subclassed: its abstract members
and its attributes without a value are required, its other members are defaults a provider
overrides only where its target differs, and its properties are derived by the engine (never
written by a provider). A seam without abstract members is a plain Protocol: every member is
required of whoever implements it. Seams only some targets implement are listed apart.
Prints the count next to issue 20's baseline (providers/base.py before e227bc0: Provider 12,
Session 9, ConfigStore 4, RecordStore 3) and its aim (at most 16).
Run: .venv/bin/python bench/seam.py
"""

from __future__ import annotations

import inspect
from typing import Protocol

from launchdeck.engine.blobs import Blobs
from launchdeck.engine.deploy import PreparesBuilds, PreparesInParts
from launchdeck.engine.seams import (
    ConfigStore,
    IngressDriver,
    KeepsImages,
    PinsImages,
    Provider,
    Restarts,
    ServiceDriver,
    Session,
    StoreDriver,
    TellsEvents,
)

BASELINE = {"Provider": 12, "Session": 9, "ConfigStore": 4, "RecordStore": 3}
AIM = 16
_UNSET = object()
EVERY_TARGET = (Provider, Session, ServiceDriver, ConfigStore, Blobs)
SOME_TARGETS = {
    StoreDriver: "where managed stores are the target's own databases",
    IngressDriver: "where ingress goes through a load balancer",
    Restarts: "where tasks resolve names only when they start",
    TellsEvents: "where the platform keeps events of its own",
    KeepsImages: "where it can tell an image is still there",
    PinsImages: "where it can name an image by digest",
    PreparesBuilds: "where builds stand on less than prepare makes",
    PreparesInParts: "where units stand on parts of what prepare makes",
}


def members(seam: type) -> dict[str, str]:
    """Each public member of ``seam`` (its Protocol bases' too): required, default or derived."""
    abstract = getattr(seam, "__abstractmethods__", frozenset())
    subclassed = bool(abstract)
    out: dict[str, str] = {}
    for klass in reversed(seam.__mro__):
        if klass in (object, Protocol) or not getattr(klass, "_is_protocol", False):
            continue
        names = [*klass.__dict__.get("__annotations__", {}), *klass.__dict__]
        for name in names:
            if name.startswith("_") or name in out and out[name] != "required":
                continue
            value = inspect.getattr_static(seam, name, _UNSET)
            if name in abstract or value is _UNSET or not subclassed:
                kind = "required"
            elif isinstance(value, property):
                kind = "derived"
            else:
                kind = "default"
            if name in klass.__dict__.get("__annotations__", {}) or callable(value) \
                    or isinstance(value, property) or name in abstract:
                out[name] = kind
    return out


def main() -> None:
    total = {"required": 0, "default": 0, "derived": 0}
    print(f"{'seam':<16}{'required':>9}{'default':>9}{'derived':>9}  required members")
    for seam in EVERY_TARGET:
        found = members(seam)
        counts = {k: sum(1 for v in found.values() if v == k) for k in total}
        for k, n in counts.items():
            total[k] += n
        required = ", ".join(n for n, v in found.items() if v == "required")
        print(f"{seam.__name__:<16}{counts['required']:>9}{counts['default']:>9}{counts['derived']:>9}"
              f"  {required}")
    print(f"{'every target':<16}{total['required']:>9}{total['default']:>9}{total['derived']:>9}")
    print(f"baseline (issue 20): {sum(BASELINE.values())} "
          f"({', '.join(f'{k} {v}' for k, v in BASELINE.items())}); aim: at most {AIM} required")
    print("\nonly some targets:")
    for seam, where in SOME_TARGETS.items():
        print(f"  {seam.__name__:<16}{len(members(seam)):>3}  {where}")


if __name__ == "__main__":
    main()
