"""What a region's projects share: the ECS service-linked role, and roles used right after creation."""

from __future__ import annotations

import anyio
import pytest

from launchdeck.errors import ProviderError
from launchdeck.providers.aws import region
from launchdeck.providers.aws.api import Aws, AwsError


def test_the_ecs_service_linked_role_is_made_once_however_many_ask_at_once(boto, calls) -> None:
    """Deploys racing on a fresh account all get the role; the losers' "already exists" is fine."""
    aws = Aws(boto)

    async def race() -> None:
        async with anyio.create_task_group() as group:
            for _ in range(4):
                group.start_soon(region.ecs_service_role, aws)

    anyio.run(race)
    roles = boto.client("iam").list_roles(PathPrefix=region.ECS_SERVICE_ROLE_PATH)["Roles"]
    assert len(roles) == 1
    calls.clear()
    anyio.run(region.ecs_service_role, aws)
    assert calls.mutating() == []


def _refusing(times: int, code: str, message: str):
    attempts: list[int] = []

    async def step() -> str:
        attempts.append(1)
        if len(attempts) <= times:
            raise AwsError(f"AWS refused ecs create service: {code}: {message}", code=code)
        return "made"

    return step, attempts


@pytest.mark.parametrize(("code", "message"), [
    ("InvalidInputException", "CodeBuild is not authorized to perform: sts:AssumeRole on role/r"),
    ("InvalidParameterException", "Unable to assume role and validate the specified targetGroupArn"),
    ("ClientException", "Role is not valid"),
])
def test_the_first_use_of_a_new_role_is_retried_while_iam_propagates_it(code, message) -> None:
    step, attempts = _refusing(2, code, message)
    assert anyio.run(lambda: region.first_use(step, what="the new role", interval=0.001)) == "made"
    assert len(attempts) == 3


def test_any_other_refusal_of_a_first_use_is_raised_at_once() -> None:
    step, attempts = _refusing(5, "InvalidParameterException", "The container web does not exist")
    with pytest.raises(AwsError, match="does not exist"):
        anyio.run(lambda: region.first_use(step, what="the new role", interval=0.001))
    assert len(attempts) == 1


def test_a_role_iam_never_propagates_is_given_up_on_saying_so() -> None:
    step, attempts = _refusing(1000, "ClientException", "Role is not valid")
    with pytest.raises(ProviderError, match="gave up waiting for the new role .*: still IAM has not "
                                            "propagated it yet"):
        anyio.run(lambda: region.first_use(step, what="the new role", interval=0.001, timeout=0.02))
    assert len(attempts) > 1
