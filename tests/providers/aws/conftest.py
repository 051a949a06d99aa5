"""The AWS provider's fixtures: a moto server on 127.0.0.1 and a provider pointed at it."""

from __future__ import annotations

import shutil
from pathlib import Path

import anyio
import pytest

from launchdeck.providers.aws.api import Aws
from launchdeck.providers.aws.provider import AwsProvider
from launchdeck.tools.project import ProjectRef
from testkit import aws as T

SHOP = Path(__file__).parent / "shop"
SECRETS = {"API_KEY": "sk-shop-9f8e7d6c5b4a", "POSTGRES_PASSWORD": "pw-shop-1a2b3c4d5e6f"}


@pytest.fixture(scope="session")
def moto_server():
    with T.MotoServer() as server:
        yield server


@pytest.fixture
def aws_env(moto_server: T.MotoServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """A clean moto account reached the way boto3 defines it: AWS_ENDPOINT_URL and keys."""
    moto_server.reset()
    for key, value in moto_server.env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("LAUNCHDECK_STATE_DIR", str(tmp_path / "state"))
    T.session().client("route53").create_hosted_zone(Name="example.com", CallerReference="tests")
    return moto_server


@pytest.fixture
def strict() -> T.Strict:
    """AWS's documented rules moto does not enforce; a test whose requests break one fails."""
    checker = T.Strict()
    yield checker
    assert checker.violations == [], "requests AWS would refuse:\n" + "\n".join(checker.violations)


@pytest.fixture
def boto(aws_env, strict):
    """The boto3 session the provider uses: held to AWS's rules, its images pushed as CodeBuild
    would push them."""
    session = T.session()
    strict.attach(session)
    T.codebuild_pushes(session)
    return session


@pytest.fixture
def calls(boto) -> T.Calls:
    """Every API call the provider makes (hooks reach only clients made after attaching)."""
    return T.Calls().attach(boto)


@pytest.fixture
def provider(boto, calls) -> AwsProvider:
    return AwsProvider(Aws(boto), poll=0.01)


@pytest.fixture
def shop(tmp_path: Path, aws_env) -> ProjectRef:
    """The realistic project, copied to a fresh folder, with its config set in SSM."""
    folder = tmp_path / "shop"
    shutil.copytree(SHOP, folder)
    store = AwsProvider(Aws(T.session())).config_store("shop", "dev")

    async def set_all() -> None:
        for name, value in SECRETS.items():
            await store.set(name, value)

    anyio.run(set_all)
    return ProjectRef(working_directory=str(folder), provider="aws", stack="dev")
