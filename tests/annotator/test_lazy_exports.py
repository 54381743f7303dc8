"""Packages that export names lazily: nothing heavy is imported until a name is used."""

from __future__ import annotations

import subprocess
import sys

import pytest

from annotator.lazy_exports import lazy_exports


def test_names_load_on_first_use_and_others_are_attribute_errors():
    getattr_, dir_ = lazy_exports("pkg", {"dumps": "json", "sqrt": "math"})
    import json
    import math

    assert getattr_("dumps") is json.dumps and getattr_("sqrt") is math.sqrt
    assert dir_() == ["dumps", "sqrt"]
    with pytest.raises(AttributeError, match="module 'pkg' has no attribute 'loads'"):
        getattr_("loads")


def test_importing_the_torch_packages_does_not_import_torch():
    code = ("import sys, pose_net, machine_labeler; "
            "assert 'torch' not in sys.modules; "
            "assert set(dir(pose_net)) == set(pose_net.__all__); "
            "pose_net.InterNet; assert 'torch' in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
