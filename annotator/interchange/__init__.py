"""Dataset import and export: InterHand2.6M (JSON files, official layout) and COCO keypoints.

The format layer (:mod:`.interhand`, :mod:`.interhand_layout`) is pure: it reads, validates
and writes the files; :mod:`.interhand_stream` reads a split of any size as numpy columns.
Moving data into and out of a project goes through :class:`annotator.store.ProjectStore`
only (:mod:`.interhand_import`, :mod:`.interhand_export`,
:mod:`.coco`).
"""

from __future__ import annotations

from annotator.interchange._jsonio import InterchangeFormatError
from annotator.interchange.coco import CocoExport, coco_categories, export_coco
from annotator.interchange.interhand import (
    HAND_TYPES,
    InterHandAnnotation,
    InterHandCamera,
    InterHandFrame,
    InterHandImage,
    InterHandSet,
    JsonStyle,
    parse_interhand,
    read_interhand,
)
from annotator.interchange.interhand_export import InterHandExport, export_interhand
from annotator.interchange.interhand_import import (
    InterHandImport,
    import_interhand,
)
from annotator.interchange.interhand_layout import (
    BBOX_SCALE,
    InterHandJson,
    InterHandLayout,
    enlarged_bbox_xywh,
    interhand_camera,
    place_image,
    rig_from_interhand,
    to_json,
    write_interhand,
)
from annotator.interchange.interhand_stream import StreamedSplit, read_interhand_stream

__all__ = [
    "BBOX_SCALE",
    "CocoExport",
    "InterHandExport",
    "InterHandImport",
    "coco_categories",
    "export_coco",
    "export_interhand",
    "import_interhand",
    "HAND_TYPES",
    "InterchangeFormatError",
    "InterHandAnnotation",
    "InterHandCamera",
    "InterHandFrame",
    "InterHandImage",
    "InterHandJson",
    "InterHandLayout",
    "InterHandSet",
    "JsonStyle",
    "enlarged_bbox_xywh",
    "interhand_camera",
    "parse_interhand",
    "place_image",
    "read_interhand",
    "read_interhand_stream",
    "StreamedSplit",
    "rig_from_interhand",
    "to_json",
    "write_interhand",
]
