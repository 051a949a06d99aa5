"""The deployment view inside the assistant: the MCP Apps extension's `ui://` resource that
deploy and ps point at.

A host that speaks MCP Apps renders ``ui://launchdeck/deployment`` in a sandboxed iframe next
to a deploy or ps result: service cards, the plan, a timeline, the history of deployments,
with buttons that call logs, debug_failure, deployments and rollback (its preview first, then
the project's name typed) through the host. A host without Apps ignores ``_meta.ui`` and shows the
tools' text and structured output, which do not change. The document is the portal's own
files put inline (launchdeck/portal/assets.py), read only when a host asks for it.
"""

from __future__ import annotations

from typing import Any

from mcp.server.apps import APP_MIME_TYPE, Apps
from mcp.server.mcpserver.resources import FunctionResource

URI = "ui://launchdeck/deployment"

META: dict[str, Any] = {"ui": {"resourceUri": URI}}
"""The tool ``_meta`` that points a host at the view (for deploy and ps)."""


def _document() -> str:
    from launchdeck.portal.assets import app_document

    return app_document()


def extension() -> Apps:
    """The MCP Apps extension with the deployment view, for ``MCPServer(extensions=[...])``."""
    apps = Apps()
    apps.add_resource(FunctionResource(
        uri=URI, name="deployment", title="Deployment", mime_type=APP_MIME_TYPE, fn=_document,
        description="Service cards, plan, timeline and deployment history of a deploy or "
                    "ps result.",
        meta={"ui": {"prefersBorder": True}}))
    return apps
