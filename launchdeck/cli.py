"""The command line: a thin front end over the tools the MCP server drives too.

Errors a user can fix print their message and hint on stderr with exit status 1; output
meant for other programs (``compose config``) goes to stdout, everything else to stderr.
The options that name the project and its target are declared once (``targeted``), and each
command runs in one event loop (``_run``).
"""

from __future__ import annotations

import functools
import inspect
import json
import os
import sys
from collections.abc import Awaitable, Callable
from dataclasses import replace
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from launchdeck import __version__
from launchdeck.errors import Action, LaunchdeckError
from launchdeck.identity import DEFAULT_STACK, check_stack
from launchdeck.providers import default as default_provider
from launchdeck.providers import description as provider_description
from launchdeck.providers import names as provider_names

if TYPE_CHECKING:
    from rich.console import Console

    from launchdeck.engine.results import ChangeSummary, ServiceStatus
    from launchdeck.tools.project import ProjectRef


def escape(text: str) -> str:
    """rich's markup escape, imported when output needs it: rich is slow to import."""
    from rich.markup import escape as rich_escape

    return rich_escape(text)


T = TypeVar("T")

app = typer.Typer(
    name="launchdeck",
    help="Deploy Docker Compose projects to the local Docker Engine, AWS or GCP.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
compose_app = typer.Typer(help="Check, deploy, inspect and remove the compose project.",
                          no_args_is_help=True)
config_app = typer.Typer(help="Secret config values the project reads (never printed).",
                         no_args_is_help=True)
mcp_app = typer.Typer(help="The MCP server for AI assistants, and its client setup.",
                      no_args_is_help=True)
app.add_typer(compose_app, name="compose")
app.add_typer(config_app, name="config")
app.add_typer(mcp_app, name="mcp")


Provider = StrEnum("Provider", {name: name for name in provider_names()})  # type: ignore[misc]
"""The providers the registry names (launchdeck/providers/__init__.py)."""


class Network(StrEnum):
    default = "default"
    dedicated = "dedicated"


class OutputFormat(StrEnum):
    yaml = "yaml"
    json = "json"


class LogType(StrEnum):
    build = "build"
    run = "run"
    deploy = "deploy"


class ModeChoice(StrEnum):
    affordable = "affordable"
    balanced = "balanced"
    high_availability = "high_availability"


ModeOption = Annotated[ModeChoice | None, typer.Option(
    "--mode", help="The stack's mode: what it makes by default (see the README's modes table); "
                   "a deploy keeps it in the stack's file for the stack's later deploys.")]
AllowNewAccount = Annotated[bool, typer.Option(
    "--allow-new-account", help="Deploy even though the stack recorded another account or "
                                "project (it moves there on purpose).")]
NetworkOption = Annotated[Network, typer.Option(
    "--network", envvar="LAUNCHDECK_NETWORK",
    help="Cloud network: the account's default VPC, or a dedicated one for this project and "
         "stack (see the README for the cost trade-off).")]
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
    Provider | None, typer.Option("--provider", help="Deployment target (default: the stack's, "
                                                     f"LAUNCHDECK_PROVIDER, else "
                                                     f"{default_provider()}).")
]
RegionOption = Annotated[
    str | None, typer.Option("--region", metavar="REGION",
                             help="Cloud region (default: the stack's, else the provider's "
                                  "usual variable: " + ", ".join(
                                      provider_description(n).region_variables[0]
                                      for n in provider_names()
                                      if provider_description(n).region_variables) + ").")
]
JsonFormat = Annotated[OutputFormat | None, typer.Option("--format", help="json for programs.")]


def _option(name: str, annotation: Any, default: Any = None) -> inspect.Parameter:
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default,
                             annotation=annotation)


def targeted(*, files: bool = True, profiles: bool = True, stack: bool = True,
             region: bool = True, allow_new_account: bool = False) -> Callable[[Any], Any]:
    """Give a command the options that name the project and its target (-C, -f, -p,
    --profile, --stack, --provider, --region, --allow-new-account: declared here once), and
    call it with the ProjectRef they make as its first argument, ``ref``."""
    shared = [_option("cwd", Cwd)]
    if files:
        shared += [_option("files", Files), _option("project_name", ProjectName)]
    if profiles:
        shared.append(_option("profile", Profiles))
    if stack:
        shared.append(_option("stack", Stack, DEFAULT_STACK))
    shared.append(_option("provider", ProviderOption))
    if region:
        shared.append(_option("region", RegionOption))
    if allow_new_account:
        shared.append(_option("allow_new_account", AllowNewAccount, False))
    names = [p.name for p in shared]

    def wrap(fn: Callable[..., T]) -> Callable[..., T]:
        # the command's own options, their annotations evaluated as typer would (ref's type
        # is only imported for type checkers, so the signature is read unevaluated)
        own = [p.replace(annotation=eval(p.annotation, fn.__globals__))
               if isinstance(p.annotation, str) else p
               for p in inspect.signature(fn).parameters.values() if p.name != "ref"]

        @functools.wraps(fn)
        def command(*args: Any, **kwargs: Any) -> T:
            given = {name: kwargs.pop(name) for name in names if name in kwargs}
            return fn(_ref(**given), *args, **kwargs)

        params = own + shared
        del command.__wrapped__  # typer reads the signature made here, not fn's
        command.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
        command.__annotations__ = {p.name: p.annotation for p in params}
        return command

    return wrap


