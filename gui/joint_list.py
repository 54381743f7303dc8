"""The joint list: 42 joints under their hand, each with its state and reprojection error.

:func:`describe_state` (pure) turns a session ``JointState`` into the texts and colours of
a row; :class:`JointList` shows them and emits ``jointSelected`` when the user picks a row.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass

from PyQt5.QtCore import Qt, QTimer, pyqtSignal
from PyQt5.QtGui import QBrush, QFont, QIcon, QPainter, QPixmap
from PyQt5.QtWidgets import QHeaderView, QTreeWidget, QTreeWidgetItem

from annotator import skeleton
from gui import theme

__all__ = ["RowText", "describe_state", "JointList"]


@dataclass(frozen=True)
class RowText:
    """What one joint row shows: state text, error text, colour of the state, flagged,
    and the tooltip that explains them."""

    state: str
    error: str
    rgb: theme.RGB
    flagged: bool
    tooltip: str = ""


#: Tooltips of the list's header.
HEADER_TIPS = (
    "joint index and name (the colour is its finger's)",
    "not placed · 1 view (click a second view) · 3D · n views (triangulated from n clicks) · "
    "machine proposal (Enter accepts it) · hand absent; ⚑ = flagged: a click lies more than "
    "the error limit from the joint's reprojection, or the joint is flagged for review",
    "mean distance in px between the joint's clicks and its reprojection in those views "
    "(red above the limit: a click that disagrees with the others)",
)


def describe_state(st) -> RowText:
    """Row texts of a ``JointState`` (status, n_views, mean_error_px, occluded_in, ...)."""
    status = st.status
    if status == "triangulated":
        text = f"3D · {st.n_views} views"
    elif status == "one_view":
        text = "1 view"
    elif status == "proposal":
        text = "machine proposal"
    elif status == "hand_absent":
        text = "hand absent"
    else:
        text = "not placed"
    extras = []
    if st.occluded_in:
        extras.append(f"occluded ×{len(st.occluded_in)}")
    if st.locked_in:
        extras.append("locked")
    if extras:
        text += " · " + ", ".join(extras)
    err = st.mean_error_px
    err_text = f"{err:.1f} px" if err is not None and math.isfinite(err) else ""
    rgb = theme.FLAG_RGB if st.flagged else theme.STATUS_RGB.get(status, theme.FG_DIM)
    tip = [text]
    if st.reproj_error_px and err_text:
        tip.append("click to reprojection distance per view: " + ", ".join(
            f"{cam} {e:.1f} px" for cam, e in st.reproj_error_px.items()))
    if st.flagged:
        reason = getattr(st, "flag_reason", "")
        tip.append("⚑ flagged: " + (reason or "a click lies far from the joint's "
                                    "reprojection; drag it, or delete it (Delete)"))
    if st.occluded_in:
        tip.append("occluded in " + ", ".join(st.occluded_in))
    if st.locked_in:
        tip.append("locked to the click in " + ", ".join(st.locked_in))
    return RowText(("⚑ " if st.flagged else "") + text, err_text, rgb, bool(st.flagged),
                   "\n".join(tip))


def _swatch(rgb: theme.RGB) -> QIcon:
    pm = QPixmap(12, 12)
    pm.fill(Qt.transparent)
    p = QPainter(pm)
    p.setRenderHint(QPainter.Antialiasing)
    p.setPen(Qt.NoPen)
    p.setBrush(theme.qcolor(rgb))
    p.drawEllipse(1, 1, 10, 10)
    p.end()
    return QIcon(pm)


class JointList(QTreeWidget):
    """Two hand groups of 21 joint rows (columns: joint, state, mean reprojection error)."""

    jointSelected = pyqtSignal(int)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setColumnCount(3)
        self.setHeaderLabels(["joint", "state", "error"])
        for k, tip in enumerate(HEADER_TIPS):
            self.headerItem().setToolTip(k, tip)
        self.setRootIsDecorated(False)
        self.setAlternatingRowColors(True)
        self.setUniformRowHeights(True)
        self.setFocusPolicy(Qt.NoFocus)
        self.setIndentation(8)
        hdr = self.header()
        hdr.setSectionResizeMode(0, QHeaderView.ResizeToContents)
        hdr.setSectionResizeMode(1, QHeaderView.Stretch)
        hdr.setSectionResizeMode(2, QHeaderView.ResizeToContents)
        hdr.setStretchLastSection(False)
        self._rows: list[QTreeWidgetItem] = []
        self._hands: list[QTreeWidgetItem] = []
        self._last: list[RowText | None] = [None] * skeleton.NUM_JOINTS
        bold = QFont(self.font())
        bold.setBold(True)
        for hand in skeleton.HANDS:
            top = QTreeWidgetItem([f"{hand} hand", "", ""])
            top.setFont(0, bold)
            top.setFlags(Qt.ItemIsEnabled)
            top.setFirstColumnSpanned(False)
            self.addTopLevelItem(top)
            self._hands.append(top)
            for j in skeleton.hand_joints(hand):
                name = skeleton.JOINT_NAMES[int(j)]
                item = QTreeWidgetItem([f"{int(j):2d}  {name[2:]}", "", ""])
                item.setIcon(0, _swatch(theme.joint_rgb(int(j))))
                item.setData(0, Qt.UserRole, int(j))
                item.setTextAlignment(2, Qt.AlignRight | Qt.AlignVCenter)
                top.addChild(item)
                self._rows.append(item)
        self.expandAll()
        self.itemClicked.connect(self._clicked)

    def _clicked(self, item: QTreeWidgetItem, _col: int) -> None:
        j = item.data(0, Qt.UserRole)
        if j is not None:
            self.jointSelected.emit(int(j))

    def set_state(self, j: int, st) -> None:
        """Update row ``j`` from its ``JointState`` (no repaint when nothing changed)."""
        row = describe_state(st)
        if row == self._last[j]:
            return
        self._last[j] = row
        item = self._rows[j]
        item.setText(1, row.state)
        item.setText(2, row.error)
        for col in (1, 2):
            item.setToolTip(col, row.tooltip)
        brush = QBrush(theme.qcolor(row.rgb))
        item.setForeground(1, brush)
        item.setForeground(2, QBrush(theme.qcolor(theme.FLAG_RGB if row.flagged
                                                  else theme.FG_TEXT)))

    def set_hand_text(self, hand: int, text: str) -> None:
        self._hands[hand].setText(1, text)

    def set_current(self, j: int) -> None:
        item = self._rows[j]
        if self.currentItem() is not item:
            self.setCurrentItem(item)
        parent = item.parent()
        if parent is not None and parent.indexOfChild(item) == 0:
            self.scrollToItem(parent)  # a hand's first joint: keep its header in sight
        self.scrollToItem(item)

    def showEvent(self, ev) -> None:  # noqa: N802 (Qt name)
        # Scrolls asked for before the first layout are applied late and hide the hand's
        # header row: apply the current row's scroll again once the list is laid out.
        super().showEvent(ev)
        item = self.currentItem()
        j = None if item is None else item.data(0, Qt.UserRole)
        if j is not None:
            QTimer.singleShot(0, lambda: self._rescroll(int(j)))

    def _rescroll(self, j: int) -> None:
        with contextlib.suppress(RuntimeError):  # the list was deleted meanwhile
            self.set_current(j)

    def row_text(self, j: int) -> tuple[str, str]:
        """(state, error) texts of row ``j`` (tests)."""
        return self._rows[j].text(1), self._rows[j].text(2)
