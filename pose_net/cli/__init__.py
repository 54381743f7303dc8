"""Command-line entry points of pose_net (loaded by annotator.cli.main)."""
