"""GitHub, as the Action's preview mode needs it: the pull request a workflow runs for (read
from the event payload the runner wrote) and the one comment launchdeck keeps on it, through
the REST API with the workflow's token.

The comment is found by a hidden marker (an HTML comment GitHub does not render) among the
issue comments of the pull request, so each later run edits it instead of adding another:

    GET   {api}/repos/{owner}/{repo}/issues/{number}/comments   (every page, 100 a page)
    POST  {api}/repos/{owner}/{repo}/issues/{number}/comments   {"body": ...}
    PATCH {api}/repos/{owner}/{repo}/issues/comments/{id}        {"body": ...}

(https://docs.github.com/en/rest/issues/comments). A pull request is an issue to this API,
and the workflow's ``GITHUB_TOKEN`` needs ``pull-requests: write`` for it (the docs' "Fine-grained
access tokens" table for these endpoints). ``{api}`` is ``GITHUB_API_URL`` (GitHub Enterprise
Server sets it), else https://api.github.com. A refusal becomes a GitHubError that says which
permission to add.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from launchdeck.errors import LaunchdeckError, UsageError

API = "https://api.github.com"
API_VERSION = "2022-11-28"
PERMISSION = "pull-requests: write"
MAX_BODY = 65_536
"""Characters a comment's body may hold (GitHub answers 422 "body is too long" beyond)."""


class GitHubError(LaunchdeckError):
    """GitHub's REST API refused or could not be reached; ``status`` is its HTTP status (0:
    no answer)."""

    def __init__(self, message: str, *, status: int = 0, hint: str = "") -> None:
        super().__init__(message, hint=hint)
        self.status = status


# -- the event ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PullRequest:
    """The pull request of a ``pull_request`` (or ``pull_request_target``) event."""

    action: str
    """opened, synchronize, reopened, closed, ... (the event's activity type)."""
    number: int
    repository: str
    """owner/name of the base repository, where the comment goes."""
    head_repository: str
    """owner/name the head branch lives in: another one for a pull request from a fork."""
    head_sha: str
    head_ref: str
    merged: bool
    url: str

    @property
    def from_fork(self) -> bool:
        return self.head_repository.lower() != self.repository.lower()


def pull_request(env: Mapping[str, str]) -> PullRequest:
    """The pull request of the event the step runs for (``GITHUB_EVENT_NAME``,
    ``GITHUB_EVENT_PATH``); a UsageError when it runs for another event."""
    name = env.get("GITHUB_EVENT_NAME", "")
    if name not in ("pull_request", "pull_request_target"):
        raise UsageError(f"preview runs on pull_request events, not on {name or 'no event'!r}",
                         hint="Run the preview step only `on: pull_request` (types: opened, "
                              "synchronize, reopened, closed); deploy other events with "
                              "command: up.")
    path = env.get("GITHUB_EVENT_PATH", "")
    try:
        event = json.loads(Path(path).read_text(encoding="utf-8"))
        pr: dict[str, Any] = event["pull_request"]
        return PullRequest(
            action=str(event["action"]), number=int(pr["number"]),
            repository=str(pr["base"]["repo"]["full_name"]),
            # a fork deleted since has no head repository any more: still not this one
            head_repository=str((pr["head"].get("repo") or {}).get("full_name") or "(deleted)"),
            head_sha=str(pr["head"]["sha"]), head_ref=str(pr["head"].get("ref") or ""),
            merged=bool(pr.get("merged")), url=str(pr.get("html_url") or ""))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UsageError(f"cannot read the pull_request event at {path or '(GITHUB_EVENT_PATH unset)'}"
                         f" ({type(exc).__name__})",
                         hint="Run preview as a step of a GitHub Actions job, which writes the "
                              "event there.") from exc


# -- the comment ----------------------------------------------------------------------------------