def _ref(cwd: str | None = None, files: list[str] | None = None, project_name: str | None = None,
         profile: list[str] | None = None, stack: str = DEFAULT_STACK,
         provider: Provider | None = None, region: str | None = None,
         allow_new_account: bool = False) -> ProjectRef:
    from launchdeck.paths import project_dir
    from launchdeck.tools.project import ProjectRef

    return ProjectRef(working_directory=str(project_dir(cwd)) if cwd else ".",
                      compose_files=tuple(files or ()), project_name=project_name,
                      profiles=tuple(profile or ()),
                      provider=provider.value if provider else None, stack=check_stack(stack),
                      region=region, allow_new_account=allow_new_account)


def _run(fn: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any) -> T:
    """Run a command's async body: its one event loop."""
    import anyio

    return anyio.run(functools.partial(fn, *args, **kwargs))


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
@targeted()
def compose_config(
    ref: ProjectRef,
    output: Annotated[OutputFormat, typer.Option("--format", help="Output format.")] = (
        OutputFormat.yaml
    ),
) -> None:
    """Print the normalised project, then what would stop it deploying to the provider."""
    from launchdeck.tools.check import check

    loaded = ref.load()
    data = loaded.project.to_compose()
    if output is OutputFormat.json:
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
    else:
        sys.stdout.write(_yaml(data))
    result = check(ref, loaded)
    console = _stderr()
    for finding in result.findings:
        color = "red" if finding.severity == "error" else "yellow"
        where = f"{finding.file}:{finding.line}" if finding.line else finding.file
        console.print(f"[{color}]{finding.severity}[/] "
                      + escape(f"{where}: {finding.field}: {finding.message}")
                      + "\n  [dim]fix:[/] " + escape(finding.fix), highlight=False)
    if result.config:
        console.print(f"config: the project reads {', '.join(result.config)} from the "
                      f"{result.provider} config store (`launchdeck config set NAME`)",
                      highlight=False)
    if not result.ok:
        console.print(f"[red]{result.errors} error(s): the project cannot deploy to "
                      f"{result.provider} as written.[/]", highlight=False)
        raise typer.Exit(1)


async def _announce(ref: ProjectRef) -> None:
    """Name the target before acting on it (and what overrode the stack's settings)."""
    line = await ref.line()
    console = _stderr()
    console.print(f"target: {line} (stack {ref.stack})", highlight=False, markup=False)
    for note in ref.notes():
        console.print(f"note: {note}", highlight=False, markup=False)


@compose_app.command("up")
@targeted(allow_new_account=True)
def compose_up(
    ref: ProjectRef,
    detach: Annotated[bool, typer.Option("-d", "--detach",
                                         help="Return once deployed instead of following logs.")]
    = False,
    wait_timeout: Annotated[float, typer.Option("--wait-timeout", metavar="SECONDS",
                                                help="How long to wait for services to be "
                                                     "healthy.")] = 300,
    force: Annotated[bool, typer.Option("--build", "--force",
                                        help="Rebuild and recreate every service, even if "
                                             "unchanged.")] = False,
    network: NetworkOption = Network.default,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print what would change (as "
                                          "`compose plan` does) and change nothing.")] = False,
    output: Annotated[OutputFormat | None, typer.Option(
        "--format", help="json: the plan (--dry-run) or the deploy's result on stdout, for "
                         "programs (implies --detach).")] = None,
    ttl: Annotated[str | None, typer.Option(
        "--ttl", metavar="DURATION", help="The stack expires this long after this deploy (3d, "
                                          "12h); `stack gc` then removes it.")] = None,
    mode: ModeOption = None,
) -> None:
    """Deploy the project: build, start in dependency order, wait until healthy."""
    if mode is not None:
        ref = replace(ref, mode=mode.value)
    if dry_run:
        _run(_plan, ref, force=force, network=network, output=output)
        return
    following: list[bool] = []
    try:
        _run(_up, ref, detach=detach, wait_timeout=wait_timeout, force=force, network=network,
             output=output, following=following, ttl=ttl)
    except KeyboardInterrupt:
        if not following:
            raise
        _stderr().print("stopped following logs", highlight=False)


async def _up(ref: ProjectRef, *, detach: bool, wait_timeout: float, force: bool,
              network: Network, output: OutputFormat | None, following: list[bool],
              ttl: str | None = None) -> None:
    from launchdeck.progress import Progress
    from launchdeck.tools.deploy import deploy

    await _announce(ref)
    console = _stderr()
    with Progress(console.console) as progress:
        result = await deploy(ref, wait_seconds=wait_timeout, force=force, network=network.value,
                              sink=progress, ttl=ttl)
    if output is OutputFormat.json:
        sys.stdout.write(result.model_dump_json(indent=2) + "\n")
        detach = True
    else:
        _print_services(result.services)
        _print_changes(result.changes)
    failed = [s.name for s in result.services if s.state.failed]
    changed = any(c.action != "NOOP" for c in result.changes)
    summary = f"failed: {', '.join(failed)}" if failed else \
        _counts(result.changes) if changed else "nothing changed"
    console.print(f"deployment {result.deployment_id}: {summary}", highlight=False)
    if not result.ok:
        for service in result.services:
            if service.message and service.state.failed:
                console.print(f"[red]{escape(service.name)}[/]: {escape(service.message)}",
                              highlight=False)
        raise typer.Exit(1)
    if not detach:
        console.print("following logs; Ctrl-C stops following (services keep running, "
                      "`launchdeck compose down` removes them)", highlight=False)
        following.append(True)
        await _follow(ref, [], None, 0)


