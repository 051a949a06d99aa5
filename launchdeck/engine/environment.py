"""What each environment variable of a service is on a cloud: plain text, a config value, or text
that mixes config in; written once so one compose file is read alike on every target.

A variable that is a config value whole (``TOKEN:``, ``API_KEY: ${API_KEY}``) is read from the
target's secret store by name. One that mixes config into text (``pg://app:${PW}@db/app``) is
resolved at deploy time and kept as a secret of its own (a *derived* secret), since the whole
value is as secret as its part. Plain text stays in the service's settings. Host names are
rewritten before config is filled in, so a config value (a password that happens to hold a
store's name as a word) is never altered.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from launchdeck.compose.interpolate import substitute
from launchdeck.compose.model import Service


class Source(StrEnum):
    PLAIN = "plain"
    CONFIG = "config"
    DERIVED = "derived"


@dataclass(frozen=True, slots=True)
class Variable:
    key: str
    source: Source
    value: str
    """PLAIN: the text, hosts rewritten; CONFIG: the config name; DERIVED: the value, hosts
    rewritten and config filled in (a secret: never shown)."""


def classify(service: Service, config: Mapping[str, str],
             rewrite: Callable[[str], str] = lambda value: value) -> list[Variable]:
    """Every variable of ``service``'s environment, sorted by key; ``rewrite`` turns the names
    of other services and stores into what the target reaches them by."""
    out = []
    for key, raw in sorted(service.environment.items()):
        ref = service.config_ref(key)
        if ref is not None:
            out.append(Variable(key, Source.CONFIG, ref))
        elif raw is None:
            continue
        elif key in service.env_refs:
            out.append(Variable(key, Source.DERIVED, substitute(rewrite(raw), config).value))
        else:
            out.append(Variable(key, Source.PLAIN, rewrite(raw)))
    return out