def marker(key: str) -> str:
    """The hidden line that marks launchdeck's comment for ``key`` (provider, project, stack)."""
    return f"<!-- launchdeck-preview {re.sub(r'[^A-Za-z0-9_./-]', '_', key)} -->"


class Comments:
    """The issue comments of one repository, as one token may read and write them."""

    def __init__(self, repository: str, token: str, *, api: str = "",
                 transport: Any = None) -> None:
        import httpx2

        if not token:
            raise UsageError("no GitHub token to comment on the pull request with",
                             hint="Give the step github-token: ${{ github.token }} (its default) "
                                  f"and the job `permissions: {PERMISSION}`.")
        self.repository = repository
        self._client = httpx2.AsyncClient(
            base_url=(api or API).rstrip("/"), transport=transport, timeout=30.0,
            headers={"Authorization": f"Bearer {token}", "Accept": "application/vnd.github+json",
                     "X-GitHub-Api-Version": API_VERSION, "User-Agent": "launchdeck"})

    async def __aenter__(self) -> Comments:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._client.aclose()

    async def find(self, number: int, mark: str) -> tuple[int, str] | None:
        """The id and body of the first comment on ``number`` that holds ``mark``."""
        url: str | None = f"/repos/{self.repository}/issues/{number}/comments"
        params: dict[str, Any] | None = {"per_page": 100}
        while url:
            response = await self._call("GET", url, params=params)
            for comment in response.json():
                if mark in (comment.get("body") or ""):
                    return int(comment["id"]), comment["body"]
            url, params = response.links.get("next", {}).get("url"), None
        return None

    async def put(self, number: int, mark: str, body: str, *, create: bool = True) -> int | None:
        """Edit the comment marked ``mark`` to ``body``, or (``create``) write it; its id."""
        found = await self.find(number, mark)
        text = f"{mark}\n{body}"
        if len(text) > MAX_BODY:
            cut = "\n\n(cut short: the job's summary has the rest)\n"
            text = text[:MAX_BODY - len(cut)] + cut
        payload = {"body": text}
        if found is not None:
            await self._call("PATCH", f"/repos/{self.repository}/issues/comments/{found[0]}",
                             json=payload)
            return found[0]
        if not create:
            return None
        response = await self._call("POST", f"/repos/{self.repository}/issues/{number}/comments",
                                    json=payload)
        return int(response.json()["id"])

    async def _call(self, method: str, url: str, **kwargs: Any) -> Any:
        import httpx2

        try:
            response = await self._client.request(method, url, **kwargs)
        except httpx2.HTTPError as exc:
            raise GitHubError(f"GitHub's API at {self._client.base_url} did not answer "
                              f"({type(exc).__name__})",
                              hint="Check GITHUB_API_URL; try the run again.") from exc
        if response.status_code >= 400:
            raise _refusal(method, url, response)
        return response


def _refusal(method: str, url: str, response: Any) -> GitHubError:
    """What a 4xx/5xx from GitHub means for the workflow, and what to add."""
    status = response.status_code
    try:
        said = str(response.json().get("message") or "")[:200]
    except ValueError:
        said = ""
    what = f"GitHub refused {method} {url} ({status}{': ' + said if said else ''})"
    if status == 401:
        hint = ("The token is not valid (expired, or not a GitHub token): leave github-token at "
                "its default, ${{ github.token }}.")
    elif status == 403 and response.headers.get("x-ratelimit-remaining") == "0":
        hint = "The token's rate limit is used up; run the job again later."
    elif status == 403:
        hint = (f"The token may not write pull request comments: give the job `permissions: "
                f"{PERMISSION}` (a pull request from a fork only ever gets a read-only token).")
    elif status == 404:
        hint = (f"The token cannot see this repository or pull request: give the job "
                f"`permissions: {PERMISSION}` (and contents: read for a private repository), and "
                "check GITHUB_API_URL.")
    else:
        hint = "GitHub may be having trouble; run the job again."
    return GitHubError(what, status=status, hint=hint)
