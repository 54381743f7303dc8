"""Command-line entry points of the machine stage (loaded by annotator.cli.main)."""
