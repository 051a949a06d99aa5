"""The stand-ins every provider test may reach, shared with the tests that run against all
targets at once (the contract, the upgrade): the moto server (tests/providers/aws/conftest.py)
and the local GCP (tests/providers/gcp/conftest.py)."""

from tests.providers.aws.conftest import aws_env, boto, calls, moto_server, strict  # noqa: F401
from tests.providers.gcp.conftest import fake, fake_server, gcp, old_project  # noqa: F401
