"""The streaming InterHand2.6M reader: same records and same one-line errors as the
in-memory reader, and a clear error for truncated or malformed JSON at any position."""

from __future__ import annotations

import re

import numpy as np
import pytest

from annotator.interchange import InterchangeFormatError, read_interhand
from annotator.interchange.interhand_records import HAND_TYPES
from annotator.interchange.interhand_stream import read_interhand_stream
from tests.annotator.interchange.conftest import write_variant
from tests.annotator.interchange.test_interhand_format import BAD

_ERROR = re.compile(
    r"^(data|camera|joint_3d) json .+: not valid JSON \(.+ at line \d+ column \d+\)$"
)


def _stream(paths, **kw):
    return read_interhand_stream(paths["data"], paths["camera"], paths["joint_3d"], **kw)


def test_stream_gives_the_in_memory_records(ih_sample):
    ih = read_interhand(ih_sample["data"], ih_sample["camera"], ih_sample["joint_3d"])
    s = _stream(ih_sample, images=ih_sample["images"])
    im = s.images
    assert im.image_id.tolist() == [x.image_id for x in ih.images]
    assert im.paths.decode_all() == [x.file_name for x in ih.images]
    assert im.annotation_id.tolist() == [a.annotation_id for a in ih.annotations]
    np.testing.assert_array_equal(im.bbox, [a.bbox_xywh for a in ih.annotations])
    np.testing.assert_array_equal(im.joint_valid, [a.joint_valid for a in ih.annotations])
    assert [HAND_TYPES[t] for t in im.hand_type] == [a.hand_type for a in ih.annotations]
    assert [s.camera_names[c] for c in im.camera] == [x.camera for x in ih.images]
    assert s.instant_capture == [x.capture for x in ih.images]  # one image per instant here
    assert s.instant_sequence == [x.seq_name for x in ih.images]
    assert im.missing == 0
    for row, (c, f) in enumerate(zip(s.instant_capture, s.instant_frame.tolist(), strict=True)):
        fr = ih.frames[c][str(f)]
        k = s.instant_frame_row[row]
        np.testing.assert_array_equal(s.frames.world_mm[k], fr.world_coord_mm)
        np.testing.assert_array_equal(s.frames.valid[k], fr.joint_valid)
    want = {k: list(v) if isinstance(v, tuple) else v for k, v in ih.style.to_dict().items()}
    got = {k: list(v) if isinstance(v, tuple) else v for k, v in s.style.items()}
    assert got == want


def test_annotations_in_a_second_process_give_the_same_columns(ih_sample):
    a, b = _stream(ih_sample, parallel=True), _stream(ih_sample, parallel=False)
    for name in ("annotation_id", "bbox", "joint_valid", "hand_type", "hand_type_valid"):
        np.testing.assert_array_equal(getattr(a.images, name), getattr(b.images, name))
    assert a.style == b.style
    assert a.worker_peak_rss_mb > 0 and b.worker_peak_rss_mb == 0


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_reads_as_the_in_memory_reader_says(case, ih_json, tmp_path):
    mutate, file_key, message = BAD[case]
    mutate(ih_json)
    paths = write_variant(tmp_path, ih_json)
    with pytest.raises(InterchangeFormatError) as exc:
        _stream(paths)
    text = str(exc.value)
    assert "\n" not in text and str(paths[file_key]) in text and message in text


@pytest.mark.parametrize("case", ["41 valid flags", "bbox length", "duplicate image id"])
def test_bad_annotations_in_the_second_process(case, ih_json, tmp_path):
    mutate, file_key, message = BAD[case]
    mutate(ih_json)
    paths = write_variant(tmp_path, ih_json)
    with pytest.raises(InterchangeFormatError, match=re.escape(message)) as exc:
        _stream(paths, parallel=True)
    assert str(paths[file_key]) in str(exc.value)


