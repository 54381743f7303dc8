"""Dark theme and the drawing colours of the app (RGB tuples; Qt objects made on demand).

Colours are plain ``(r, g, b)`` tuples here so that :mod:`gui.overlay` stays free of Qt;
:func:`apply_dark_theme` and :func:`qcolor` are the only Qt-facing helpers.
"""

from __future__ import annotations

from annotator import skeleton

__all__ = [
    "RGB",
    "joint_rgb",
    "STATUS_RGB",
    "EPIPOLAR_RGB",
    "CURRENT_RGB",
    "FLAG_RGB",
    "PROPOSAL_ALPHA",
    "apply_dark_theme",
    "qcolor",
]

RGB = tuple[int, int, int]

#: Backgrounds and text of the dark theme (image panels sit on the darkest shade so pictures
#: keep their contrast; widgets one step lighter).
BG_PANEL: RGB = (18, 19, 22)
BG_WINDOW: RGB = (32, 34, 38)
BG_WIDGET: RGB = (42, 45, 50)
BG_ALT: RGB = (38, 40, 45)
FG_TEXT: RGB = (222, 224, 228)
FG_DIM: RGB = (140, 145, 152)
ACCENT: RGB = (86, 156, 214)

#: The epipolar curve: cyan, a hue no finger uses, bright on dark and on skin.
EPIPOLAR_RGB: RGB = (90, 240, 255)
#: Ring around the current joint.
CURRENT_RGB: RGB = (255, 255, 255)
#: Flagged joints / large reprojection residuals.
FLAG_RGB: RGB = (255, 72, 72)
#: Machine proposals are drawn in the finger colour at this opacity, hollow and dashed.
PROPOSAL_ALPHA = 170

#: Joint-list state colours.
STATUS_RGB: dict[str, RGB] = {
    "none": FG_DIM,
    "one_view": (240, 190, 80),
    "triangulated": (110, 210, 120),
    "proposal": (150, 170, 255),
    "hand_absent": (110, 110, 118),
}


def _bgr_to_rgb(bgr: tuple[int, int, int]) -> RGB:
    b, g, r = bgr
    return (int(r), int(g), int(b))


def _lighten(rgb: RGB, amount: float) -> RGB:
    return tuple(int(round(c + (255 - c) * amount)) for c in rgb)  # type: ignore[return-value]


# Finger colours from the skeleton (one source of truth); the pure OpenCV primaries are
# lightened a little so that thin lines stay readable on dark backgrounds. The left hand uses
# a lighter tint of the same finger colour: same finger, same hue, hands still told apart.
_FINGER_RGB = {f: _lighten(_bgr_to_rgb(c), 0.12) for f, c in skeleton.FINGER_COLORS_BGR.items()}
_JOINT_RGB: tuple[RGB, ...] = tuple(
    _lighten(_FINGER_RGB[skeleton.FINGER_OF_JOINT[j]], 0.0 if skeleton.HAND_OF_JOINT[j] == "right"
             else 0.45)
    for j in range(skeleton.NUM_JOINTS)
)


def joint_rgb(j: int) -> RGB:
    """Drawing colour of joint ``j`` (its finger's colour; lighter tint on the left hand)."""
    return _JOINT_RGB[j]


def qcolor(rgb: RGB, alpha: int = 255):
    """A ``QColor`` from an RGB tuple."""
    from PyQt5.QtGui import QColor

    return QColor(rgb[0], rgb[1], rgb[2], alpha)


def _css(rgb: RGB) -> str:
    return f"rgb({rgb[0]},{rgb[1]},{rgb[2]})"


_STYLESHEET = f"""
QWidget {{ font-size: 10pt; }}
QToolTip {{ color: {_css(FG_TEXT)}; background: {_css(BG_WIDGET)}; border: 1px solid #555; }}
QComboBox {{ background: {_css(BG_WIDGET)}; border: 1px solid #4a4d55; border-radius: 3px;
             padding: 1px 6px; min-height: 18px; }}
QComboBox:focus {{ border-color: {_css(ACCENT)}; }}
QTreeWidget, QListWidget {{ background: {_css(BG_WIDGET)}; alternate-background-color:
             {_css(BG_ALT)}; border: 1px solid #3a3d44; }}
QTreeWidget::item {{ padding: 1px 2px; }}
QTreeWidget::item:selected, QListWidget::item:selected {{ background: #3b5878; color: white; }}
QHeaderView::section {{ background: {_css(BG_WINDOW)}; color: {_css(FG_DIM)};
             border: none; border-bottom: 1px solid #3a3d44; padding: 2px 4px; }}
QStatusBar {{ background: {_css(BG_WINDOW)}; color: {_css(FG_TEXT)}; }}
QStatusBar QLabel {{ padding: 0 8px; }}
QToolBar {{ background: {_css(BG_WINDOW)}; border: none; spacing: 4px; }}
QToolButton {{ padding: 2px 6px; border-radius: 3px; }}
QToolButton:checked {{ background: #3b5878; }}
QToolButton:hover {{ background: #454952; }}
QSlider::groove:horizontal {{ height: 4px; background: #4a4d55; border-radius: 2px; }}
QSlider::handle:horizontal {{ width: 10px; margin: -5px 0; background: {_css(ACCENT)};
             border-radius: 5px; }}
QDockWidget::title {{ background: {_css(BG_WINDOW)}; padding: 3px 6px; }}
QLabel#panelTitle {{ color: {_css(FG_DIM)}; }}
"""


def apply_dark_theme(app) -> None:
    """Fusion style with a dark palette and the app's stylesheet on a ``QApplication``."""
    from PyQt5.QtGui import QPalette

    app.setStyle("Fusion")
    pal = QPalette()
    roles = {
        QPalette.Window: BG_WINDOW,
        QPalette.WindowText: FG_TEXT,
        QPalette.Base: BG_WIDGET,
        QPalette.AlternateBase: BG_ALT,
        QPalette.ToolTipBase: BG_WIDGET,
        QPalette.ToolTipText: FG_TEXT,
        QPalette.Text: FG_TEXT,
        QPalette.Button: BG_WIDGET,
        QPalette.ButtonText: FG_TEXT,
        QPalette.BrightText: (255, 90, 90),
        QPalette.Highlight: (59, 88, 120),
        QPalette.HighlightedText: (255, 255, 255),
        QPalette.Link: ACCENT,
    }
    for role, rgb in roles.items():
        pal.setColor(role, qcolor(rgb))
    for role in (QPalette.Text, QPalette.ButtonText, QPalette.WindowText):
        pal.setColor(QPalette.Disabled, role, qcolor(FG_DIM))
    app.setPalette(pal)
    app.setStyleSheet(_STYLESHEET)
