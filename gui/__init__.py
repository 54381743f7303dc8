"""gui (later issues)."""

__all__: list[str] = []
