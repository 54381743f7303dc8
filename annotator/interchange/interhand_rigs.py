"""The rigs of an InterHand2.6M split: its camera json plus the image sizes its data json
gives per camera (``import-interhand``, :mod:`.interhand_import`)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from annotator.interchange.interhand_layout import rig_from_interhand
from annotator.interchange.interhand_records import InterHandCamera
from triangulation.camera import CameraRig

__all__ = ["rigs_with_sizes"]

logger = logging.getLogger(__name__)


def rigs_with_sizes(
    cameras: Mapping[str, Mapping[str, InterHandCamera]],
    sizes: Mapping[tuple[str, str], tuple[int, int]],
    fallback: tuple[int, int],
    where: Callable[[str], str],
) -> dict[str, CameraRig]:
    """capture -> rig, each camera sized by ``sizes[(capture, camera)]`` (width, height px).

    Cameras without images get ``fallback`` (the most common size; logged). ``where(capture)``
    names the capture's source in errors.
    """
    rigs = {}
    for capture, cams in cameras.items():
        unsized = [n for n in cams if (capture, n) not in sizes]
        if unsized:
            logger.info(
                "capture %s: %d camera(s) without images get size %dx%d",
                capture,
                len(unsized),
                *fallback,
            )
        rigs[capture] = rig_from_interhand(
            cams,
            {n: sizes.get((capture, n), fallback) for n in cams},
            where=where(capture),
        )
    return rigs