def _cuts(n: int, step: int) -> list[int]:
    return sorted({0, 1, 2, n // 2, n - 2, n - 1, *range(3, n, step)})


def _check_json_error(exc: InterchangeFormatError, path, text: str) -> None:
    msg = str(exc)
    assert _ERROR.match(msg), msg
    assert str(path) in msg
    line = int(re.search(r"at line (\d+)", msg).group(1))
    assert 1 <= line <= text.count("\n") + 1


@pytest.mark.parametrize("key", ["data", "camera", "joint_3d"])
def test_truncated_json_at_any_position(key, ih_sample, ih_json, tmp_path):
    text = ih_sample[key].read_text()
    for cut in _cuts(len(text), len(text) // 120):
        head = text[:cut]
        if head.strip() == text.strip():
            continue  # only trailing whitespace cut: still the whole document
        paths = write_variant(tmp_path, ih_json, raw={key: head})
        with pytest.raises(InterchangeFormatError) as exc:
            _stream(paths)
        _check_json_error(exc.value, paths[key], head)


@pytest.mark.parametrize("key", ["data", "camera", "joint_3d"])
def test_malformed_json_at_any_position(key, ih_sample, ih_json, tmp_path):
    """A raw control byte is invalid JSON wherever it goes (in a string or between tokens)."""
    text = ih_sample[key].read_text()
    for at in _cuts(len(text), len(text) // 120 + 1):
        bad = text[:at] + "\x01" + text[at:]
        paths = write_variant(tmp_path, ih_json, raw={key: bad})
        with pytest.raises(InterchangeFormatError) as exc:
            _stream(paths)
        _check_json_error(exc.value, paths[key], bad)
        line = bad[:at].count("\n") + 1
        col = at - (bad.rfind("\n", 0, at) + 1) + 1
        got = re.search(r"at line (\d+) column (\d+)\)", str(exc.value))
        # the line exactly; the column of the bad byte or of the one before it
        assert int(got[1]) == line and col - 1 <= int(got[2]) <= col, (at, str(exc.value))


def test_error_position_is_where_the_damage_is(ih_sample, ih_json, tmp_path):
    text = ih_sample["data"].read_text()
    lines = text.splitlines(keepends=True)
    at = sum(len(s) for s in lines[:40]) + 8  # line 41, column 9
    paths = write_variant(tmp_path, ih_json, raw={"data": text[:at] + "]" + text[at:]})
    with pytest.raises(InterchangeFormatError, match=r"at line 41 column 9\)"):
        _stream(paths)


def test_nan_in_the_stream_says_so(ih_json, tmp_path):
    ih_json["joint_3d"]["2"]["44669"]["world_coord"][5][1] = float("nan")
    paths = write_variant(tmp_path, ih_json)  # json.dumps writes the non-JSON token NaN
    with pytest.raises(InterchangeFormatError, match="NaN or inf, which JSON does not allow"):
        _stream(paths)


def test_wrong_top_level_shapes(ih_json, tmp_path):
    for raw, key, msg in (
        ("[1, 2]", "joint_3d", "expected a JSON object at the top level"),
        ('{"images": {}, "annotations": []}', "data", "'images' is empty or not a list"),
        ("", "data", "not valid JSON"),
    ):
        paths = write_variant(tmp_path, ih_json, raw={key: raw})
        with pytest.raises(InterchangeFormatError, match=re.escape(msg)):
            _stream(paths)


def test_unusual_but_valid_spellings_are_accepted(ih_json, tmp_path):
    an = ih_json["data"]["annotations"][1]
    an["joint_valid"] = [[float(v[0])] for v in an["joint_valid"]]  # 1.0 / 0.0 flags
    an["hand_type_valid"] = True
    ih_json["data"]["images"][2]["capture"] = "7"  # a string capture id
    ih_json["data"]["images"][0]["extra_key"] = {"kept": [1, None]}
    paths = write_variant(tmp_path, ih_json)
    s = _stream(paths)
    ih = read_interhand(paths["data"], paths["camera"], paths["joint_3d"])
    np.testing.assert_array_equal(s.images.joint_valid[1], ih.annotations[1].joint_valid)
    assert s.images.image_extra == {ih.images[0].image_id: {"extra_key": {"kept": [1, None]}}}
