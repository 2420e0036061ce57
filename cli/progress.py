"""Progress bars for long commands: one bar per named stage, created the first time it reports."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

__all__ = ["StageBars"]


class StageBars:
    """``with StageBars(console) as bars:`` then ``bars.advance(name, total)`` or pass
    ``bars.training_step`` as a ``(stage, step, total, loss)`` progress callback."""

    def __init__(self, console: Console) -> None:
        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[note]}"),
        )
        self.progress = Progress(*columns, console=console)
        self._bars: dict[str, int] = {}

    def __enter__(self) -> StageBars:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.progress.__exit__(*exc_info)

    def _bar(self, name: str, total: int) -> int:
        if name not in self._bars:
            self._bars[name] = self.progress.add_task(name, total=total, note="")
        return self._bars[name]

    def advance(self, name: str, total: int, note: str = "") -> None:
        self.progress.update(self._bar(name, total), advance=1, note=note)

    def set(self, name: str, total: int, completed: int, note: str = "") -> None:
        self.progress.update(self._bar(name, total), completed=completed, note=note)

    def training_step(self, stage: str, step: int, total: int, loss: float) -> None:
        self.set(stage, total, step, f"loss {loss:.4f}")

    def print(self, text: str) -> None:
        self.progress.console.print(text)
