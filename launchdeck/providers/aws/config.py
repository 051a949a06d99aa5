"""Config values on AWS: SSM Parameter Store SecureStrings under /launchdeck/<project>/<stack>/."""

from __future__ import annotations

from collections.abc import Sequence

from launchdeck.providers.aws import names
from launchdeck.providers.aws.api import Aws, AwsError


class SsmConfigStore:
    """One SecureString per name, tagged with its project and stack, encrypted with the
    account's default SSM key. Values are read only to hand them to a deploy."""

    def __init__(self, aws: Aws, project: str, stack: str) -> None:
        self._aws = aws
        self.project, self.stack = project, stack
        self._prefix = names.parameter(project, stack, "")

    async def set(self, name: str, value: str) -> None:
        self._aws.check()
        path = names.parameter(self.project, self.stack, name)
        try:  # tags can only be given when the parameter is created
            await self._aws("ssm", "put_parameter", Name=path, Value=value, Type="SecureString",
                            Tags=names.tag_list(names.tags(self.project, self.stack)))
        except AwsError as exc:
            if exc.code != "ParameterAlreadyExists":
                raise
            await self._aws("ssm", "put_parameter", Name=path, Value=value, Type="SecureString",
                            Overwrite=True)

    async def names(self) -> list[str]:
        self._aws.check()
        found = await self._aws.pages("ssm", "get_parameters_by_path", "Parameters",
                                      Path=self._prefix.rstrip("/"), Recursive=False,
                                      WithDecryption=False)
        return sorted(p["Name"].removeprefix(self._prefix) for p in found)

    async def delete(self, name: str) -> bool:
        self._aws.check()
        gone = await self._aws.maybe("ssm", "delete_parameter", ("ParameterNotFound",),
                                     Name=names.parameter(self.project, self.stack, name))
        return gone is not None

    async def values(self, wanted: Sequence[str]) -> dict[str, str]:
        self._aws.check()
        out: dict[str, str] = {}
        wanted = sorted(set(wanted))
        for start in range(0, len(wanted), 10):  # GetParameters takes ten names at a time
            batch = [names.parameter(self.project, self.stack, n) for n in wanted[start:start + 10]]
            found = await self._aws("ssm", "get_parameters", Names=batch, WithDecryption=True)
            for p in found["Parameters"]:
                out[p["Name"].removeprefix(self._prefix)] = p["Value"]
        return out
