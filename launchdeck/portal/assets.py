"""The portal's page files (package data: plain HTML, CSS and JavaScript, no build step, nothing
from a CDN), and the MCP App document made of the same files.

The page and the App share the stylesheet and the drawing code (render.js); each has its own
wiring: portal.js talks to the portal's API, app.js to an MCP host through the Apps bridge.
A host renders the App from one HTML document, so its files are put inline.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

FILES = {"portal.css": "text/css; charset=utf-8", "render.js": "text/javascript; charset=utf-8",
         "portal.js": "text/javascript; charset=utf-8"}
"""The files the page loads, by name, with their content types."""


def read(name: str) -> str:
    """One of the page's files, as shipped in the package."""
    return resources.files("launchdeck.portal").joinpath("static", name).read_text(encoding="utf-8")


def page(token: str) -> str:
    """The portal's page; its files are asked for with the session token, as everything is."""
    return read("index.html").replace("{{token}}", token)


@cache
def app_document() -> str:
    """The MCP App (ui://launchdeck/deployment): the App shell with its style and scripts inline."""
    html = read("app.html")
    for marker, name, tag in (("/*{{style}}*/", "portal.css", "style"),
                              ("/*{{render}}*/", "render.js", "script"),
                              ("/*{{app}}*/", "app.js", "script")):
        text = read(name)
        if f"</{tag}" in text.lower():  # would end the inline element early
            raise ValueError(f"{name} cannot be put inline: it contains </{tag}")
        html = html.replace(marker, text)
    return html
