"""The CLI's view of engine events: a live table in a terminal, plain lines elsewhere."""

from __future__ import annotations

import time
from types import TracebackType

from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.table import Table

from launchdeck.engine.events import Event, State

_COLORS = {State.SERVICE_DEPLOYMENT_COMPLETED: "green", State.SERVICE_DEPLOYMENT_FAILED: "red",
           State.BUILD_FAILED: "red", State.STOPPED: "dim"}


class Progress:
    """A sink that draws events on stderr; use as a context manager around the work."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.live = console.is_terminal
        self.rows: dict[str, tuple[State | None, str]] = {}
        self._display: Live | None = None
        self._started = time.monotonic()

    def __enter__(self) -> Progress:
        if self.live:
            self._display = Live(self._table(), console=self.console, transient=True,
                                 refresh_per_second=8)
            self._display.__enter__()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._display is not None:
            self._display.__exit__(kind, exc, tb)

    def __call__(self, event: Event) -> None:
        name = event.service or "-"
        state, message = self.rows.get(name, (None, ""))
        if event.state is not None:
            state, message = event.state, event.message
        elif event.message:
            message = event.message.strip().splitlines()[-1] if event.log else event.message
        self.rows[name] = (state, message)
        if self._display is not None:
            self._display.update(self._table())
        elif event.state is not None or not event.log:
            detail = f" {event.message}" if event.message else ""
            self.console.print(escape(f"{name}: {event.state or ''}{detail}"), highlight=False)

    def _table(self) -> Table:
        elapsed = time.monotonic() - self._started
        table = Table(box=None, show_header=False, title=f"deploying… {elapsed:.0f}s",
                      title_justify="left")
        for name, (state, message) in self.rows.items():
            color = _COLORS.get(state, "yellow") if state else "dim"
            first = message.splitlines()[0] if message else ""
            table.add_row(escape(name), f"[{color}]{state or ''}[/]", escape(first[:90]))
        return table
