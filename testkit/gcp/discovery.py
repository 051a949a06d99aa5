"""Checks JSON bodies of the JSON-only APIs (Cloud Storage, Cloud DNS) against their discovery docs.

Those APIs have no protobuf types in their client libraries; what they accept is published
as a discovery document, which google-api-python-client ships for every Google API. A body
with a name the schema lacks, a value of the wrong type or outside an enum is refused as the
real front end refuses it.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from testkit.gcp.core import invalid


@functools.cache
def document(api: str) -> dict[str, Any]:
    """The discovery document of ``api`` (e.g. ``storage.v1``)."""
    try:
        import googleapiclient
    except ImportError as exc:  # the fake is test tooling; the package comes with the test extra
        raise RuntimeError("the GCP fake needs google-api-python-client (pip install -e '.[test]')") from exc
    folder = Path(googleapiclient.__file__).parent / "discovery_cache" / "documents"
    return json.loads((folder / f"{api}.json").read_text())


def check(api: str, schema: str, value: Any, at: str = "resource") -> None:
    """Raise INVALID_ARGUMENT unless ``value`` fits the schema named ``schema`` of ``api``."""
    _check(document(api)["schemas"], {"$ref": schema}, value, at)


def _check(schemas: dict[str, Any], spec: dict[str, Any], value: Any, at: str) -> None:
    if "$ref" in spec:
        spec = schemas[spec["$ref"]]
    kind = spec.get("type")
    if kind == "object" or "properties" in spec:
        if not isinstance(value, dict):
            raise invalid(f"Invalid JSON payload received. Expected an object at '{at}'.", at)
        properties = spec.get("properties", {})
        extra = spec.get("additionalProperties")
        for key, item in value.items():
            if key in properties:
                _check(schemas, properties[key], item, f"{at}.{key}")
            elif extra is not None:
                _check(schemas, extra, item, f"{at}.{key}")
            else:
                raise invalid(
                    f"Invalid JSON payload received. Unknown name \"{key}\" at '{at}': Cannot find field.", at
                )
        return
    if kind == "array":
        if not isinstance(value, list):
            raise invalid(f"Invalid value at '{at}': expected a list.", at)
        for index, item in enumerate(value):
            _check(schemas, spec.get("items", {}), item, f"{at}[{index}]")
        return
    if value is None:
        return
    if kind == "string":
        if spec.get("format") in ("int64", "uint64", "int32", "uint32"):
            if isinstance(value, bool) or not (isinstance(value, int) or str(value).lstrip("-").isdigit()):
                raise invalid(f"Invalid value at '{at}' ({spec['format'].upper()}), \"{value}\"", at)
            return
        if not isinstance(value, str):
            raise invalid(f"Invalid value at '{at}' (TYPE_STRING), {json.dumps(value)}", at)
        if "enum" in spec and value not in spec["enum"]:
            raise invalid(f"Invalid value at '{at}' (TYPE_ENUM), \"{value}\"", at)
    elif kind == "boolean" and not isinstance(value, bool):
        raise invalid(f"Invalid value at '{at}' (TYPE_BOOL), {json.dumps(value)}", at)
    elif kind == "integer" and (isinstance(value, bool) or not isinstance(value, int)):
        if not (isinstance(value, str) and value.lstrip("-").isdigit()):
            raise invalid(f"Invalid value at '{at}' (TYPE_INT32), {json.dumps(value)}", at)
    elif kind == "number" and (isinstance(value, bool) or not isinstance(value, (int, float))):
        raise invalid(f"Invalid value at '{at}' (TYPE_DOUBLE), {json.dumps(value)}", at)
