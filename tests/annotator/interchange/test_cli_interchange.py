"""The import-interhand / export-interhand / export-coco subcommands, in-process."""

from __future__ import annotations

import json

from annotator.cli.main import main


def _files(ih_sample) -> list[str]:
    return [
        "--data",
        str(ih_sample["data"]),
        "--camera",
        str(ih_sample["camera"]),
        "--joint-3d",
        str(ih_sample["joint_3d"]),
        "--images",
        str(ih_sample["images"]),
    ]


def test_import_export_and_reimport_official_layout(ih_sample, ih_json, tmp_path, capsys):
    p1, out, p2 = tmp_path / "p1", tmp_path / "out", tmp_path / "p2"
    assert main(["import-interhand", str(p1), *_files(ih_sample)]) == 0
    assert "imported 4 images into 4 instants" in capsys.readouterr().out
    assert main(["export-interhand", str(p1), str(out), "--split", "val"]) == 0
    assert (out / "images/val/image2017.jpg").is_file()
    # the official layout, read back with --root/--split
    assert main(["import-interhand", str(p2), "--root", str(out), "--split", "val"]) == 0
    assert (
        main(
            [
                "export-interhand",
                str(p2),
                str(tmp_path / "out2"),
                "--split",
                "val",
                "--images",
                "none",
            ]
        )
        == 0
    )
    again = json.loads((tmp_path / "out2/annotations/val/InterHand2.6M_val_data.json").read_text())
    assert again == ih_json["data"]
    assert main(["export-coco", str(p2), str(tmp_path / "c.json")]) == 0
    assert "hand annotations" in capsys.readouterr().out
    assert len(json.loads((tmp_path / "c.json").read_text())["images"]) == 4


def test_cli_errors_are_one_line(ih_sample, tmp_path, capsys):
    assert main(["import-interhand", str(tmp_path / "p"), "--data", str(ih_sample["data"])]) == 2
    err = capsys.readouterr().err.strip()
    assert "missing --camera, --joint-3d, --images" in err and "\n" not in err
    bad = tmp_path / "bad.json"
    bad.write_text('{"images": [')
    files = _files(ih_sample)
    files[1] = str(bad)
    assert main(["import-interhand", str(tmp_path / "p"), *files]) == 2
    err = capsys.readouterr().err.strip()
    assert f"data json {bad}: not valid JSON" in err and "\n" not in err
    assert not (tmp_path / "p").exists()
    assert main(["import-interhand", str(tmp_path / "p"), "--root", str(tmp_path)]) == 2
    assert "--root and --split go together" in capsys.readouterr().err
