"""The ``annotator`` command line (see :mod:`annotator.cli.main`)."""