@compose_app.command("plan")
@targeted()
def compose_plan(
    ref: ProjectRef,
    force: Annotated[bool, typer.Option("--build", "--force",
                                        help="Plan as if every service were to be rebuilt and "
                                             "recreated.")] = False,
    network: NetworkOption = Network.default,
    output: JsonFormat = None,
    mode: ModeOption = None,
) -> None:
    """Print what a deploy would change, unit by unit, and why; change nothing."""
    if mode is not None:
        ref = replace(ref, mode=mode.value)
    _run(_plan, ref, force=force, network=network, output=output)


async def _plan(ref: ProjectRef, *, force: bool, network: Network,
                output: OutputFormat | None) -> None:
    from launchdeck.tools.deploy import plan

    if output is not OutputFormat.json:
        await _announce(ref)
    result = await plan(ref, force=force, network=network.value)
    if output is OutputFormat.json:
        sys.stdout.write(result.model_dump_json(indent=2) + "\n")
        return
    _stderr().print(f"plan for {result.project} ({result.stack}) on {result.provider}: "
                    f"{_counts(result.changes)}", highlight=False)
    if result.mode:
        from launchdeck.engine.modes import of

        _stderr().print(f"mode {result.mode}: {of(result.mode).summary}", highlight=False)
    _print_changes(result.changes, everything=True)


def _counts(changes: list[ChangeSummary]) -> str:
    counted: dict[str, int] = {}
    for change in changes:
        counted[change.action.value] = counted.get(change.action.value, 0) + 1
    words = {"CREATE": "to create", "UPDATE": "to update", "REPLACE": "to replace",
             "DELETE": "to delete", "NOOP": "unchanged"}
    return ", ".join(f"{counted[a]} {w}" for a, w in words.items() if a in counted) or \
        "nothing to deploy"


def _print_changes(changes: list[ChangeSummary], *, everything: bool = False) -> None:
    """Each unit's action and why: the plan, or what a deploy did."""
    rows = [("UNIT", "KIND", "ACTION", "WHY")]
    rows += [(c.service, c.kind, c.action.value, c.reason or "-") for c in changes
             if everything or c.action != "NOOP"]
    if len(rows) > 1:
        _table(rows)


@compose_app.command("down")
@targeted(allow_new_account=True)
def compose_down(
    ref: ProjectRef,
    volumes: Annotated[bool, typer.Option("-v", "--volumes",
                                          help="Also delete the data volumes of managed stores "
                                               "and named volumes.")] = False,
    output: JsonFormat = None,
) -> None:
    """Remove the project's containers and network (data volumes are kept unless -v)."""
    _run(_down, ref, volumes=volumes, output=output)


async def _down(ref: ProjectRef, *, volumes: bool, output: OutputFormat | None) -> None:
    from launchdeck.tools.destroy import destroy

    await _announce(ref)
    result = await destroy(ref, volumes=volumes)
    if output is OutputFormat.json:
        sys.stdout.write(result.model_dump_json(indent=2) + "\n")
        return
    console = _stderr()
    for name in result.removed:
        console.print(f"removed {escape(name)}", highlight=False)
    if not result.removed:
        console.print(f"nothing to remove for {result.project} ({result.stack})", highlight=False)
    if result.kept:
        console.print(f"kept: {', '.join(result.kept)}"
                      + (" (--volumes deletes the volumes)"
                         if provider_description(result.provider).volumes_kept else ""),
                      highlight=False)


@compose_app.command("ps")
@targeted()
def compose_ps(ref: ProjectRef, output: JsonFormat = None) -> None:
    """List every service with its state, replicas, health and endpoints."""
    _run(_ps, ref, output=output)


async def _ps(ref: ProjectRef, *, output: OutputFormat | None) -> None:
    from launchdeck.tools.ps import ps

    if output is not OutputFormat.json:
        await _announce(ref)
    result = await ps(ref)
    if output is OutputFormat.json:
        sys.stdout.write(result.model_dump_json(indent=2) + "\n")
    else:
        _print_services(result.services)


def _print_services(services: list[ServiceStatus]) -> None:
    rows = [("SERVICE", "STATE", "REPLICAS", "HEALTH", "ENDPOINTS", "DEPLOYMENT")]
    for s in services:
        rows.append((s.name, s.state.value, f"{s.replicas_running}/{s.replicas_desired}",
                     s.health or "-", " ".join(s.endpoints) or "-", s.deployment_id or "-"))
    _table(rows)


@app.command("logs")
@targeted(profiles=False)
def logs_command(
    ref: ProjectRef,
    services: Annotated[list[str] | None, typer.Argument(metavar="[SERVICE]...",
                                                         help="Only these services.")] = None,
    follow: Annotated[bool, typer.Option("--follow", help="Keep printing new lines.")] = False,
    since: Annotated[str | None, typer.Option("--since", metavar="TIME",
                                              help="RFC 3339 time or a duration (10m).")] = None,
    until: Annotated[str | None, typer.Option("--until", metavar="TIME",
                                              help="RFC 3339 time or a duration (10m).")] = None,
    tail: Annotated[int | None, typer.Option("--tail", metavar="N",
                                             help="Only the last N lines.")] = None,
    deployment: Annotated[str | None, typer.Option(
        "--deployment", metavar="ID", help="One deployment's lines (an id, latest or previous; "
                                           "see `deployments ls`).")] = None,
    log_type: Annotated[LogType | None, typer.Option(
        "--type", help="With --deployment: build (its build output), run (what the services "
                       "printed while it was the latest), deploy (its timeline). Default: run.")]
    = None,
) -> None:
    """Print what the services wrote, merged in time order, each line prefixed by its service."""
    if follow and until:
        raise _usage("--until cannot be used with --follow")
    if deployment or log_type:
        if follow or since or until or tail is not None:
            raise _usage("--deployment and --type cannot be used with --follow, --since, --until "
                         "or --tail")
        _run(_deployment_logs, ref, deployment or "latest", (log_type or LogType.run).value,
             services or [])
        return
    try:
        _run(_logs, ref, services=services or [], follow=follow, since=since, until=until,
             tail=tail)
    except KeyboardInterrupt:
        if not follow:
            raise
        _stderr().print("stopped following logs", highlight=False)


