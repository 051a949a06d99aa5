"""One way to ask a language model, whichever is there: the Anthropic API, or none.

The third backend, the MCP client's own model, is reached through MCP sampling by the server
(launchdeck/server/sample.py), because there the request is made by the protocol, not by us.
Every AI tool works without any model; a model only adds to what the detectors found.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any, Protocol

from launchdeck.errors import ProviderError

DEFAULT_MODEL = "claude-sonnet-4-5"


class LLM(Protocol):
    name: str

    async def complete(self, system: str, prompt: str, *, max_tokens: int = 4096) -> str: ...


class AnthropicLLM:
    """The Messages API through the anthropic SDK (its HTTP client can be injected)."""

    def __init__(self, api_key: str, model: str = DEFAULT_MODEL,
                 http_client: Any = None) -> None:
        from anthropic import AsyncAnthropic

        self.model = model
        self.name = f"anthropic:{model}"
        self._client = AsyncAnthropic(api_key=api_key, http_client=http_client, max_retries=2)

    async def complete(self, system: str, prompt: str, *, max_tokens: int = 4096) -> str:
        import anthropic

        try:
            message = await self._client.messages.create(
                model=self.model, max_tokens=max_tokens, system=system,
                messages=[{"role": "user", "content": prompt}])
        except anthropic.APIError as exc:
            raise ProviderError(f"the Anthropic API failed: {type(exc).__name__}",
                                provider="anthropic",
                                hint="Check ANTHROPIC_API_KEY and LAUNCHDECK_MODEL, or unset the "
                                     "key to work without a model.") from exc
        return "".join(block.text for block in message.content if block.type == "text")


def from_environment(environ: Mapping[str, str] | None = None,
                     http_client: Any = None) -> LLM | None:
    """The Anthropic API when ANTHROPIC_API_KEY is set (model: LAUNCHDECK_MODEL), else None."""
    env = os.environ if environ is None else environ
    key = env.get("ANTHROPIC_API_KEY")
    if not key:
        return None
    return AnthropicLLM(key, env.get("LAUNCHDECK_MODEL") or DEFAULT_MODEL, http_client)


def json_object(answer: str) -> dict[str, Any]:
    """The JSON object in a model's answer, which may sit inside prose or a code fence."""
    start, end = answer.find("{"), answer.rfind("}")
    if start < 0 or end < start:
        raise ValueError("the answer holds no JSON object")
    data = json.loads(answer[start:end + 1])
    if not isinstance(data, dict):
        raise ValueError("the answer is not a JSON object")
    return data
