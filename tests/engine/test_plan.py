"""Planning compares a unit's digest with the one its target holds, and decides without side effects."""

from __future__ import annotations

import pytest

from launchdeck.compose.model import Service
from launchdeck.engine.plan import Action, combine, decide, service_parts


@pytest.mark.parametrize(
    ("found", "replicas", "ready", "replace", "action"),
    [
        (None, 1, True, False, Action.CREATE),
        ("h1", 1, True, False, Action.NOOP),
        ("h0", 1, True, False, Action.UPDATE),
        ("h0", 1, True, True, Action.REPLACE),
        ("h1", 3, True, False, Action.UPDATE),
        ("h1", 1, False, False, Action.UPDATE),
    ],
)
def test_each_difference_maps_to_one_action(found, replicas, ready, replace, action) -> None:
    """A missing unit is created, a changed one updated (or replaced), an idle one left alone."""
    got, _ = decide("h1", 1, found, replicas, ready, replace_on_change=replace)
    assert got is action


def test_force_replaces_an_unchanged_unit() -> None:
    """--force turns a NOOP into a REPLACE."""
    assert decide("h", 1, "h", 1, True, force=True)[0] is Action.REPLACE


def _parts(**environment: str) -> dict[str, str]:
    service = Service(name="web", image="nginx", environment=environment)
    return service_parts(service, "sha256:1", {}, project="p", stack="dev")


def test_the_reason_names_the_settings_that_changed() -> None:
    """With the parts last applied at hand, the plan says which setting moved."""
    applied, now = _parts(A="1"), _parts(A="2")
    action, reason = decide(combine(now), 1, combine(applied), 1, True, parts=now, applied=applied)
    assert action is Action.UPDATE and reason == "environment changed"


def test_without_a_record_the_reason_is_general() -> None:
    """A target changed behind the record's back: the plan cannot say what moved."""
    applied, now = _parts(A="1"), _parts(A="2")
    _, reason = decide(combine(now), 1, "something-else", 1, True, parts=now, applied=applied)
    assert reason == "settings changed"


def test_parts_move_with_settings_image_and_config_values() -> None:
    """The digest moves when the service, its image or a config value it reads changes."""
    service = Service(name="web", image="nginx", environment={"KEY": None})
    base = service_parts(service, "sha256:1", {"KEY": "a"}, project="p", stack="dev")
    assert combine(base) == combine(service_parts(service, "sha256:1", {"KEY": "a"}, project="p",
                                                  stack="dev"))
    assert combine(base) != combine(service_parts(service, "sha256:2", {"KEY": "a"}, project="p",
                                                  stack="dev"))
    assert combine(base) != combine(service_parts(service, "sha256:1", {"KEY": "b"}, project="p",
                                                  stack="dev"))
    other = Service(name="web", image="nginx", environment={"KEY": None}, command=["run"])
    assert combine(base) != combine(service_parts(other, "sha256:1", {"KEY": "a"}, project="p",
                                                  stack="dev"))


def test_config_values_enter_only_as_salted_digests() -> None:
    """No part holds a config value, or its plain digest."""
    import hashlib

    service = Service(name="web", image="nginx", environment={"KEY": None})
    parts = service_parts(service, "i", {"KEY": "hunter2-secret"}, project="p", stack="dev")
    plain = hashlib.sha256(b"hunter2-secret").hexdigest()
    assert all("hunter2" not in v and v not in plain for v in parts.values())


def test_replicas_are_not_part_of_a_local_digest() -> None:
    """Scaling does not replace running replicas: replicas stay out of the parts."""
    one = Service.model_validate({"name": "web", "image": "nginx", "deploy": {"replicas": 1}})
    two = Service.model_validate({"name": "web", "image": "nginx", "deploy": {"replicas": 2}})
    assert combine(service_parts(one, "i", {}, project="p", stack="s")) == \
        combine(service_parts(two, "i", {}, project="p", stack="s"))
