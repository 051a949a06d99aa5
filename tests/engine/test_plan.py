"""Planning compares what should run with what last ran, and decides without side effects."""

from __future__ import annotations

import pytest

from launchdeck.compose.model import Service
from launchdeck.engine.plan import Action, Actual, Desired, plan, service_hash


@pytest.mark.parametrize(
    ("desired", "actual", "action"),
    [
        (Desired("h1", 1), [], Action.CREATE),
        (Desired("h1", 1), [Actual("h1", True)], Action.NOOP),
        (Desired("h2", 1), [Actual("h1", True)], Action.REPLACE),
        (Desired("h1", 3), [Actual("h1", True)], Action.UPDATE),
        (Desired("h1", 1), [Actual("h1", False)], Action.UPDATE),
        (None, [Actual("h1", True)], Action.DELETE),
    ],
)
def test_plan_action(desired, actual, action) -> None:
    """Each difference between desired and actual maps to one action."""
    (change,) = plan({"web": desired} if desired else {}, {"web": actual})
    assert change.action is action


def test_force_replaces_unchanged_services() -> None:
    """--force turns a NOOP into a REPLACE."""
    (change,) = plan({"web": Desired("h", 1)}, {"web": [Actual("h", True)]}, force=True)
    assert change.action is Action.REPLACE


def _service(**fields) -> Service:
    return Service.model_validate({"name": "web", "image": "nginx", **fields})


def test_hash_changes_with_settings_image_and_config_values() -> None:
    """The hash moves when the service, its image or a config value it reads changes."""
    base = _service(environment={"PW": None})
    h = service_hash(base, "sha256:a", {"PW": "one"})
    assert h == service_hash(_service(environment={"PW": None}), "sha256:a", {"PW": "one"})
    assert h != service_hash(base, "sha256:b", {"PW": "one"})
    assert h != service_hash(base, "sha256:a", {"PW": "two"})
    assert h != service_hash(_service(environment={"PW": None, "X": "1"}), "sha256:a",
                             {"PW": "one"})


def test_hash_ignores_replicas_and_unread_config() -> None:
    """Scaling and config the service does not read leave the hash alone."""
    one = service_hash(_service(deploy={"replicas": 1}), "i", {"OTHER": "x"})
    assert one == service_hash(_service(deploy={"replicas": 5}), "i", {"OTHER": "y"})


def test_hash_does_not_contain_the_value() -> None:
    """A config value cannot be read back out of the hash."""
    value = "correct-horse-battery-staple"
    assert value not in service_hash(_service(environment={"PW": None}), "i", {"PW": value})
