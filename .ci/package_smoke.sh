#!/usr/bin/env bash
# CI: build the sdist and the wheel, install the wheel (not editable) into a fresh virtual
# environment outside the checkout, and run the toolkit from there: a wheel that misses a
# module, an entry point or a data file fails here even when the editable install passes.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
echo "== package: build sdist and wheel"
python -m build --outdir "$tmp/dist" "$repo" >"$tmp/build.log" 2>&1 || { tail -40 "$tmp/build.log"; exit 1; }
wheel=$(ls "$tmp"/dist/*.whl)
sdist=$(ls "$tmp"/dist/*.tar.gz)
python - "$wheel" "$sdist" <<'PY'
import sys, tarfile, zipfile
wheel, sdist = sys.argv[1], sys.argv[2]
names = zipfile.ZipFile(wheel).namelist()
need = ["annotator/cli/main.py", "gui/cli.py", "pose_net/cli/train_internet.py",
        "machine_labeler/cli/bootstrap.py", "triangulation/__init__.py",
        "torch_common/__init__.py", "atomic_files/__init__.py"]
missing = [n for n in need if n not in names]
if missing:
    sys.exit(f"wheel misses {missing}")
if not any(n.endswith(".dist-info/licenses/LICENSE") for n in names):
    sys.exit("wheel carries no LICENSE")
if any(n.startswith(("tests/", "bench/")) for n in names):
    sys.exit("wheel carries tests or benches")
if not any(n.endswith("/LICENSE") for n in tarfile.open(sdist).getnames()):
    sys.exit("sdist carries no LICENSE")
print(f"wheel {wheel.rsplit('/', 1)[-1]}: {len(names)} files; sdist ok")
PY
echo "== package: install the wheel into a fresh venv"
python3 -m venv "$tmp/venv"
# shellcheck disable=SC1091
. "$tmp/venv/bin/activate"
python -m pip install -q --upgrade pip
pip install -q torch==2.13.0  # the CPU build first (a bare requirement pulls CUDA)
pip install -q "$wheel"
cd "$tmp"  # outside the checkout: only the installed copy can be imported
python - "$tmp/venv" <<'PY'
import sys
import annotator, gui, machine_labeler, pose_net
venv = sys.argv[1]
for m in (annotator, gui, machine_labeler, pose_net):
    if not m.__file__.startswith(venv):
        sys.exit(f"{m.__name__} imported from {m.__file__}, not the installed wheel")
print("imports from the installed wheel")
PY
echo "== package: smoke test of the installed toolkit"
annotator --version
annotator synth cap --cameras 4 --instants 3 --subjects 1 --width 256 --height 168 --workers 1
annotator simulate-annotator cap --fraction 1 --views 2 --seed 0
annotator evaluate cap --json eval.json
QT_QPA_PLATFORM=offscreen annotator gui cap --screenshot shot.png --size 900x600
test -s shot.png && test -s eval.json
echo "== package: ok"
