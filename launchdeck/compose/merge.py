"""Merging several compose files into one document, by the Compose specification's rules.

Mappings merge key by key and later scalars win. Fields that may be written as a list or a
mapping (environment, labels, build args, depends_on, networks) are first brought to the
mapping form, so both forms merge alike. ``command``, ``entrypoint`` and ``healthcheck.test``
are replaced whole. Sequences are appended, keeping one entry per port, mount target or
value where Compose does. ``!reset`` removes a key; ``!override`` replaces without merging.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from launchdeck.compose.interpolate import Template, references
from launchdeck.compose.source import RESET, Mapping, Override, Sequence

# per service: fields written as "KEY=VALUE" lists or as mappings
_KEY_VALUE = ("environment", "labels", "annotations", "sysctls")
_BUILD_KEY_VALUE = ("args", "labels")
_STRING_OR_LIST = ("env_file", "dns", "dns_search", "tmpfs")
_REPLACED = frozenset({"command", "entrypoint"})
_UNIQUE_VALUES = frozenset(
    {"expose", "dns", "dns_search", "dns_opt", "profiles", "cap_add", "cap_drop", "env_file",
     "external_links", "security_opt", "tmpfs", "volumes_from", "group_add",
     "device_cgroup_rules", "aliases", "links"}
)


def normalize_file(doc: Mapping) -> None:
    """Bring one file's list-or-mapping fields to their mapping form, in place.

    A value tagged ``!override`` is normalised inside its marker, so that what replaces a
    field has the same form as what it replaces.
    """
    services = doc.get("services")
    if not isinstance(services, dict):
        return
    for name in list(services):
        _inside(services, name, _normalize_service)


def _normalize_service(service: Any) -> Any:
    if not isinstance(service, Mapping):
        return service
    for field in _KEY_VALUE:
        _inside(service, field, lambda v, f=field: _key_value(v, keep_none=f == "environment")
                if isinstance(v, Sequence) else v)
    _inside(service, "build", lambda v: _normalize_build(v, service.where.get("build", ("", 0))))
    _inside(service, "depends_on", lambda v: _to_mapping(
        v, lambda name: Mapping({"condition": "service_started", "required": True}))
        if isinstance(v, Sequence) else v)
    _inside(service, "networks", lambda v: _to_mapping(v, lambda name: None)
            if isinstance(v, Sequence) else v)
    for field in _STRING_OR_LIST:
        _inside(service, field, lambda v, f=field: Sequence([v], where=[service.where[f]])
                if isinstance(v, str) else v)
    return service


def _normalize_build(build: Any, where: Any) -> Any:
    if isinstance(build, str):
        build = Mapping({"context": build}, where={"context": where})
    if isinstance(build, Mapping):
        for field in _BUILD_KEY_VALUE:
            _inside(build, field, lambda v, f=field: _key_value(v, keep_none=f == "args")
                    if isinstance(v, Sequence) else v)
    return build


def _inside(container: dict, key: Any, change: Callable[[Any], Any]) -> None:
    """``container[key] = change(container[key])``, looking through an ``!override`` marker."""
    if key not in container:
        return
    value = container[key]
    if isinstance(value, Override):
        container[key] = Override(change(value.value))
    else:
        container[key] = change(value)


def _key_value(items: Sequence, *, keep_none: bool) -> Mapping:
    out = Mapping()
    for item, where in zip(items, items.where, strict=False):
        key, sep, value = str(item).partition("=")
        if isinstance(item, Template):  # only the value can hold the reference
            value = Template(value, references(value))
        out[key] = value if sep else (None if keep_none else "")
        out.where[key] = where
    return out


def _to_mapping(items: Sequence, value: Callable[[str], Any]) -> Mapping:
    out = Mapping()
    for item, where in zip(items, items.where, strict=False):
        out[str(item)] = value(str(item))
        out.where[str(item)] = where
    return out


def merge(base: Any, other: Any, path: tuple[str, ...] = ()) -> Any:
    """``other`` merged over ``base``; neither is changed."""
    if isinstance(other, Override):
        return other.value
    if isinstance(base, Mapping) and isinstance(other, Mapping):
        return _merge_mappings(base, other, path)
    if isinstance(base, Sequence) and isinstance(other, Sequence):
        return _merge_sequences(base, other, path)
    return other


def _merge_mappings(base: Mapping, other: Mapping, path: tuple[str, ...]) -> Mapping:
    out = Mapping(base, where=dict(base.where))
    for key, value in other.items():
        if value is RESET:
            out.pop(key, None)
            out.where.pop(key, None)
            continue
        child = (*path, key)
        if key in out and not _replaced(child):
            out[key] = merge(out[key], value, child)
        else:
            out[key] = value.value if isinstance(value, Override) else value
        out.where[key] = other.where.get(key, out.where.get(key, ("", 0)))
    return out


def _replaced(path: tuple[str, ...]) -> bool:
    if len(path) == 3 and path[0] == "services":
        return path[2] in _REPLACED
    return len(path) == 4 and path[0] == "services" and path[2:] == ("healthcheck", "test")


def _merge_sequences(base: Sequence, other: Sequence, path: tuple[str, ...]) -> Sequence:
    field = path[-1] if path else ""
    key = _identity(field, path)
    if key is None:
        return Sequence([*base, *other], where=[*base.where, *other.where])
    merged: dict[Any, tuple[Any, Any]] = {}
    for items in (base, other):
        for item, where in zip(items, items.where, strict=False):
            merged[key(item)] = (item, where)  # a later entry for the same key replaces
    return Sequence([item for item, _ in merged.values()],
                    where=[where for _, where in merged.values()])


def _identity(field: str, path: tuple[str, ...]) -> Callable[[Any], Any] | None:
    if len(path) < 3 or path[0] != "services":
        return None
    if field == "ports" and len(path) == 3:
        return _port_key
    if field == "volumes" and len(path) == 3:
        return _mount_target
    if field in ("secrets", "configs") and len(path) == 3:
        return _secret_key
    if field in _UNIQUE_VALUES:
        return _value_key
    return None


def _value_key(item: Any) -> Any:
    return repr(item) if isinstance(item, (dict, list)) else str(item)


def _port_key(item: Any) -> Any:
    if isinstance(item, dict):
        return (str(item.get("host_ip", "")), str(item.get("published", "")),
                str(item.get("target", "")), str(item.get("protocol", "tcp")))
    return str(item)


def _mount_target(item: Any) -> Any:
    if isinstance(item, dict):
        return item.get("target")
    parts = str(item).split(":")
    return parts[1] if len(parts) > 1 else parts[0]


def _secret_key(item: Any) -> Any:
    if isinstance(item, dict):
        return item.get("target") or item.get("source")
    return str(item)


def strip_markers(node: Any) -> Any:
    """Remove ``!reset`` keys and unwrap ``!override`` values left after merging, in place."""
    if isinstance(node, Override):
        return strip_markers(node.value)
    if isinstance(node, Mapping):
        for key in [k for k, v in node.items() if v is RESET]:
            del node[key]
        for key, value in node.items():
            node[key] = strip_markers(value)
    elif isinstance(node, Sequence):
        node[:] = [strip_markers(item) for item in node]
    return node


def without_markers(node: Any) -> Any:
    """A copy with ``!reset`` keys left out and ``!override`` values unwrapped, for checking."""
    if isinstance(node, Override):
        return without_markers(node.value)
    if isinstance(node, Mapping):
        kept = [k for k, v in node.items() if v is not RESET]
        return Mapping({k: without_markers(node[k]) for k in kept},
                       where={k: node.where[k] for k in kept if k in node.where})
    if isinstance(node, Sequence):
        return Sequence([without_markers(item) for item in node], where=list(node.where))
    return node