# people who use Compose type `compose logs` first: the same command there too
compose_app.command("logs", help="Print what the services wrote (as `launchdeck logs`).")(
    logs_command)


async def _logs(ref: ProjectRef, *, services: list[str], follow: bool, since: str | None,
                until: str | None, tail: int | None) -> None:
    from launchdeck.tools.logs import logs

    await _announce(ref)
    if follow:
        await _follow(ref, services, since, tail)
        return
    result = await logs(ref, services=services, since=since, until=until, tail=tail)
    width = max((len(line.service) for line in result.lines), default=0)
    for line in result.lines:
        sys.stdout.write(f"{line.service.ljust(width)} | {line.text}\n")


async def _deployment_logs(ref: ProjectRef, deployment: str, kind: Any,
                           services: list[str]) -> None:
    from launchdeck.tools.deployments import logs

    await _announce(ref)
    result = await logs(ref, deployment, kind, services=services)
    width = max((len(line.service) for line in result.lines), default=0)
    for line in result.lines:
        sys.stdout.write(f"{line.service.ljust(width)} | {line.text}\n")
    if not result.lines:
        _stderr().print(f"no {kind} lines for deployment {result.deployment}", highlight=False)


async def _follow(ref: ProjectRef, services: list[str], since: str | None,
                  tail: int | None) -> None:
    from launchdeck.tools.logs import follow

    async for line in follow(ref, services=services, since=since, tail=tail):
        sys.stdout.write(f"{line.service} | {line.text}\n")
        sys.stdout.flush()


def _usage(message: str) -> LaunchdeckError:
    from launchdeck.errors import UsageError

    return UsageError(message)


@config_app.command("set")
@targeted(profiles=False)
def config_set(
    ref: ProjectRef,
    name: Annotated[str, typer.Argument(help="Config name, e.g. DATABASE_PASSWORD.")],
    random: Annotated[bool, typer.Option("--random", help="Generate a strong random value.")]
    = False,
) -> None:
    """Set a config value: typed at a hidden prompt, read from stdin, or --random."""
    from launchdeck.tools.config import MAX_VALUE, check_name, random_value

    check_name(name)
    if random:
        value = random_value()
    elif sys.stdin.isatty():
        value = typer.prompt(f"Value for {name}", hide_input=True, confirmation_prompt=True)
    else:  # bounded (`< /dev/zero` must not fill memory); bytes that are not UTF-8 kept so
        # that the value's check can refuse them by name
        value = sys.stdin.buffer.read(MAX_VALUE + 3).decode("utf-8", "surrogateescape")
        value = value.rstrip("\r\n")
    _run(_config_set, ref, name, value)


async def _config_set(ref: ProjectRef, name: str, value: str) -> None:
    from launchdeck.tools.config import config_set as set_value

    await _announce(ref)
    result = await set_value(ref, name, value)
    console = _stderr()
    console.print(f"set {name} for {result.project} ({result.stack}, {result.provider})",
                  highlight=False)
    if result.missing:
        console.print(f"still missing: {', '.join(result.missing)}", highlight=False)


@config_app.command("ls")
@targeted(profiles=False)
def config_ls(ref: ProjectRef) -> None:
    """List the names of the config values that are set (never the values)."""
    _run(_config_ls, ref)


async def _config_ls(ref: ProjectRef) -> None:
    from launchdeck.tools.config import config_list

    await _announce(ref)
    result = await config_list(ref)
    for name in result.names:
        sys.stdout.write(name + "\n")
    if result.missing:
        _stderr().print(f"missing (read by the project, not set): {', '.join(result.missing)}",
                        highlight=False)


@config_app.command("rm")
@targeted(profiles=False)
def config_rm(
    ref: ProjectRef,
    name: Annotated[str, typer.Argument(help="Config name.")],
) -> None:
    """Delete a config value."""
    _run(_config_rm, ref, name)


async def _config_rm(ref: ProjectRef, name: str) -> None:
    from launchdeck.tools.config import config_delete

    await _announce(ref)
    result = await config_delete(ref, name)
    _stderr().print(f"removed {name} from {result.project} ({result.stack})", highlight=False)


@app.command("whoami")
@targeted(files=False, profiles=False)
def whoami_command(ref: ProjectRef, output: JsonFormat = None) -> None:
    """Print the target commands would act on: account, caller, region, credentials."""
    from launchdeck.tools.whoami import whoami

    result = _run(whoami, ref)
    if output is OutputFormat.json:
        sys.stdout.write(result.model_dump_json(indent=2) + "\n")
        return
    sys.stdout.write(f"{result.line} (stack {result.stack})\n")
    for note in result.notes:
        _stderr().print(f"note: {note}", highlight=False, markup=False)


deployments_app = typer.Typer(help="The stack's deployments as its target keeps them (the last "
                                   "50): each deploy, rollback and destroy.",
                              no_args_is_help=True)
app.add_typer(deployments_app, name="deployments")


@deployments_app.command("ls")
@targeted(profiles=False)
def deployments_ls(
    ref: ProjectRef,
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000, help="The last N.")] = 50,
    output: JsonFormat = None,
) -> None:
    """List the deployments, newest first: id, when, outcome, who, commit."""
    _run(_deployments_ls, ref, limit=limit, output=output)


