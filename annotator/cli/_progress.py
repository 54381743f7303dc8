"""The one adapter from the library's ``progress(done, total)`` callbacks to a tqdm bar."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator


@contextlib.contextmanager
def tqdm_progress(desc: str, unit: str) -> Iterator[Callable[[int, int], None]]:
    """Yield a ``progress(done, total)`` callback that drives a tqdm bar (hidden off a TTY)."""
    from tqdm import tqdm

    with tqdm(desc=desc, unit=unit, disable=None) as bar:

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.n = done
            bar.refresh()

        yield progress
