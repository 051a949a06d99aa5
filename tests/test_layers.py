"""What the layers above providers/ may know of a provider: its description, never its name."""

from __future__ import annotations

import re
from pathlib import Path

import launchdeck
from launchdeck import providers

PACKAGE = Path(launchdeck.__file__).parent


def test_no_provider_name_is_written_above_providers() -> None:
    """No module outside launchdeck/providers/ spells a provider's name as a string."""
    names = "|".join(map(re.escape, providers.names()))
    literal = re.compile(rf"[\"']({names})[\"']")
    found = [f"{path.relative_to(PACKAGE)}:{number}: {line.strip()}"
             for path in sorted(PACKAGE.rglob("*.py"))
             if "providers" not in path.relative_to(PACKAGE).parts[:1]
             for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
             if literal.search(line)]
    assert found == []


def test_every_provider_describes_itself() -> None:
    """Each registered provider has a description under its own name, with its capabilities."""
    for name in providers.names():
        described = providers.description(name)
        assert described.name == name
        assert described.capabilities == providers.capabilities(name)


def test_compose_validation_does_not_read_the_registry() -> None:
    """compose/validate.py gets what a target can run from its caller."""
    source = (PACKAGE / "compose" / "validate.py").read_text(encoding="utf-8")
    assert "launchdeck.providers" not in source


def test_no_module_above_providers_imports_a_provider_package() -> None:
    """Outside launchdeck/providers/, only the registry (launchdeck.providers) is imported."""
    names = "|".join(map(re.escape, providers.names()))
    reaching = re.compile(rf"launchdeck\.providers\.({names})\b")
    found = [f"{path.relative_to(PACKAGE)}:{number}: {line.strip()}"
             for path in sorted(PACKAGE.rglob("*.py"))
             if "providers" not in path.relative_to(PACKAGE).parts[:1]
             for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
             if reaching.search(line)]
    assert found == []