async def _deployments_ls(ref: ProjectRef, *, limit: int, output: OutputFormat | None) -> None:
    from launchdeck.tools.deployments import ls

    if output is not OutputFormat.json:
        await _announce(ref)
    result = await ls(ref, limit=limit)
    if output is OutputFormat.json:
        sys.stdout.write(result.model_dump_json(indent=2) + "\n")
        return
    if not result.deployments:
        _stderr().print(f"no deployments of {result.project} ({result.stack}) are kept here",
                        highlight=False)
        return
    rows = [("ID", "STARTED", "OPERATION", "OUTCOME", "WHO", "COMMIT")]
    for d in result.deployments:
        commit = (d.commit or "-")[:12] + ("+dirty" if d.dirty else "")
        operation = f"rollback to {d.rollback_of}" if d.rollback_of else d.operation
        rows.append((d.id, d.started.strftime("%Y-%m-%d %H:%M:%S"), operation, d.outcome,
                     d.who or "-", commit))
    _table(rows)


@deployments_app.command("show")
@targeted(profiles=False)
def deployments_show(
    ref: ProjectRef,
    deployment: Annotated[str, typer.Argument(metavar="[ID|latest|previous]",
                                              help="Which deployment.")] = "latest",
    output: JsonFormat = None,
) -> None:
    """Show one deployment: its origin, each unit (action, image, config digests, outcome) and
    its timeline."""
    _run(_deployments_show, ref, deployment, output=output)


async def _deployments_show(ref: ProjectRef, deployment: str, *,
                            output: OutputFormat | None) -> None:
    from launchdeck.tools.deployments import show

    if output is not OutputFormat.json:
        await _announce(ref)
    result = await show(ref, deployment)
    if output is OutputFormat.json:
        sys.stdout.write(result.model_dump_json(indent=2) + "\n")
        return
    d = result.deployment
    o = d.origin
    out = [f"deployment {d.id}: {d.operation} {d.outcome}"
           + (f" (rollback to {d.rollback_of})" if d.rollback_of else ""),
           f"started {d.started.isoformat(timespec='seconds')}"
           + (f", ended {d.ended.isoformat(timespec='seconds')}" if d.ended else ""),
           f"by {o.who or '-'} with launchdeck {o.version or '-'}",
           f"from commit {o.commit or '-'}" + (f" on {o.branch}" if o.branch else "")
           + (" (uncommitted changes)" if o.dirty else "")
           + (f", compose digest {o.compose_digest}" if o.compose_digest else "")]
    if d.expires:
        out.append(f"expires {d.expires.isoformat(timespec='seconds')}")
    if d.message:
        out.append(d.message)
    sys.stdout.write("\n".join(out) + "\n\n")
    rows = [("UNIT", "ACTION", "STATE", "IMAGE", "CONFIG")]
    rows += [(u.name, u.action, u.state or "-", u.image or "-",
              " ".join(f"{k}={v}" for k, v in u.config.items()) or "-") for u in d.units]
    _table(rows)
    if d.timeline:
        sys.stdout.write("\ntimeline:\n")
        for m in d.timeline:
            text = " ".join(filter(None, [m.state, m.message]))
            sys.stdout.write(f"  {m.at.strftime('%H:%M:%S.%f')[:-3]}  {m.unit or '-'}  {text}\n")


@app.command("rollback")
@targeted(allow_new_account=True)
def rollback_command(
    ref: ProjectRef,
    deployment: Annotated[str, typer.Argument(metavar="[ID|previous]",
                                              help="The deployment to go back to (default: the "
                                                   "last successful one before the latest).")]
    = "previous",
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print what would change and "
                                                            "change nothing.")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation (needed "
                                                          "when not on a terminal).")] = False,
    wait_timeout: Annotated[float, typer.Option("--wait-timeout", metavar="SECONDS",
                                                help="How long to wait for services to be "
                                                     "healthy.")] = 300,
    output: JsonFormat = None,
) -> None:
    """Run an earlier deployment's images again (no build), after showing what changes; config
    values and compose settings are today's."""
    _run(_rollback, ref, deployment, dry_run=dry_run, yes=yes, wait_timeout=wait_timeout,
         output=output)


async def _rollback(ref: ProjectRef, deployment: str, *, dry_run: bool, yes: bool,
                    wait_timeout: float, output: OutputFormat | None) -> None:
    from launchdeck.tools.rollback import preview, rollback

    await _announce(ref)
    shown = await preview(ref, deployment)
    console = _stderr()
    if output is OutputFormat.json and dry_run:
        sys.stdout.write(shown.model_dump_json(indent=2) + "\n")
        return
    console.print(f"rollback of {shown.plan.project} ({shown.plan.stack}) to deployment "
                  f"{shown.to}: {_counts(shown.plan.changes)}", highlight=False)
    _print_changes(shown.plan.changes)
    for name, image in shown.images.items():
        console.print(f"  {name} runs {image}", highlight=False, markup=False)
    if shown.config_changed:
        console.print("config changed since then (today's values are used): "
                      + ", ".join(shown.config_changed), highlight=False, markup=False)
    for name, settings in shown.settings_changed.items():
        console.print(f"{name}: settings changed since then (today's are used): "
                      + ", ".join(settings), highlight=False, markup=False)
    if shown.not_in_deployment:
        console.print("not in that deployment (deployed as today): "
                      + ", ".join(shown.not_in_deployment), highlight=False, markup=False)
    if not shown.images_checked:
        console.print("note: this target cannot confirm the images are still there",
                      highlight=False)
    if dry_run:
        console.print("nothing was changed (--dry-run)", highlight=False)
        return
    if not yes:
        if not sys.stdin.isatty():
            raise _usage("a rollback asks for confirmation: run it on a terminal, or pass --yes")
        if not typer.confirm("roll back?", default=False):
            console.print("nothing was changed", highlight=False)
            raise typer.Exit(1)
    from launchdeck.progress import Progress

    with Progress(console.console) as progress:
        result = await rollback(ref, deployment, wait_seconds=wait_timeout, sink=progress)
    if output is OutputFormat.json:
        sys.stdout.write(result.model_dump_json(indent=2) + "\n")
    else:
        _print_services(result.services)
    failed = [s.name for s in result.services if s.state.failed]
    console.print(f"deployment {result.deployment_id} (rollback to {result.rolled_back_to}): "
                  + (f"failed: {', '.join(failed)}" if failed else _counts(result.changes)),
                  highlight=False)
    if failed:
        raise typer.Exit(1)


