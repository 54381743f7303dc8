from __future__ import annotations

import argparse

import pytest

from annotator.cli.support import int_at_least, positive_int


def _parser(kind) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="t")
    p.add_argument("--n", type=kind)
    return p


@pytest.mark.parametrize("text, value", [("1", 1), ("80", 80)])
def test_positive_int_accepts(text, value):
    assert _parser(positive_int).parse_args(["--n", text]).n == value


@pytest.mark.parametrize("text, message", [("0", ">= 1, got 0"), ("-3", "got -3"), ("x", "'x'")])
def test_positive_int_rejects_with_the_value_named(text, message, capsys):
    with pytest.raises(SystemExit) as exc:
        _parser(positive_int).parse_args(["--n", text])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "--n" in err and message in err and "expected an integer" in err


def test_int_at_least_uses_its_minimum():
    views = int_at_least(2, "a view count")
    assert views("2") == 2
    with pytest.raises(argparse.ArgumentTypeError, match="a view count >= 2, got 1"):
        views("1")
