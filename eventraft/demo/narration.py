"""Telling the demo to a person: a headline per step, what happened, and checks that count.

Every claim the demo makes about the cluster is a check; the demo passes only if all of them
hold, so its output can be trusted as much as a test's.
"""

from __future__ import annotations

import time

import attrs
from rich.console import Console, RenderableType
from rich.markup import escape


@attrs.define
class Check:
    claim: str
    ok: bool
    detail: str = ""


@attrs.define
class Narrator:
    console: Console
    steps: int
    checks: list[Check] = attrs.field(factory=list)
    started: float = attrs.field(factory=time.monotonic)
    _step: int = 0

    def step(self, headline: str) -> None:
        self._step += 1
        self.console.print()
        self.console.rule(f"[bold]{self._step}/{self.steps}  {headline}", align="left")

    def say(self, text: str, *, soft_wrap: bool = False) -> None:
        """One line of narration; ``soft_wrap`` keeps a long path or command whole."""
        self.console.print(f"  {text}", soft_wrap=soft_wrap)

    def show(self, renderable: RenderableType) -> None:
        self.console.print(renderable)

    def check(self, ok: bool, claim: str, detail: str = "") -> bool:
        """Record and print one claim; a failed one makes the whole demo fail."""
        self.checks.append(Check(claim, ok, detail))
        mark = "[green]✓[/green]" if ok else "[bold red]✗[/bold red]"
        suffix = f" [dim]({escape(detail)})[/dim]" if detail and ok else ""
        self.console.print(f"  {mark} {claim}{suffix}")
        if detail and not ok:
            self.console.print(f"    [red]{escape(detail)}[/red]")
        return ok

    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(check.ok for check in self.checks)

    def conclude(self) -> None:
        elapsed = time.monotonic() - self.started
        failed = [check for check in self.checks if not check.ok]
        self.console.print()
        if self.passed:
            self.console.rule(
                f"[bold green]All {len(self.checks)} checks passed in {elapsed:.1f} s",
                align="left",
            )
            return
        self.console.rule(
            f"[bold red]{len(failed)} of {len(self.checks)} checks failed ({elapsed:.1f} s)",
            align="left",
        )
        for check in failed:
            self.console.print(f"  [red]✗ {check.claim}[/red]")