stack_app = typer.Typer(help="Stacks: named targets kept in .launchdeck/ (commit them).",
                        no_args_is_help=True)
app.add_typer(stack_app, name="stack")


@stack_app.command("new")
def stack_new(
    name: Annotated[str, typer.Argument(help="Stack name, e.g. staging.")],
    provider: Annotated[Provider, typer.Option("--provider", help="Deployment target.")],
    region: RegionOption = None,
    aws_profile: Annotated[str | None, typer.Option("--profile", metavar="PROFILE",
                                                    help="AWS credentials profile.")] = None,
    cwd: Cwd = None,
    mode: ModeOption = None,
) -> None:
    """Write .launchdeck/NAME: the stack's provider, region, profile and mode."""
    from launchdeck.tools.stacks import new

    path = new(_folder(cwd), check_stack(name), provider=provider.value, region=region,
               profile=aws_profile, mode=mode.value if mode else None)
    _stderr().print(f"wrote {path}; deploy with --stack {name}", highlight=False)


@stack_app.command("ls")
def stack_ls(cwd: Cwd = None) -> None:
    """List the project's stacks with their provider, region and account."""
    from launchdeck.stacks import listed

    rows = [("STACK", "PROVIDER", "REGION", "PROFILE", "ACCOUNT", "MODE")]
    rows += [(s.name, s.provider or "-", s.region or "-", s.profile or "-", s.account or "-",
              s.mode or "affordable") for s in listed(_folder(cwd))]
    _table(rows)


@stack_app.command("rm")
def stack_rm(name: Annotated[str, typer.Argument(help="Stack name.")], cwd: Cwd = None) -> None:
    """Remove .launchdeck/NAME (what the stack deployed stays: `compose down` removes it)."""
    from launchdeck.stacks import remove

    if not remove(_folder(cwd), check_stack(name)):
        raise _usage(f"the project has no stack {name}")
    _stderr().print(f"removed the stack file of {name}", highlight=False)


@stack_app.command("gc")
@targeted(files=True, profiles=False, stack=False)
def stack_gc(
    ref: ProjectRef,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only list the expired stacks.")]
    = False,
    output: JsonFormat = None,
) -> None:
    """Remove every stack of the project on the target whose --ttl has passed, with its config
    values (data volumes are kept); a scheduled CI job runs it."""
    _run(_stack_gc, ref, dry_run=dry_run, output=output)


async def _stack_gc(ref: ProjectRef, *, dry_run: bool, output: OutputFormat | None) -> None:
    from launchdeck.tools.deployments import gc

    if output is not OutputFormat.json:
        await _announce(ref)
    result = await gc(ref, dry_run=dry_run)
    if output is OutputFormat.json:
        sys.stdout.write(result.model_dump_json(indent=2) + "\n")
        return
    console = _stderr()
    for stack in result.expired:
        done = "expired" if dry_run else "removed"
        values = "" if not stack.config else (
            f"; its config values {'would go too' if dry_run else 'too'}: "
            f"{', '.join(stack.config)}")
        console.print(f"{done}: {result.project} ({stack.stack}), expired "
                      f"{stack.expires.isoformat(timespec='seconds')}{values}", highlight=False)
    if not result.expired:
        console.print(f"no stack of {result.project} has expired", highlight=False)


def _folder(cwd: str | None) -> str:
    from launchdeck.paths import project_dir

    return str(project_dir(cwd or "."))


