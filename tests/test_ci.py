"""The action's logic in launchdeck/ci.py, in-process: masking first, workflow command escaping,
config values stored."""

from __future__ import annotations

import io
import secrets
from pathlib import Path

import anyio
import pytest

from launchdeck.ci import Inputs, Runner, escape_data, escape_property, load_checked, main, store_config
from launchdeck.providers.local.provider import LocalProvider
from testkit import BUSYBOX


def test_values_are_masked_line_by_line_before_anything_else(tmp_path) -> None:
    """Every line of every CONFIG_* value is masked before the first other line is printed."""
    out = io.StringIO()
    code = main({"CONFIG_CERT": "line-one-aaaa\nline-two-bbbb", "CONFIG_TOKEN": "tok-cccc",
                 "INPUT_COMMAND": "explode", "GITHUB_WORKSPACE": str(tmp_path)}, out=out)
    lines = out.getvalue().splitlines()
    assert code == 1
    assert lines[:3] == ["::add-mask::line-one-aaaa", "::add-mask::line-two-bbbb",
                         "::add-mask::tok-cccc"]
    assert lines[3].startswith("::error title=launchdeck::unknown command 'explode'")


@pytest.mark.parametrize(("text", "data", "prop"), [
    ("plain", "plain", "plain"),
    ("50% done\nnext", "50%25 done%0Anext", "50%25 done%0Anext"),
    ("app/compose.yaml:3, web", "app/compose.yaml:3, web", "app/compose.yaml%3A3%2C web"),
])
def test_workflow_command_escaping(text: str, data: str, prop: str) -> None:
    """Messages and properties are escaped as GitHub's runner reads them."""
    assert escape_data(text) == data and escape_property(text) == prop


def _project(folder: Path) -> str:
    name = f"ci-{secrets.token_hex(4)}"
    (folder / "compose.yaml").write_text(f"name: {name}\nservices:\n  web:\n    image: {BUSYBOX}\n"
                                         "    environment: [CERT, TOKEN]\n")
    return name


def test_config_values_are_stored_in_process_as_config_set_stores_them(tmp_path: Path,
                                                                       state: Path) -> None:
    """Each value goes to the target's store with its trailing newline dropped; the log names
    what was set, never a value."""
    name = _project(tmp_path)
    inputs = Inputs.from_env({"GITHUB_WORKSPACE": str(tmp_path), "INPUT_PROVIDER": "local"})
    runner, err = Runner({}, io.StringIO()), io.StringIO()
    checked = load_checked(inputs, runner)
    assert checked is not None
    assert anyio.run(store_config, *checked,
                     {"CERT": "line-one-aaaa\nline-two-bbbb\n", "TOKEN": "tok-cccc"}, runner, err)
    stored = anyio.run(LocalProvider().config_store(name, "dev").values, ["CERT", "TOKEN"])
    assert stored == {"CERT": "line-one-aaaa\nline-two-bbbb", "TOKEN": "tok-cccc"}
    assert err.getvalue() == f"set CERT for {name} (dev, local)\nset TOKEN for {name} (dev, local)\n"


def test_one_empty_value_stores_none_of_them(tmp_path: Path, state: Path) -> None:
    """Every name and value is checked before any is stored."""
    _project(tmp_path)
    out = io.StringIO()
    code = main({"CONFIG_CERT": "cert-value-1", "CONFIG_TOKEN": "", "INPUT_PROVIDER": "local",
                 "GITHUB_WORKSPACE": str(tmp_path)}, out=out, err=io.StringIO())
    assert code == 1
    assert "::error title=config::CONFIG_TOKEN is empty" in out.getvalue()
    assert not state.exists() or not any(state.rglob("*.json"))


def test_neutralise_breaks_workflow_commands_at_line_starts() -> None:
    """A relayed line that starts with `::` (after spaces) is no workflow command any more,
    also when it arrives in pieces."""
    from launchdeck.ci import Relay, neutralise

    assert neutralise("::set-output name=a::b\nok ::x\n  ::error::e") == \
        ":\u200b:set-output name=a::b\nok ::x\n  :\u200b:error::e"
    out = io.StringIO()
    relay = Relay(out)
    for piece in ("web | ", "::x\n", "::stop-commands::tok", "\n"):
        relay.write(piece)
    assert [line.lstrip().startswith("::") for line in out.getvalue().splitlines()] == [False, False]


CERT = ("-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n"
        "-----END PRIVATE KEY-----")


def test_a_failed_service_cannot_run_workflow_commands_or_show_a_value(
        tmp_path: Path, state: Path, docker_api) -> None:
    """A failing service that prints workflow commands and a multi-line config value: nothing
    it printed starts a line with `::` on stderr, and no line of the value is in the summary."""
    name = f"ci-inject-{secrets.token_hex(4)}"
    (tmp_path / "compose.yaml").write_text(f"""\
name: {name}
services:
  web:
    image: {BUSYBOX}
    command:
      - sh
      - -c
      - echo '::stop-commands::tok'; echo '::error title=injected::pwned'; echo "$$CERT"; exit 3
    environment: [CERT]
""")
    summary = tmp_path / "summary.md"
    out, err = io.StringIO(), io.StringIO()
    try:
        code = main({"CONFIG_CERT": CERT, "INPUT_PROVIDER": "local",
                     "GITHUB_WORKSPACE": str(tmp_path), "GITHUB_STEP_SUMMARY": str(summary)},
                    out=out, err=err)
    finally:
        label = {"label": [f"dev.launchdeck.project={name}"]}
        for c in docker_api.containers(all=True, filters=label):
            docker_api.remove_container(c["Id"], force=True, v=True)
        for n in docker_api.networks(filters=label):
            docker_api.remove_network(n["Id"])
    assert code == 1
    relayed = err.getvalue()
    assert "stop-commands::tok" in relayed + summary.read_text()  # it was shown, as text
    assert not [line for line in relayed.splitlines() if line.lstrip().startswith("::")]
    # on stdout the service's lines are only escaped data inside launchdeck's own annotation
    assert not any(line.startswith(("::stop-commands", "::error title=injected"))
                   for line in out.getvalue().splitlines())
    assert "[config value]" in summary.read_text()  # the service printed it; it is hidden
    for line in CERT.splitlines():
        assert line not in summary.read_text() and line not in relayed


def test_a_value_with_nul_is_refused_by_name(tmp_path: Path, state: Path) -> None:
    """CONFIG_<NAME> holding a NUL is refused as `config set` refuses it; nothing is stored."""
    _project(tmp_path)
    out = io.StringIO()
    code = main({"CONFIG_CERT": "hunter2\x00tail", "CONFIG_TOKEN": "tok-cccc",
                 "INPUT_PROVIDER": "local", "GITHUB_WORKSPACE": str(tmp_path)},
                out=out, err=io.StringIO())
    assert code == 1
    errors = [line for line in out.getvalue().splitlines() if line.startswith("::error")]
    assert any("the value of CERT contains a NUL character" in line for line in errors)
    assert not any("hunter2" in line for line in errors)
    assert not state.exists() or not any(state.rglob("*.json"))
