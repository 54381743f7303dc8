"""A picture of an inference result: the 2D skeleton over the image and a 3D view side by side.

Colours per finger come from ``annotator.skeleton.FINGER_COLORS_BGR``; a hand whose
handedness is below 0.5 is drawn dashed and faint. The 3D view is the camera frame turned
so that up is up: x to the right, z (depth) into the page, -y up; mm.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from annotator.skeleton import BONES, FINGER_COLORS_BGR, FINGER_OF_JOINT, HAND_OF_JOINT, HANDS

__all__ = ["draw_result"]


def _rgb(j: int) -> tuple[float, float, float]:
    b, g, r = FINGER_COLORS_BGR[FINGER_OF_JOINT[j]]
    return (r / 255.0, g / 255.0, b / 255.0)


def picture_formats() -> frozenset[str]:
    """File extensions (lower case, no dot) :func:`draw_result` can write."""
    from matplotlib.backend_bases import FigureCanvasBase

    return frozenset(FigureCanvasBase.get_supported_filetypes())


def draw_result(image_rgb: np.ndarray, result, path: str | Path, title: str = "") -> Path:
    """Write a PNG of ``result`` (a ``pose_net.infer.HandPoseResult``) over ``image_rgb``."""
    # A Figure with an Agg canvas: no pyplot, no global backend state, no display needed.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    path = Path(path)
    fig = Figure(figsize=(12, 6), dpi=100)
    FigureCanvasAgg(fig)
    ax2d = fig.add_subplot(1, 2, 1)
    ax3d = fig.add_subplot(1, 2, 2, projection="3d")
    h_img, w_img = image_rgb.shape[:2]
    ax2d.imshow(image_rgb)
    x, y, w, h = result.crop_box_xywh
    ax2d.add_patch(Rectangle((x, y), w, h, fill=False, edgecolor="white", lw=1, ls="--"))
    # Show the neighbourhood of the box (the whole image when it is small).
    cx, cy, half = x + w / 2, y + h / 2, max(w, h) * 1.0
    ax2d.set_xlim(max(-0.5, cx - half), min(w_img - 0.5, cx + half))
    ax2d.set_ylim(min(h_img - 0.5, cy + half), max(-0.5, cy - half))
    ax2d.set_axis_off()

    uv = result.joints_uv_px
    xyz = result.joints_cam_mm
    present = {hand: bool(result.hand_present[i]) for i, hand in enumerate(HANDS)}
    for child, parent in BONES:
        hand = HAND_OF_JOINT[child]
        style = {"color": _rgb(child), "lw": 2.0 if present[hand] else 1.0,
                 "ls": "-" if present[hand] else "--", "alpha": 1.0 if present[hand] else 0.35}
        ax2d.plot(uv[[child, parent], 0], uv[[child, parent], 1], **style)
        ax3d.plot(xyz[[child, parent], 0], xyz[[child, parent], 2], -xyz[[child, parent], 1],
                  **style)
    colors = [_rgb(j) for j in range(len(uv))]
    ax2d.scatter(uv[:, 0], uv[:, 1], s=10, c=colors, zorder=3)
    ax3d.scatter(xyz[:, 0], xyz[:, 2], -xyz[:, 1], s=8, c=colors)
    finite = xyz[np.isfinite(xyz).all(axis=1)]
    if len(finite):
        mid = (finite.max(axis=0) + finite.min(axis=0)) / 2
        r = max(float((finite.max(axis=0) - finite.min(axis=0)).max()) / 2, 50.0)
        ax3d.set_xlim(mid[0] - r, mid[0] + r)
        ax3d.set_ylim(mid[2] - r, mid[2] + r)
        ax3d.set_zlim(-mid[1] - r, -mid[1] + r)
    ax3d.set_xlabel("x (mm)")
    ax3d.set_ylabel("z, depth (mm)")
    ax3d.set_zlabel("-y (mm)")
    ax3d.view_init(elev=15, azim=-70)
    pr, pl = result.handedness
    roots = result.root_depth_mm
    ax2d.set_title(f"right p={pr:.2f}  left p={pl:.2f}", fontsize=10)
    ax3d.set_title(f"camera frame; wrists at z = {roots[0]:.0f} / {roots[1]:.0f} mm "
                   f"({result.root_source})", fontsize=10)
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    return path
