"""Run as a script: deploy a project and kill this process at its Nth mutating AWS call.

Usage: python killed_deploy.py <project folder> <N>. The AWS_* variables point at moto.
"""

from __future__ import annotations

import os
import signal
import sys

import anyio

from launchdeck.engine.deploy import deploy
from launchdeck.providers.aws.api import Aws, is_mutating
from launchdeck.providers.aws.provider import AwsProvider
from launchdeck.tools.project import ProjectRef
from testkit import aws as T


def main(folder: str, kill_at: int) -> None:
    session = T.session()
    T.codebuild_pushes(session)
    seen = 0

    def count(event_name, **_):
        nonlocal seen
        if is_mutating(event_name.rsplit(".", 1)[-1]):
            seen += 1
            if seen == kill_at:  # as if the machine died just as this call went out
                os.kill(os.getpid(), signal.SIGKILL)

    session.events.register("before-send", count)
    ref = ProjectRef(working_directory=folder, provider="aws")
    anyio.run(lambda: deploy(ref.load(), AwsProvider(Aws(session), poll=0.01), stack="dev"))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
