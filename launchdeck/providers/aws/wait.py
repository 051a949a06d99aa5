"""Waiting on AWS: the engine's polling loop with progress reports, and botocore's waiters.

AWS finishes many things after the call that asked for them (a deleted service drains, a
database takes minutes to go), and refuses what depends on them until then. ``until`` polls
with a backoff that starts at the caller's interval, reports what it sees through ``say``
whenever it changes (and every ``report_every`` seconds while it does not), and gives up
with a ProviderError after ``timeout``. ``waiter`` runs botocore's own waiter definitions
(``services_inactive``, ``db_instance_deleted`` ...) through that loop, so the documented
success and failure conditions are used as written, but the wait can report progress and be
cancelled, which botocore's blocking ``Waiter.wait`` cannot. ``retry`` repeats a step while AWS
refuses it in a way that means "not yet" (ResourceInUse, DependencyViolation, a role IAM has
not propagated).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import anyio

from launchdeck.engine import poll
from launchdeck.errors import ProviderError
from launchdeck.providers.aws.api import Aws, AwsError, parallel

T = TypeVar("T")

Say = Callable[[str], None]

BACKOFF = 1.5
"""Each wait is this much longer than the one before, up to ``max_interval``."""
MAX_STEPS = 6.0
"""The longest wait between reads, in multiples of the first, unless the caller says otherwise."""


def _quiet(message: str) -> None:
    """A ``say`` for callers that do not report progress."""


async def until(read: Callable[[], Awaitable[tuple[T | None, str]]], *, what: str, interval: float,
                timeout: float, say: Say = _quiet, max_interval: float | None = None,
                report_every: float = 30.0, hint: str = "Run the command again to keep waiting.") -> T:
    """Call ``read`` until it returns a value; ``read`` answers ``(value or None, status)``.

    ``read`` raises to stop at once (a failed state). The status is what ``say`` reports.
    """
    started = anyio.current_time()
    seen = {"status": None, "reported": started}

    async def check() -> T | None:
        value, status = await read()
        if value is not None:
            return value
        now = anyio.current_time()
        if status != seen["status"]:
            say(f"{what}: {status}" if status else f"waiting for {what}")
            seen.update(status=status, reported=now)
        elif now - seen["reported"] >= report_every:
            say(f"still waiting for {what} ({_elapsed(now - started)}): {status}")
            seen["reported"] = now
        return None

    found = await poll.until(check, interval=interval, timeout=timeout, backoff=BACKOFF,
                             max_interval=interval * MAX_STEPS if max_interval is None else max_interval)
    if found is None:
        status = seen["status"]
        raise ProviderError(f"gave up waiting for {what} after "
                            f"{_elapsed(anyio.current_time() - started)}"
                            + (f": still {status}" if status else ""), provider="aws", hint=hint)
    return found


def _elapsed(seconds: float) -> str:
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes}m{rest:02d}s" if minutes else f"{seconds:.0f}s"


async def retry(step: Callable[[], Awaitable[T]], refused: tuple[str, ...] | Callable[[AwsError], bool], *,
                what: str, interval: float, timeout: float, say: Say = _quiet, why: str | None = None,
                max_interval: float | None = None,
                hint: str = "Run the command again to keep waiting.") -> T:
    """Run ``step`` until AWS stops refusing it for a reason that means "not yet": an error
    with one of the codes ``refused`` (dependents still going), or one ``refused`` answers true
    of. ``why`` is what is reported meanwhile (by default, AWS's code); any other error is
    raised at once. ``max_interval``: the longest wait between two tries (``until``'s)."""
    not_yet = refused if callable(refused) else lambda exc: exc.code in refused
    result: list[T] = []

    async def attempt() -> tuple[bool | None, str]:
        try:
            result.append(await step())
            return True, ""
        except AwsError as exc:
            if not not_yet(exc):
                raise
            return None, why or f"AWS answers {exc.code}, retrying"

    await until(attempt, what=what, interval=interval, timeout=timeout, say=say, hint=hint,
                max_interval=max_interval)
    return result[0]


class WaiterFailed(ProviderError):
    """A botocore waiter reached one of its documented failure states."""


async def waiter(aws: Aws, service: str, name: str, *, what: str, interval: float,
                 timeout: float | None = None, say: Say = _quiet, **params: Any) -> dict[str, Any]:
    """Wait as botocore's waiter ``name`` of ``service`` defines it; return the last response.

    The timeout defaults to the waiter's own (delay times attempts); the interval is ours.
    """
    from botocore import xform_name

    config = aws.client(service).get_waiter(name).config
    operation = xform_name(config.operation)
    paths = [a.argument for a in config.acceptors if a.matcher in ("path", "pathAll", "pathAny")]

    async def read() -> tuple[dict[str, Any] | None, str]:
        try:
            response = await aws(service, operation, **params)
        except AwsError as exc:
            response = {"Error": {"Code": exc.code, "Message": exc.message}}
        for acceptor in config.acceptors:
            if not acceptor.matcher_func(response):
                continue
            if acceptor.state == "success":
                return response, ""
            if acceptor.state == "failure":
                raise WaiterFailed(f"{what} cannot finish: {_status(response, paths) or acceptor.expected}",
                                   provider="aws", hint="See the resource in the AWS console; when "
                                   "it has settled, run the command again.")
            break  # a "retry" acceptor: keep waiting
        return None, _status(response, paths)

    limit = timeout if timeout is not None else float(config.delay * config.max_attempts)
    return await until(read, what=what, interval=interval, timeout=limit, say=say)


def _status(response: dict[str, Any], paths: list[str]) -> str:
    """What the response says about the resource, read where the waiter's acceptors look."""
    import jmespath

    if "Error" in response:
        return str(response["Error"].get("Code", ""))
    for path in paths:
        if path.startswith("length("):
            continue
        found = jmespath.search(path, response)
        values = found if isinstance(found, list) else [found] if found is not None else []
        if values:
            return ", ".join(sorted({str(v) for v in values}))
    return ""


class Together:
    """Reads of one kind that callers make at the same moment, made as one call per ``size``
    keys (ECS's DescribeServices takes ten services): while a deploy's services roll out, each
    is looked at on its own clock, and one call answering them all keeps the API calls (and
    AWS's throttling of them) down. Callers answered by the same call wake together, so their
    next reads come together again.

    ``read`` answers the keys it was given (a key left out: nothing found). The first caller
    of a moment makes the call for everyone who asked meanwhile; if it is cancelled first,
    those callers ask again.
    """

    def __init__(self, read: Callable[[list[str]], Awaitable[dict[str, Any]]], size: int) -> None:
        self.read, self.size = read, size
        self._asked: dict[str, list[_Answer]] = {}
        self._gathering = False

    async def __call__(self, key: str) -> Any:
        while True:
            answer = _Answer()
            self._asked.setdefault(key, []).append(answer)
            if not self._gathering:
                await self._answer_all()
            await answer.done.wait()
            if answer.again:
                continue
            if answer.error is not None:
                raise answer.error
            return answer.value

    async def _answer_all(self) -> None:
        self._gathering = True
        asked: dict[str, list[_Answer]] = {}
        try:
            await anyio.sleep(0)  # the others asking at this moment join
            self._gathering = False
            asked, self._asked = self._asked, {}
            keys = sorted(asked)
            found: dict[str, Any] = {}
            try:
                for part in await parallel(*[lambda k=keys[i:i + self.size]: self.read(k)
                                             for i in range(0, len(keys), self.size)]):
                    found.update(part)
            except Exception as exc:
                for answers in asked.values():
                    for answer in answers:
                        answer.error = exc
            for key, answers in asked.items():
                for answer in answers:
                    answer.value = found.get(key)
                    answer.done.set()
        finally:
            self._gathering = False
            # cancelled before answering: everyone still waiting asks again
            for answers in [*asked.values(), *([] if asked else self._asked.values())]:
                for answer in answers:
                    if not answer.done.is_set():
                        answer.again = True
                        answer.done.set()
            if not asked:
                self._asked = {}


class _Answer:
    def __init__(self) -> None:
        self.done = anyio.Event()
        self.value: Any = None
        self.error: Exception | None = None
        self.again = False