def _table(rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        sys.stdout.write("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True))
                         .rstrip() + "\n")


class Language(StrEnum):
    python = "python"
    nodejs = "nodejs"
    golang = "golang"


class Template(StrEnum):
    rest_api = "rest-api"
    postgres = "postgres"
    redis_worker = "redis-worker"
    llm_chat = "llm-chat"


@app.command("generate")
def generate_command(
    description: Annotated[str | None, typer.Argument(help="What the project should do (asked "
                                                      "on a terminal when left out).")] = None,
    language: Annotated[Language | None, typer.Option("--language", help="Default: from the "
                                                      "description, else python.")] = None,
    folder: Annotated[str | None, typer.Option("--folder", metavar="DIR",
                                               help="Where to create it (new or empty). "
                                                    "Default: ./<template>.")] = None,
    template: Annotated[Template | None, typer.Option("--template", help="Use this catalog "
                                                      "template as it is.")] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Write into a non-empty "
                                                                "folder.")] = False,
    output: JsonFormat = None,
) -> None:
    """Scaffold a deployable compose project (an LLM writes it when ANTHROPIC_API_KEY is set)."""
    from launchdeck.ai import generate as gen
    from launchdeck.ai.llm import from_environment
    from launchdeck.tools.generate import generate

    llm = from_environment()
    lang = language.value if language else None
    kind = template.value if template else None
    if description is None and sys.stdin.isatty() and sys.stdout.isatty():
        try:  # Ctrl-C at a question or while writing: nothing is left behind
            description, lang, kind, folder, guard = _guided(llm.name if llm else None)
            with guard(folder):
                result = _run(generate, description, folder, language=lang, template=kind,
                              overwrite=overwrite, llm=llm)
        except (KeyboardInterrupt, typer.Abort):
            _stderr().print("\ncancelled; nothing was written", highlight=False)
            raise typer.Exit(130) from None
    elif description is None:
        from launchdeck.errors import UsageError

        raise UsageError("no description was given", hint='Say what the project should do, e.g. '
                         '"a todo API that stores items in postgres"; on a terminal, leave it out '
                         "to be asked step by step.")
    else:
        target = folder or gen.choose(description, lang, kind).template
        result = _run(generate, description, target, language=lang, template=kind,
                      overwrite=overwrite, llm=llm)
    if output is OutputFormat.json:
        sys.stdout.write(result.model_dump_json(indent=2) + "\n")
        return
    console = _stderr()
    source = f"template {result.language}/{result.template}" if result.template else "the LLM"
    console.print(f"wrote {result.folder} from {source}:", highlight=False)
    for name in result.files:
        sys.stdout.write(f"  {name}\n")
    for note in result.notes:
        console.print(f"note: {note}", highlight=False)
    for name in result.config:
        console.print(f"it reads config {name}: launchdeck config set {name} -C {result.folder} "
                      "(or --random)", highlight=False)
    console.print(f"next: launchdeck compose up -C {result.folder}", highlight=False)


def _guided(model: str | None) -> tuple[str, str, str | None, str, Callable[[str], Any]]:
    """Ask on the terminal for what generate needs; with the guard for writing the folder."""
    from pathlib import Path

    from launchdeck.guide import nothing_left_on_interrupt, questions

    def ask(question: str, default: str) -> str:
        return str(typer.prompt(question, default=default, show_default=bool(default)))

    answers = questions(ask, typer.echo, model=model, cwd=Path.cwd())
    return (answers.description, answers.language, answers.template, str(answers.folder),
            lambda target: nothing_left_on_interrupt(Path(target)))


@app.command("debug")
@targeted(profiles=False)
def debug_command(
    ref: ProjectRef,
    service: Annotated[str | None, typer.Argument(metavar="[SERVICE]",
                                                  help="Only this service.")] = None,
    deployment: Annotated[str | None, typer.Option("--deployment", metavar="ID",
                                                   help="Only this deployment.")] = None,
    output: JsonFormat = None,
) -> None:
    """Explain why services failed: cause, evidence and fix (with an LLM when one is set)."""
    from launchdeck.ai.llm import from_environment
    from launchdeck.tools.debug import debug

    result = _run(debug, ref, deployment=deployment, service=service, llm=from_environment())
    if output is OutputFormat.json:
        sys.stdout.write(result.model_dump_json(indent=2) + "\n")
        return
    from launchdeck.ai.debug import render

    shown = render(result.findings, result.evidence)
    if shown:
        sys.stdout.write(shown + "\n")
    _stderr().print(result.next_step, highlight=False)


@app.command("portal")
def portal_command(
    files: Files = None,
    cwd: Cwd = None,
    project_name: ProjectName = None,
    profile: Profiles = None,
    stack: Stack = DEFAULT_STACK,
    providers: Annotated[list[Provider] | None, typer.Option(
        "--provider", help="Deployment target(s) whose deployments to show (repeat for more).")]
    = None,
    port: Annotated[int, typer.Option("--port", min=0, max=65535,
                                      help="Port on 127.0.0.1 (default: a free one).")] = 0,
    open_browser: Annotated[bool, typer.Option("--open", help="Open the page in a browser.")]
    = False,
) -> None:
    """Serve a local page that shows every deployment live (and the project here: its plan and
    actions)."""
    from pathlib import Path

    from launchdeck.compose.load import has_compose_file
    from launchdeck.portal.catalog import Catalog, OnDisk
    from launchdeck.portal.serve import bind, serve

    # like every other command, the project in the current directory, when there is one
    here = cwd or files or project_name or has_compose_file(Path.cwd())
    on_disk = OnDisk(cwd or ".", tuple(files or ()), project_name, tuple(profile or ())) \
        if here else None
    chosen = [p.value for p in providers] if providers else [default_provider()]
    catalog = Catalog(list(dict.fromkeys(chosen)), check_stack(stack), on_disk)
    bound = bind(port)

    def started() -> None:
        sys.stdout.write(bound.url + "\n")
        sys.stdout.flush()
        _stderr().print("portal: open the address above (it holds the session token); Ctrl-C "
                        "stops it", highlight=False)
        if open_browser:
            import webbrowser

            webbrowser.open(bound.url)

    serve(catalog, bound, started=started)


# -- estimate and CI ----------------------------------------------------------------------------


