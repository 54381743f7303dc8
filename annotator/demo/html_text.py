"""Text for the demo's HTML report: escaped strings and numbers ("–" where there is none)."""

from __future__ import annotations

import html
import math

__all__ = ["escape", "number"]


def escape(text) -> str:
    """``str(text)`` with ``& < > " '`` escaped for HTML."""
    return html.escape(str(text))


def number(value, digits: int = 2) -> str:
    """``value`` with ``digits`` decimals; "–" for None, NaN or infinity."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return f"{float(value):.{digits}f}"
