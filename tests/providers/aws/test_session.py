"""A deploy's session without AWS: the order its units start in, and its waits giving up."""

from __future__ import annotations

import anyio
import pytest

from launchdeck.compose.load import load
from launchdeck.errors import ProviderError
from launchdeck.providers.aws import session as aws_session
from launchdeck.providers.base import DeployOptions


class _Aws:
    """Answers only what making a namespace asks, with an operation that never finishes."""

    region = "us-east-1"

    async def __call__(self, service: str, operation: str, /, **params):
        if operation == "create_http_namespace":
            return {"OperationId": "op-1"}
        assert operation == "get_operation", operation
        return {"Operation": {"Status": "PENDING"}}


def _session(project, text: str, said: list | None = None) -> aws_session.AwsSession:
    loaded = load(cwd=str(project({"compose.yaml": text})), os_environ={})
    sink = (lambda event: said.append(event.message)) if said is not None else (lambda event: None)
    return aws_session.AwsSession(_Aws(), "123456789012", loaded.project, "dev", {}, "etag",
                                  DeployOptions(), sink, 0.001)


def test_a_namespace_cloud_map_never_makes_is_given_up_on_with_its_status(project, monkeypatch) -> None:
    """A namespace operation stuck in PENDING ends in an error naming it, not an endless wait."""
    monkeypatch.setattr(aws_session, "NAMESPACE_WAIT", 0.05)
    said: list[str] = []
    session = _session(project, "name: demo\nservices:\n  web:\n    image: nginx\n", said)
    with pytest.raises(ProviderError, match="gave up waiting for the service namespace .*: still pending"):
        anyio.run(session._namespace)
    assert said[0] == "the service namespace: pending"