@app.command("estimate")
@targeted(region=False)
def estimate_command(
    ref: ProjectRef,
    region: Annotated[str | None, typer.Option("--region", metavar="REGION", help="Region to "
                                               "price (default: AWS_REGION / GCP_REGION, else "
                                               "the stack's, else us-east-1 / us-central1).")] = None,
    hours: Annotated[float, typer.Option("--hours", min=0, max=744,
                                         help="Hours a month everything runs.")] = 730,
    traffic_gb: Annotated[float, typer.Option("--traffic-gb", min=0, help="GB a month served to "
                                              "the internet.")] = 10,
    output: JsonFormat = None,
    mode: Annotated[ModeChoice | None, typer.Option(
        "--mode", help="The stack mode to price (default: the stack's).")] = None,
    compare: Annotated[ModeChoice | None, typer.Option(
        "--compare", help="Another mode: print how much more or less the priced one costs.")]
    = None,
) -> None:
    """Estimate the project's monthly cost on a cloud, per service, offline from list prices."""
    from launchdeck.tools.estimate import Assumptions, estimate, render

    if mode is not None:
        ref = replace(ref, mode=mode.value)
    result = _run(estimate, ref, region=region,
                  assumptions=Assumptions(hours_per_month=hours, egress_gb=traffic_gb),
                  compare=compare.value if compare else None)
    if output is OutputFormat.json:
        sys.stdout.write(result.model_dump_json(indent=2) + "\n")
        return
    sys.stdout.write(render(result) + "\n")
    if result.region is None:
        priced = [n for n in provider_names() if provider_description(n).prices]
        _stderr().print("estimate a cloud with " + " or ".join(f"--provider {n}" for n in priced),
                        highlight=False)


ci_app = typer.Typer(help="Run as a CI step (the GitHub Action's entry point).",
                     no_args_is_help=True)
app.add_typer(ci_app, name="ci")


@ci_app.command("github")
def ci_github() -> None:
    """Run the action's INPUT_COMMAND (up, plan, down, preview, gc) with CONFIG_* secrets,
    annotations, a job summary and step outputs; everything comes from the GitHub Actions
    environment."""
    from launchdeck.ci import main as run_action

    raise typer.Exit(run_action(os.environ))


class Client(StrEnum):
    claude_desktop = "claude-desktop"
    claude_code = "claude-code"
    cursor = "cursor"
    vscode = "vscode"
    windsurf = "windsurf"


@mcp_app.command("serve", context_settings={"allow_extra_args": True,
                                            "ignore_unknown_options": True,
                                            "help_option_names": []})
def mcp_serve(ctx: typer.Context) -> None:
    """Serve launchdeck's tools over MCP (stdio by default; --help for the options)."""
    from launchdeck.server.serve import main as serve

    serve(list(ctx.args))


@mcp_app.command("setup")
def mcp_setup(
    client: Annotated[Client, typer.Option("--client", help="The MCP client to configure.")],
    print_only: Annotated[bool, typer.Option("--print", help="Print the snippet instead of "
                                                             "writing the file.")] = False,
    read_only: Annotated[bool, typer.Option("--read-only", help="A server that offers only the "
                                                                "tools that change nothing.")]
    = False,
) -> None:
    """Add launchdeck to an MCP client's configuration (keeps other servers, backs up)."""
    from launchdeck.server.setup import setup

    result = setup(client.value, write=not print_only, read_only=read_only)
    console = _stderr()
    if print_only:
        sys.stdout.write(result.snippet + "\n")
        console.print(f"add it to {result.path}", highlight=False)
    elif result.changed:
        backup = f" (previous file saved as {result.backup})" if result.backup else ""
        console.print(f"added launchdeck to {result.path}{backup}; restart {client.value}",
                      highlight=False)
    else:
        console.print(f"{result.path} already has launchdeck; nothing changed", highlight=False)


def _yaml(data: object) -> str:
    import yaml

    class _Dumper(yaml.SafeDumper):
        def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
            super().increase_indent(flow, False)  # indent list items under their key

    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)


class _Stderr:
    """The stderr console, made on its first print: importing rich is a tenth of a clean
    ``compose config`` run, and a command that prints nothing on stderr never needs it."""

    def __init__(self) -> None:
        self._console: Console | None = None

    @property
    def console(self) -> Console:
        if self._console is None:
            from rich.console import Console

            # emoji off: rich would turn a finding's `compose.yaml:100:` into an emoji
            self._console = Console(stderr=True, soft_wrap=True, emoji=False)
        return self._console

    def print(self, *objects: Any, **options: Any) -> None:
        self.console.print(*objects, **options)


def _stderr() -> _Stderr:
    return _Stderr()


_COMMANDS = {"deploy": "compose up", "plan": "compose plan", "ps": "compose ps", "logs": "logs",
             "debug": "debug", "destroy": "compose down", "config_set": "config set",
             "config_list": "config ls", "config_delete": "config rm", "check": "compose config"}


def command(action: Action) -> str:
    """An action as the command line that does it."""
    args = dict(action.args)
    words = ["launchdeck", _COMMANDS.get(action.operation, action.operation)]
    for positional in ("name", "service"):
        if args.get(positional):
            words.append(str(args.pop(positional)))
    if args.pop("random", False):
        words.append("--random")
    provider, stack = args.pop("provider", default_provider()), args.pop("stack", DEFAULT_STACK)
    if provider != default_provider():
        words.append(f"--provider {provider}")
    if stack != DEFAULT_STACK:
        words.append(f"--stack {stack}")
    words += [f"--{key.replace('_', '-')} {value}" for key, value in args.items()]
    return " ".join(words)


def main() -> None:
    """Run the CLI; show a LaunchdeckError as its message, never as a traceback."""
    try:
        app(prog_name="launchdeck")
    except LaunchdeckError as exc:
        console = _stderr()
        console.print("[red]error:[/] " + escape(exc.message), highlight=False)
        if exc.hint:
            console.print(exc.hint, highlight=False, markup=False)
        for action in exc.actions:
            console.print(f"  run: {command(action)}", highlight=False, markup=False)
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
