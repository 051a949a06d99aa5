"""The compose document a Pulumi program deploys, read by launchdeck's own compose loader.

Services declared in Python are written to a compose file in a private folder and loaded
from it, so they get the same schema checks, interpolation (``${NAME}`` in an environment
value is a config reference), normalisation and findings as a compose file; since that file
is not the user's, its problems are named by their path (``services.app.ports[0]``) rather
than by a line. The program checks the project against the provider's capabilities and
hands the provider the normalised document (``compose config``'s form, paths absolute),
which the provider loads the same way.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from launchdeck.compose.load import Loaded, load
from launchdeck.compose.validate import Finding, Severity, required_config
from launchdeck.errors import ComposeError, LaunchdeckError, Problem
from launchdeck.pulumi.errors import ProgramError
from launchdeck.pulumi.spec import JSON
from launchdeck.tools.check import findings as check


@dataclass(frozen=True)
class Prepared:
    """A project checked for its provider, as the dynamic resource receives it."""

    project: str
    compose: dict[str, JSON]
    """The normalised document: no secret in it, only the names of config values."""
    config: list[str]
    """The config names its services read, sorted."""
    warnings: list[str]


def dumps(doc: Mapping[str, JSON]) -> str:
    """The document as the dynamic resource's input: JSON text, one key a line, in order, so
    that Pulumi's diff of two of them reads line by line."""
    return json.dumps(doc, indent=2, sort_keys=True)


def load_document(doc: Mapping[str, JSON], *, stack: str) -> Loaded:
    """Load a compose document (JSON-able, paths absolute); raise ComposeError naming each
    problem by its path."""
    with tempfile.TemporaryDirectory(prefix="launchdeck-pulumi-") as folder:
        path = Path(folder) / "compose.yaml"
        path.write_text(json.dumps(doc), encoding="utf-8")  # JSON is YAML
        try:
            return load([str(path)], cwd=folder, stack=stack, os_environ={})
        except ComposeError as exc:
            raise ComposeError([Problem(p.message, path=p.path) for p in exc.problems],
                               hint=exc.hint) from exc


def load_files(files: Sequence[str], *, cwd: str, stack: str, project_name: str | None,
               profiles: Sequence[str]) -> Loaded:
    """Load the user's compose files as the CLI does; raise ProgramError on a problem."""
    try:
        return load(files, cwd=cwd, project_name=project_name, profiles=profiles, stack=stack)
    except LaunchdeckError as exc:
        raise ProgramError(exc.message, hint=exc.hint) from exc


def declared(services: Mapping[str, Mapping[str, JSON]], *, project: str, stack: str) -> Loaded:
    """Load services declared in code; raise ProgramError on a problem."""
    try:
        return load_document({"name": project, "services": dict(services)}, stack=stack)
    except ComposeError as exc:
        raise ProgramError(f"the services of {project} cannot be deployed as declared:\n{exc.message}",
                           hint=exc.hint or "Correct the arguments named, then run the update again.",
                           ) from exc


def prepare(loaded: Loaded, provider: str, *, located: bool) -> Prepared:
    """Check ``loaded`` for ``provider``: raise ProgramError listing every error finding
    (with its file and line when ``located``, else its path), keep the warnings."""
    project = loaded.project
    findings = check(loaded, provider)
    errors = [f for f in findings if f.severity is Severity.ERROR]
    if errors:
        raise ProgramError(
            f"{len(errors)} error(s) stop {project.name} deploying to {provider}:\n"
            + "\n".join(_text(f, located) for f in errors),
            hint="Fix each as its fix says, then run the update again.")
    return Prepared(project=project.name, compose=project.to_compose(), config=required_config(loaded),
                    warnings=[_text(f, located) for f in findings if f.severity is not Severity.ERROR])


def _text(finding: Finding, located: bool) -> str:
    if located:
        return str(finding)
    return f"{finding.field}: {finding.message}\n  fix: {finding.fix}"
