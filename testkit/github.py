"""GitHub's REST API for issue comments, as a local HTTP server on 127.0.0.1 that records and
checks every request: what the Action's preview mode talks to in tests.

It serves only the three endpoints the preview uses, for one repository, as GitHub documents
them (https://docs.github.com/en/rest/issues/comments):

- ``GET /repos/{owner}/{repo}/issues/{number}/comments``: the comments in creation order,
  ``per_page`` (default 30, at most 100) a page, the next page named in a ``Link`` header
  (https://docs.github.com/en/rest/using-the-rest-api/using-pagination-in-the-rest-api);
- ``POST /repos/{owner}/{repo}/issues/{number}/comments`` with ``{"body": ...}``: 201 and the
  comment;
- ``PATCH /repos/{owner}/{repo}/issues/comments/{comment_id}`` with ``{"body": ...}``: 200.

A request without ``Authorization: Bearer <token>`` (or ``token <token>``) of the one token it
knows gets 401 ``Bad credentials``; a token given no write access (a fork's pull request)
gets 403 ``Resource not accessible by integration`` on POST and PATCH, as GitHub answers a
GITHUB_TOKEN that lacks the permission; any other path is 404 ``Not Found``; a body that is
not a JSON object with a string ``body`` of at most 65536 characters is 422. Anything a test
did not expect is kept in ``problems``.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

MAX_BODY = 65_536
"""The longest comment body GitHub takes (longer: 422 "body is too long (maximum is 65536
characters)", as the API answers it)."""
_LIST = re.compile(r"/repos/([^/]+/[^/]+)/issues/(\d+)/comments")
_EDIT = re.compile(r"/repos/([^/]+/[^/]+)/issues/comments/(\d+)")


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    authorization: str
    accept: str
    body: dict[str, Any] | None
    status: int = 0


@dataclass
class GitHubApi:
    """One repository's issue comments behind a local HTTP server (``url`` is GITHUB_API_URL)."""

    repository: str
    token: str
    writable: bool = True
    """False: the token may read but not write (a fork's pull request)."""
    comments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    _next_id: int = 1_000_000
    _server: ThreadingHTTPServer | None = None

    def __enter__(self) -> GitHubApi:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                api._handle(self, "GET")

            def do_POST(self) -> None:
                api._handle(self, "POST")

            def do_PATCH(self) -> None:
                api._handle(self, "PATCH")

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def bodies(self, number: int) -> list[str]:
        return [c["body"] for c in self.comments.get(number, [])]

    def writes(self) -> list[Request]:
        return [r for r in self.requests if r.method in ("POST", "PATCH")]

    # -- the server's side -------------------------------------------------------------------

    def _handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        parts = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        request = Request(method, parts.path, parse_qs(parts.query),
                          handler.headers.get("Authorization", ""),
                          handler.headers.get("Accept", ""), body)
        self.requests.append(request)
        status, payload, headers = self._answer(request)
        request.status = status
        data = json.dumps(payload).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json; charset=utf-8")
        handler.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(data)

    def _answer(self, r: Request) -> tuple[int, Any, dict[str, str]]:
        docs = "https://docs.github.com/rest"
        if r.authorization not in (f"Bearer {self.token}", f"token {self.token}"):
            self.problems.append(f"{r.method} {r.path}: Authorization {r.authorization[:12]!r}")
            return 401, {"message": "Bad credentials", "documentation_url": docs}, {}
        if r.accept != "application/vnd.github+json":
            self.problems.append(f"{r.method} {r.path}: Accept {r.accept!r}")
        listing, editing = _LIST.fullmatch(r.path), _EDIT.fullmatch(r.path)
        found = listing or editing
        if found is None or found.group(1) != self.repository or \
                (listing and method_not(r.method, "GET", "POST")) or \
                (editing and method_not(r.method, "PATCH")):
            self.problems.append(f"unexpected {r.method} {r.path}")
            return 404, {"message": "Not Found", "documentation_url": docs}, {}
        if r.method != "GET" and not self.writable:
            return 403, {"message": "Resource not accessible by integration",
                         "documentation_url": docs}, {}
        if r.method != "GET" and not (isinstance(r.body, dict) and set(r.body) == {"body"}
                                      and isinstance(r.body["body"], str)):
            self.problems.append(f"{r.method} {r.path}: body {r.body!r}")
            return 422, {"message": "Invalid request.", "documentation_url": docs}, {}
        if r.method != "GET" and len(r.body["body"]) > MAX_BODY:  # type: ignore[index]
            self.problems.append(f"{r.method} {r.path}: a body of {len(r.body['body'])} characters")  # type: ignore[index]
            return 422, {"message": "Validation Failed", "errors": [
                {"resource": "IssueComment", "code": "custom", "field": "body",
                 "message": f"body is too long (maximum is {MAX_BODY} characters)"}],
                "documentation_url": docs}, {}
        if listing:
            number = int(listing.group(2))
            issue = self.comments.setdefault(number, [])
            if r.method == "POST":
                self._next_id += 1
                comment = {"id": self._next_id, "body": r.body["body"],  # type: ignore[index]
                           "user": {"login": "github-actions[bot]", "type": "Bot"}}
                issue.append(comment)
                return 201, comment, {}
            per_page = min(int(r.query.get("per_page", ["30"])[0]), 100)
            page = int(r.query.get("page", ["1"])[0])
            shown = issue[(page - 1) * per_page:page * per_page]
            headers = {}
            if page * per_page < len(issue):
                headers["Link"] = (f'<{self.url}{r.path}?per_page={per_page}&page={page + 1}>; '
                                   'rel="next"')
            return 200, shown, headers
        comment_id = int(editing.group(2))  # type: ignore[union-attr]
        for issue in self.comments.values():
            for comment in issue:
                if comment["id"] == comment_id:
                    comment["body"] = r.body["body"]  # type: ignore[index]
                    return 200, comment, {}
        return 404, {"message": "Not Found", "documentation_url": docs}, {}

    def add(self, number: int, body: str, login: str = "someone") -> int:
        """A comment someone else wrote on ``number``."""
        self._next_id += 1
        self.comments.setdefault(number, []).append(
            {"id": self._next_id, "body": body, "user": {"login": login, "type": "User"}})
        return self._next_id


def method_not(method: str, *allowed: str) -> bool:
    return method not in allowed
