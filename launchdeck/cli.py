"""The command line: a thin front end over the same engine the MCP server drives.

Errors a user can fix print their message and hint on stderr with exit status 1; output
meant for other programs (``compose config``) goes to stdout, everything else to stderr.
"""

from __future__ import annotations

import json
import os
import sys
from enum import StrEnum
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from launchdeck import __version__
from launchdeck.errors import LaunchdeckError
from launchdeck.identity import DEFAULT_STACK, check_stack

app = typer.Typer(
    name="launchdeck",
    help="Deploy Docker Compose projects to the local Docker Engine, AWS or GCP.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
compose_app = typer.Typer(help="Work with the compose project.", no_args_is_help=True)
app.add_typer(compose_app, name="compose")


class Provider(StrEnum):
    local = "local"
    aws = "aws"
    gcp = "gcp"


class OutputFormat(StrEnum):
    yaml = "yaml"
    json = "json"


Files = Annotated[
    list[str] | None,
    typer.Option("-f", "--file", metavar="FILE",
                 help="Compose file(s), merged in order. Default: compose.yaml in the project "
                      "directory or a parent."),
]
Cwd = Annotated[str | None, typer.Option("-C", "--cwd", metavar="DIR", help="Project directory.")]
ProjectName = Annotated[
    str | None,
    typer.Option("-p", "--project-name", metavar="NAME",
                 help="Project name (default: name: or the directory name)."),
]
Profiles = Annotated[
    list[str] | None, typer.Option("--profile", metavar="PROFILE", help="Profile(s) to enable.")
]
Stack = Annotated[
    str,
    typer.Option("--stack", envvar="LAUNCHDECK_STACK", metavar="STACK",
                 help="Stack (environment) name."),
]
ProviderOption = Annotated[
    Provider, typer.Option("--provider", envvar="LAUNCHDECK_PROVIDER", help="Deployment target.")
]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"launchdeck {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True,
                           help="Print the version and exit.")
    ] = False,
) -> None:
    """Deploy Docker Compose projects to the local Docker Engine, AWS or GCP."""


@compose_app.command("config")
def compose_config(
    files: Files = None,
    cwd: Cwd = None,
    project_name: ProjectName = None,
    profile: Profiles = None,
    stack: Stack = DEFAULT_STACK,
    provider: ProviderOption = Provider.local,
    output: Annotated[OutputFormat, typer.Option("--format", help="Output format.")] = (
        OutputFormat.yaml
    ),
) -> None:
    """Print the normalised project, then what would stop it deploying to the provider."""
    from launchdeck.compose import has_errors, load, required_config, validate

    loaded = load(files or (), cwd=cwd, project_name=project_name, profiles=profile or (),
                  stack=check_stack(stack))
    data = loaded.project.to_compose()
    if output is OutputFormat.json:
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
    else:
        sys.stdout.write(_yaml(data))
    findings = validate(loaded, provider.value)
    console = _stderr()
    for finding in findings:
        color = "red" if finding.severity == "error" else "yellow"
        where = f"{finding.file}:{finding.line}" if finding.line else finding.file
        console.print(f"[{color}]{finding.severity}[/] "
                      + escape(f"{where}: {finding.field}: {finding.message}")
                      + "\n  [dim]fix:[/] " + escape(finding.fix), highlight=False)
    names = required_config(loaded)
    if names:
        console.print(f"config: the project reads {', '.join(names)} from the {provider.value} "
                      f"config store (`launchdeck config set NAME`)", highlight=False)
    if has_errors(findings):
        errors = sum(f.severity == "error" for f in findings)
        console.print(f"[red]{errors} error(s): the project cannot deploy to {provider.value} "
                      "as written.[/]", highlight=False)
        raise typer.Exit(1)


def _yaml(data: object) -> str:
    import yaml

    class _Dumper(yaml.SafeDumper):
        def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
            super().increase_indent(flow, False)  # indent list items under their key

    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)


def _stderr() -> Console:
    return Console(stderr=True, soft_wrap=True)


def main() -> None:
    """Run the CLI; show a LaunchdeckError as its message, never as a traceback."""
    try:
        app(prog_name="launchdeck")
    except LaunchdeckError as exc:
        _stderr().print("[red]error:[/] " + escape(exc.message), highlight=False)
        if exc.hint:
            _stderr().print(exc.hint, highlight=False, markup=False)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:  # the last line of defence: a bug, reported without a traceback
        if os.environ.get("LAUNCHDECK_DEBUG"):
            raise
        print(f"launchdeck: internal error: {type(exc).__name__}: {exc}\n"
              "Run again with LAUNCHDECK_DEBUG=1 for the traceback, and please report it.",
              file=sys.stderr)
        sys.exit(70)


if __name__ == "__main__":
    main()
