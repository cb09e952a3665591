"""The side panel: objective, start point, view, the run list and the selected run's settings.

Every editor is built from the registries and the hyperparameter/schedule dataclasses, so new
optimizers, objectives and schedules show up without touching this file.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import re

from PySide6.QtCore import QPoint, Qt, Signal
from PySide6.QtGui import QColor, QFont, QStandardItem, QStandardItemModel, QValidator
from PySide6.QtWidgets import (
    QCheckBox,
    QColorDialog,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QToolButton,
    QToolTip,
    QVBoxLayout,
    QWidget,
)

from ..core import OBJECTIVES, OPTIMIZERS, SCHEDULES, get_optimizer_spec
from ..core.race import run_labels
from ..core.runspec import RunSpec
from ..core.session import resolve_objective
from .controller import Controller

ERROR_STYLE = "color: #ff6b6b;"
BAD_FIELD = "QLineEdit { border: 1px solid #ff6b6b; color: #ff6b6b; }"
RUN_ROWS = (4, 8)  # the run list shows this many rows at least, and at most before it scrolls
BAD_SPIN = "QSpinBox { border: 1px solid #ff6b6b; color: #ff6b6b; }"
NUMBER = re.compile(r"\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*")
PARTIAL_NUMBER = re.compile(r"\s*[+-]?\d*\.?\d*([eE][+-]?\d*)?\s*")  # on the way to one
NUMERIC = " (numerical gradient)"
NUMERIC_HELP = ("This objective has no gradient of its own: every run follows central "
                "differences of f.")


def fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


def number_problem(text: str) -> str | None:
    """Why ``text`` is not a finite number (None when it is one)."""
    if not text.strip():
        return "empty: type a number"
    if "," in text:
        return f"'{text}' is not a number: use '.' as the decimal point"
    if not NUMBER.fullmatch(text):
        return f"'{text}' is not a number"
    if not math.isfinite(float(text)):
        return f"'{text}' is too large"
    return None


class WrapLabel(QLabel):
    """A word-wrapped label that is always as tall as its text at its width.

    The panel sits in a QScrollArea, which lays its widget out by size hints, and those know
    nothing of height-for-width: a long message (a parser error) was cut at top and bottom.
    """

    def __init__(self, text: str = "") -> None:
        super().__init__(text)
        self.setWordWrap(True)

    def setText(self, text: str) -> None:  # noqa: N802 (Qt name)
        super().setText(text)
        self._fit()

    def resizeEvent(self, ev) -> None:  # noqa: N802 (Qt name)
        super().resizeEvent(ev)
        self._fit()

    def _fit(self) -> None:
        h = self.heightForWidth(self.width())
        if h > 0 and h != self.minimumHeight():
            self.setMinimumHeight(h)


class FloatValidator(QValidator):
    """Numbers with '.' and an optional exponent (1e-3).  Letters are refused; '-', '1e',
    '1e400' and a decimal comma ('1,5') are "intermediate": shown, never applied (dropping the
    ',' key would silently turn 1,5 into 15)."""

    def validate(self, text: str, pos: int):
        if number_problem(text) is None:
            return QValidator.State.Acceptable, text, pos
        if PARTIAL_NUMBER.fullmatch(text.replace(",", ".", 1)):
            return QValidator.State.Intermediate, text, pos
        return QValidator.State.Invalid, text, pos


class FloatEdit(QLineEdit):
    """A line edit for one float, scientific notation allowed (1e-3).

    ``committed(float)`` fires on Enter or focus-out when the value changed.  Text that is not
    a number never passes silently: a refused key (a letter) says so, Enter on text that is no
    number ('1,5', '-', '1e', '') turns the field red and says why (``problem(str)``), and
    leaving the field then puts the value in force back (and says so).
    """

    committed = Signal(float)
    problem = Signal(str)

    def __init__(self, value: float, parent=None) -> None:
        super().__init__(fmt(value), parent)
        self.setValidator(FloatValidator(self))
        self._value = float(value)
        self.editingFinished.connect(self._finished)
        self.inputRejected.connect(self._key_refused)
        self.setMinimumWidth(60)

    def value(self) -> float:
        return self._value

    def set_value(self, v: float) -> None:
        self._value = float(v)
        self.setText(fmt(v))
        self.mark_bad(False)

    def mark_bad(self, bad: bool) -> None:
        self.setStyleSheet(BAD_FIELD if bad else "")

    def _say(self, msg: str) -> None:
        QToolTip.showText(self.mapToGlobal(QPoint(0, self.height())), msg, self)
        self.problem.emit(msg)

    def _key_refused(self) -> None:
        self._say("Numbers only, with '.' as the decimal point: 1.5, -2, 1e-3")

    def keyPressEvent(self, ev) -> None:  # noqa: N802 (Qt name)
        if ev.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and not self.hasAcceptableInput():
            self.mark_bad(True)
            self._say(f"Not applied: {number_problem(self.text())}")
        super().keyPressEvent(ev)

    def focusOutEvent(self, ev) -> None:  # noqa: N802 (Qt name)
        if not self.hasAcceptableInput():
            why = number_problem(self.text())
            self.setText(fmt(self._value))
            self.mark_bad(False)
            self.problem.emit(f"Not applied ({why}); kept {fmt(self._value)}")
        super().focusOutEvent(ev)

    def _finished(self) -> None:
        if not self.hasAcceptableInput():
            return
        v = float(self.text())
        if v != self._value or self.styleSheet():
            self.committed.emit(v)

    def accept_value(self, v: float) -> None:
        self._value = float(v)
        self.mark_bad(False)


class RunRow(QWidget):
    """Swatch, visibility checkbox and label of one run."""

    def __init__(self, panel: Panel, index: int, spec: RunSpec, label: str) -> None:
        super().__init__()
        lay = QHBoxLayout(self)
        lay.setContentsMargins(4, 2, 4, 2)
        lay.setSpacing(6)
        self.swatch = QToolButton()
        self.swatch.setFixedSize(18, 18)
        self.swatch.setToolTip("Change the colour of this run")
        self.swatch.setStyleSheet(f"QToolButton {{ background: {spec.color}; border: 1px solid "
                                  "#222; border-radius: 3px; }")
        self.swatch.clicked.connect(lambda: panel.pick_color(index))
        self.check = QCheckBox()
        self.check.setChecked(spec.visible)
        self.check.setToolTip("Show this run")
        self.check.toggled.connect(lambda on: panel.controller.set_run_look(index, visible=on))
        self.label = QLabel(label)
        self.label.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        lay.addWidget(self.swatch)
        lay.addWidget(self.check)
        lay.addWidget(self.label, 1)


class Panel(QWidget):
    """Edits the controller's race.  The view is the stage's: ``show_view`` fills the view
    fields, and typed values go out as ``viewEntered(((x0, x1), (y0, y1)))`` (1-D: y is the
    range of f), each axis checked low < high first."""

    viewEntered = Signal(object)

    def __init__(self, controller: Controller, parent=None) -> None:
        super().__init__(parent)
        self.controller = controller
        self._editing = False     # True while our own edit makes the controller emit
        self._editor_key = None
        self.hyper_edits: dict[str, QWidget] = {}

        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        outer.addWidget(scroll)
        body = QWidget()
        scroll.setWidget(body)
        lay = QVBoxLayout(body)
        lay.setContentsMargins(8, 8, 8, 8)
        lay.setSpacing(10)

        # ---- objective
        box = QGroupBox("Objective")
        bl = QVBoxLayout(box)
        self.objective_combo = QComboBox()
        self.objective_combo.setPlaceholderText("custom expression")
        self._fill_objectives()
        self.objective_combo.activated.connect(self._objective_picked)
        bl.addWidget(self.objective_combo)
        self.formula = WrapLabel()
        self.formula.setStyleSheet("color: #9aa0ab;")
        bl.addWidget(self.formula)
        self.expr = QLineEdit()
        self.expr.setPlaceholderText("custom f(x, y), e.g. x**2 + 3*sin(y)  ⏎")
        self.expr.setToolTip("Type a formula in x (and y) and press Enter")
        self.expr.returnPressed.connect(self._expression_entered)
        bl.addWidget(self.expr)
        self.expr_error = WrapLabel()
        self.expr_error.setStyleSheet(ERROR_STYLE)
        self.expr_error.hide()
        bl.addWidget(self.expr_error)
        lay.addWidget(box)

        # ---- start point
        box = QGroupBox("Start point")
        fl = QFormLayout(box)
        self.start_x = FloatEdit(0.0)
        self.start_y = FloatEdit(0.0)
        for e in (self.start_x, self.start_y):
            e.committed.connect(self._start_typed)
            e.problem.connect(self.controller.message)
        row = QHBoxLayout()
        self.start_y_label = QLabel("y")
        row.addWidget(QLabel("x"))
        row.addWidget(self.start_x)
        row.addWidget(self.start_y_label)
        row.addWidget(self.start_y)
        fl.addRow(row)
        self.start_hint = WrapLabel("Click the plot to move the start, Shift+click to add one.")
        self.start_hint.setStyleSheet("color: #9aa0ab;")
        fl.addRow(self.start_hint)
        lay.addWidget(box)

        # ---- view
        box = QGroupBox("View")
        box.setToolTip("The visible range. Drag the plot to pan, turn the wheel to zoom; "
                       "Ctrl+0 goes back to the objective's view.")
        vl = QVBoxLayout(box)
        self.view_edits = [FloatEdit(v) for v in (0.0, 1.0, 0.0, 1.0)]
        self.view_axis_labels = []
        for axis in range(2):
            row = QHBoxLayout()
            label = QLabel("xy"[axis])
            label.setMinimumWidth(30)
            self.view_axis_labels.append(label)
            row.addWidget(label)
            lo, hi = self.view_edits[2 * axis: 2 * axis + 2]
            row.addWidget(lo, 1)
            row.addWidget(QLabel("to"))
            row.addWidget(hi, 1)
            vl.addLayout(row)
        for e in self.view_edits:
            e.committed.connect(self._view_typed)
            e.problem.connect(self.controller.message)
        self.view_error = WrapLabel()
        self.view_error.setStyleSheet(ERROR_STYLE)
        self.view_error.hide()
        vl.addWidget(self.view_error)
        lay.addWidget(box)

        # ---- runs
        box = QGroupBox("Runs")
        bl = QVBoxLayout(box)
        self.run_list = QListWidget()
        self.run_list.currentRowChanged.connect(self._selection_changed)
        bl.addWidget(self.run_list)
        btns = QHBoxLayout()
        self.add_button = QPushButton("Add")
        self.add_menu = QMenu(self.add_button)
        self.add_menu.setToolTipsVisible(True)
        self.torch_menu: QMenu | None = None
        self._add_menu_stale = True  # filled when opened: the torch check imports the bridge
        self.add_menu.aboutToShow.connect(self._fill_add_menu)
        self.add_button.setMenu(self.add_menu)
        self.dup_button = QPushButton("Duplicate")
        self.dup_button.clicked.connect(self.duplicate_selected)
        self.remove_button = QPushButton("Remove")
        self.remove_button.clicked.connect(self.remove_selected)
        for b in (self.add_button, self.dup_button, self.remove_button):
            btns.addWidget(b)
        bl.addLayout(btns)
        self.compare_button = QPushButton("Compare learning rates (×0.1, ×10)")
        self.compare_button.setToolTip("Add copies of the selected run with lr ×0.1 and ×10")
        self.compare_button.clicked.connect(self.compare_learning_rates)
        bl.addWidget(self.compare_button)
        self.branch_button = QPushButton("Branch here")
        self.branch_button.setToolTip(
            "A new run that shares the selected run's history up to the iteration shown and "
            "goes on from there: change its settings, they apply from that step")
        self.branch_button.clicked.connect(self.branch_selected)
        bl.addWidget(self.branch_button)
        self.run_list.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.run_list.customContextMenuRequested.connect(self._run_menu)
        lay.addWidget(box)

        # ---- selected run
        self.editor_box = QGroupBox("Selected run")
        self.editor_layout = QVBoxLayout(self.editor_box)
        self.editor_body: QWidget | None = None
        lay.addWidget(self.editor_box)
        lay.addStretch(1)

        controller.objectiveChanged.connect(self._objective_changed)
        controller.runsChanged.connect(self._runs_changed)
        controller.startsChanged.connect(self._starts_changed)
        self._objective_changed()
        self._runs_changed()
        self._starts_changed()
        body.setMinimumWidth(330)
        self.setMinimumWidth(350)

    # ------------------------------------------------------------------ registries
    def refresh_registry(self) -> None:
        """The Add menu and the objective box again, from the registries as they are now
        (after a plugin was loaded)."""
        self._add_menu_stale = True
        self._fill_objectives()
        self._objective_changed()

    def _fill_objectives(self) -> None:
        """The objective box: 1-D, then 2-D, each group in registry order (built-ins first,
        then plugins'); an objective with a numerical gradient says so."""
        model = QStandardItemModel(self.objective_combo)
        bold = QFont()
        bold.setBold(True)
        for dim in (1, 2):
            head = QStandardItem(f"{dim}-D")
            head.setFlags(Qt.ItemFlag.NoItemFlags)
            head.setFont(bold)
            model.appendRow(head)
            for name, obj in OBJECTIVES.items():
                if obj.dim == dim:
                    extra = NUMERIC if obj.numeric_grad else ""
                    it = QStandardItem("   " + obj.title + extra)
                    it.setData(name, Qt.ItemDataRole.UserRole)
                    it.setToolTip(obj.formula + (f"\n{NUMERIC_HELP}" if extra else ""))
                    model.appendRow(it)
        self.objective_combo.setModel(model)

    def _fill_add_menu(self) -> None:
        """The Add menu, as it opens (when the registry changed since): the built-in
        optimizers, then the plugins' (under a "Plugins" section), then a "torch.optim"
        submenu when torch is installed, filled as it opens -- listing torch's optimizers
        imports torch."""
        if not self._add_menu_stale:
            return
        self._add_menu_stale = False
        from ..core.optimizers import OPTIMIZER_SOURCES

        menu = self.add_menu
        menu.clear()
        self.torch_menu = None
        names = list(OPTIMIZERS)
        builtin = [n for n in names if n not in OPTIMIZER_SOURCES]
        plugins = [n for n in names if n in OPTIMIZER_SOURCES]
        for group in (builtin, plugins):
            if group and group is plugins:
                menu.addSection("Plugins")
            for name in group:
                spec = OPTIMIZERS[name]
                act = menu.addAction(spec.title)
                act.setData(name)
                act.setToolTip(spec.paper)
                act.triggered.connect(lambda _=False, n=name: self._add(n))
        from ..core.torch_bridge import torch_available

        if torch_available():
            menu.addSeparator()
            self.torch_menu = menu.addMenu("torch.optim")
            self.torch_menu.setToolTipsVisible(True)
            self.torch_menu.aboutToShow.connect(self._fill_torch_menu)

    def _fill_torch_menu(self) -> None:
        """The torch.optim classes gdviz can run (imports torch, once, on first opening)."""
        sub = self.torch_menu
        if sub is None or sub.actions():
            return
        from ..core.torch_bridge import torch_optimizer_names

        names = torch_optimizer_names()
        for name in names:
            act = sub.addAction(name.removeprefix("torch:"))
            act.setData(name)
            act.setToolTip(f"torch.optim.{name.removeprefix('torch:')}, run by gdviz")
            act.triggered.connect(lambda _=False, n=name: self._add(n))
        if not names:
            sub.addAction("torch could not be imported").setEnabled(False)

    # ------------------------------------------------------------------ objective
    def _objective_picked(self, row: int) -> None:
        name = self.objective_combo.itemData(row, Qt.ItemDataRole.UserRole)
        if name:
            self.controller.set_objective(name)
            self.expr_error.hide()
            self.expr.clear()
            self.expr.setStyleSheet("")
            self.controller.message.emit(f"Objective: {self.controller.objective.title}")

    def _expression_entered(self) -> None:
        text = self.expr.text().strip()
        if not text:
            return
        try:
            obj = resolve_objective(text)
        except ValueError as e:
            self.expr_error.setText(str(e))
            self.expr_error.show()
            self.expr.setStyleSheet(BAD_FIELD)
            self.controller.message.emit(f"Objective unchanged: {e}")
            return
        self.expr_error.hide()
        self.expr.setStyleSheet("")
        self.controller.set_objective(obj if obj.expression or text not in OBJECTIVES else text)
        self.controller.message.emit(f"Objective: {self.controller.objective.title}")

    def _objective_changed(self) -> None:
        obj = self.controller.objective
        idx = -1
        for i in range(self.objective_combo.count()):
            if self.objective_combo.itemData(i, Qt.ItemDataRole.UserRole) == obj.name \
                    and obj.name in OBJECTIVES and obj == OBJECTIVES[obj.name]:
                idx = i
        self.objective_combo.setCurrentIndex(idx)
        text = f"f = {obj.formula}" if obj.formula else (obj.expression or "")
        self.formula.setText(text + (NUMERIC if obj.numeric_grad else ""))
        self.formula.setToolTip(NUMERIC_HELP if obj.numeric_grad else "")
        two = obj.dim == 2
        self.start_y.setVisible(two)
        self.start_y_label.setVisible(two)
        self.view_axis_labels[1].setText("y" if two else "f(x)")
        self.view_axis_labels[1].setToolTip("" if two else "The range of f drawn up the plot")
        self._starts_changed()

    # ------------------------------------------------------------------ start
    def _starts_changed(self) -> None:
        s = self.controller.starts
        self.start_x.set_value(float(s[0, 0]))
        if s.shape[1] > 1:
            self.start_y.set_value(float(s[0, 1]))
        n = len(s)
        self.start_hint.setText(
            "Click the plot to move the start, Shift+click to add one."
            + (f"  ({n} start points; typing here keeps only this one.)" if n > 1 else ""))

    def _start_typed(self, _v: float) -> None:
        p = [float(e.text()) if e.hasAcceptableInput() else e.value()
             for e in (self.start_x, self.start_y)]
        p = p[: self.controller.objective.dim]
        try:
            self.controller.set_starts([p])
        except ValueError as e:
            self.controller.message.emit(str(e))
            return
        self.controller.message.emit("Start set to (" + ", ".join(fmt(v) for v in p) + ")")

    # ------------------------------------------------------------------ view
    def show_view(self, view) -> None:
        """Fill the view fields with ``((x0, x1), (y0, y1))``, the view now shown."""
        for e, v in zip(self.view_edits, (c for axis in view for c in axis), strict=True):
            e.set_value(float(v))
        self.view_error.hide()

    def _view_typed(self, _v: float) -> None:
        # an edited field gives its text; the others their exact value (not the 6 digits shown)
        vals = []
        for e in self.view_edits:
            typed = e.hasAcceptableInput() and e.text() != fmt(e.value())
            vals.append(float(e.text()) if typed else e.value())
        names = ("x", self.view_axis_labels[1].text())
        for axis in range(2):
            lo, hi = vals[2 * axis: 2 * axis + 2]
            if not lo < hi:
                self.view_refused(f"{names[axis]} from {fmt(lo)} to {fmt(hi)}: the first "
                                  "must be below the second", axis)
                return
        self.viewEntered.emit(((vals[0], vals[1]), (vals[2], vals[3])))

    def view_refused(self, msg: str, axis: int | None = None) -> None:
        """A typed view that is not applied: the fields in red, the reason under them."""
        for i, e in enumerate(self.view_edits):
            if axis is None or i // 2 == axis:
                e.mark_bad(True)
        self.view_error.setText(f"Not applied: {msg}")
        self.view_error.show()
        self.controller.message.emit(f"View not applied: {msg}")

    # ------------------------------------------------------------------ run list
    def _fit_run_list(self) -> None:
        """As tall as its runs (4 to 8 rows, then it scrolls), so that the selected run's
        editor below it starts higher in the panel."""
        lst = self.run_list
        row = lst.sizeHintForRow(0) if lst.count() else lst.fontMetrics().height() + 8
        rows = min(max(lst.count(), RUN_ROWS[0]), RUN_ROWS[1])
        lst.setFixedHeight(rows * row + 2 * lst.frameWidth() + 2)

    def selected(self) -> int:
        return self.run_list.currentRow()

    def _runs_changed(self) -> None:
        keep = self.run_list.currentRow()
        self.run_list.blockSignals(True)
        self.run_list.clear()
        runs = self.controller.runs
        for i, (spec, label) in enumerate(zip(runs, run_labels(runs), strict=True)):
            item = QListWidgetItem()
            row = RunRow(self, i, spec, label)
            item.setSizeHint(row.sizeHint())
            self.run_list.addItem(item)
            self.run_list.setItemWidget(item, row)
        n = self.run_list.count()
        self.run_list.setCurrentRow(min(max(keep, 0), n - 1) if n else -1)
        self.run_list.blockSignals(False)
        self._fit_run_list()
        for b in (self.dup_button, self.remove_button, self.compare_button,
                  self.branch_button):
            b.setEnabled(n > 0)
        if not self._editing:
            self._rebuild_editor()

    def _selection_changed(self, _row: int) -> None:
        self._rebuild_editor()

    def _add(self, name: str) -> None:
        idx = self.controller.add_run(RunSpec(name))
        self.run_list.setCurrentRow(idx)

    def duplicate_selected(self) -> None:
        i = self.selected()
        if i < 0:
            return
        spec = copy.deepcopy(self.controller.runs[i])
        spec.color = None
        idx = self.controller.add_run(spec)
        self.run_list.setCurrentRow(idx)

    def remove_selected(self) -> None:
        i = self.selected()
        if i >= 0:
            self.controller.remove_run(i)

    def branch_selected(self) -> int:
        """Fork the selected run at the iteration shown (``Race.branch``) and select the new
        run, whose settings then apply from that step; returns its index (-1: none)."""
        i = self.selected()
        if i < 0:
            return -1
        c = self.controller
        c.pause()
        try:
            idx = c.branch(i)
        except ValueError as e:
            c.message.emit(f"Cannot branch: {e}")
            return -1
        self.run_list.setCurrentRow(idx)
        k = c.runs[idx].branch["step"]
        c.message.emit(f"Branched at step {k}: change its settings, they apply from step {k}")
        return idx

    def run_menu(self, row: int) -> QMenu:
        """Run ``row``'s context menu (it selects the run): Branch here, Duplicate, Remove."""
        self.run_list.setCurrentRow(row)
        menu = QMenu(self)
        menu.addAction(f"Branch here (from iteration {self.controller.iteration})",
                       self.branch_selected)
        menu.addAction("Duplicate", self.duplicate_selected)
        menu.addAction("Remove", self.remove_selected)
        return menu

    def _run_menu(self, pos) -> None:
        row = self.run_list.indexAt(pos).row()
        if row >= 0:
            self.run_menu(row).exec(self.run_list.viewport().mapToGlobal(pos))

    def compare_learning_rates(self) -> None:
        i = self.selected()
        if i < 0:
            return
        base = self.controller.runs[i]
        try:
            lr = float(base.build().hp.lr)
        except (ValueError, TypeError, AttributeError) as e:
            self.controller.message.emit(f"Cannot compare learning rates: {e}")
            return
        def same(a: RunSpec, b: RunSpec) -> bool:  # the same run, whatever its colour
            return dataclasses.replace(a, color=None, visible=True) == \
                dataclasses.replace(b, color=None, visible=True)

        group = [i]
        for factor in (0.1, 10.0):
            spec = copy.deepcopy(base)
            spec.color = None
            spec.hyper["lr"] = float(f"{lr * factor:.6g}")
            runs = self.controller.runs
            k = next((j for j, r in enumerate(runs) if same(r, spec)), None)
            if k is None:  # not there yet
                k = self.controller.add_run(spec)
            group.append(k)
        # all three from the start together, so that the comparison is aligned
        self.controller.restart_runs(group)
        self.run_list.setCurrentRow(i)
        self.controller.message.emit(
            f"Comparing lr = {lr * 0.1:g}, {lr:g}, {lr * 10:g} (restarted together)")

    def pick_color(self, index: int) -> None:
        spec = self.controller.runs[index]
        col = QColorDialog.getColor(QColor(spec.color or "#ffffff"), self, "Run colour")
        if col.isValid():
            self.controller.set_run_look(index, color=col.name())

    # ------------------------------------------------------------------ run editor
    def _rebuild_editor(self) -> None:
        if self.editor_body is not None:
            self.editor_layout.removeWidget(self.editor_body)
            self.editor_body.hide()  # at once: deleteLater waits for the event loop
            self.editor_body.deleteLater()
            self.editor_body = None
        self.hyper_edits = {}
        i = self.selected()
        if i < 0 or i >= len(self.controller.runs):
            self.editor_box.setTitle("Selected run")
            return
        spec = self.controller.runs[i]
        try:
            ospec = get_optimizer_spec(spec.optimizer)
        except ValueError as e:  # e.g. a torch: run without torch, a plugin not loaded
            self.editor_box.setTitle(f"Selected run: {spec.optimizer}")
            body = WrapLabel(str(e))
            body.setStyleSheet(ERROR_STYLE)
            self.editor_layout.addWidget(body)
            self.editor_body = body
            return
        self.editor_box.setTitle(f"Selected run: {ospec.title}")
        body = QWidget()
        form = QFormLayout(body)
        form.setContentsMargins(0, 0, 0, 0)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        paper = WrapLabel(ospec.paper)
        paper.setStyleSheet("color: #9aa0ab; font-size: 9pt;")
        form.addRow(paper)
        if spec.branch is not None:  # its first steps followed other settings
            k = spec.branch["step"]
            note = WrapLabel(f"A branch: its first {k} steps are its origin's; these "
                             f"settings apply from step {k} on.")
            note.setStyleSheet("color: #9aa0ab; font-size: 9pt;")
            form.addRow(note)
        current = ospec.make_hyper(**spec.hyper) if self._builds(spec) else ospec.make_hyper()
        for f in dataclasses.fields(ospec.hyper):
            meta = f.metadata
            value = getattr(current, f.name)
            label = meta.get("label") or f.name.replace("_", " ")
            w = self._value_editor(value, lambda v, _w=None, n=f.name: self._set_hyper(n, v),
                                   meta)
            if w is None:
                continue
            w.setToolTip(meta.get("help", ""))
            lab = QLabel(label)
            lab.setToolTip(meta.get("help", ""))
            form.addRow(lab, w)
            self.hyper_edits[f.name] = w
        # arguments that gdviz keeps at their default (a torch class's foreach, fused, ...)
        for name, default in getattr(ospec.hyper, "readonly", {}).items():
            w = QLineEdit(repr(default))
            w.setReadOnly(True)
            w.setEnabled(False)
            w.setToolTip(f"{name} stays at its default, {default!r}: it chooses an "
                         "implementation, or is not a number gdviz can set")
            form.addRow(QLabel(name.replace("_", " ")), w)
            self.hyper_edits[name] = w
        # schedules
        self.lr_sched = self._schedule_editor(form, "lr schedule", "lr_schedule", spec)
        if ospec.momentum_field:
            title = "β1 schedule" if ospec.momentum_field == "betas" else "momentum schedule"
            self.mom_sched = self._schedule_editor(form, title,
                                                   "momentum_schedule", spec)
        # gradient noise
        noise = FloatEdit(spec.noise)
        noise.setToolTip("σ of Gaussian noise added to every gradient component (0 = exact)")
        noise.committed.connect(lambda v: self._set_field("noise", v, "noise σ changed", noise))
        noise.problem.connect(self.controller.message)
        form.addRow("noise σ", noise)
        seed = QSpinBox()
        seed.setRange(0, 2**31 - 1)
        seed.setValue(int(spec.seed))
        seed.setToolTip("Seed of the gradient noise: the same seed gives the same run")
        seed.editingFinished.connect(
            lambda: seed.value() != self._spec().seed
            and self._set_field("seed", seed.value(), "seed changed", None))
        form.addRow("noise seed", seed)
        self.hyper_edits["noise"] = noise
        self.hyper_edits["seed"] = seed
        self.run_error = WrapLabel()
        self.run_error.setStyleSheet(ERROR_STYLE)
        self.run_error.hide()
        form.addRow(self.run_error)
        self.editor_layout.addWidget(body)
        self.editor_body = body

    @staticmethod
    def _builds(spec: RunSpec) -> bool:
        try:
            spec.build()
            return True
        except (ValueError, TypeError):
            return False

    def _value_editor(self, value, on_change, meta=None) -> QWidget | None:
        """An editor for one value, by its type and its ``hparam`` metadata (bounds, choices);
        ``on_change(new_value, editor)``."""
        meta = meta or {}
        if meta.get("choices"):
            w = QComboBox()
            for choice in meta["choices"]:
                w.addItem(str(choice), choice)
            w.setCurrentIndex(max(w.findData(value), 0))
            w.tried = value  # picking the value in force again applies nothing

            def picked(_index: int) -> None:
                if w.currentData() != w.tried:
                    w.tried = w.currentData()
                    on_change(w.tried, w)
            w.activated.connect(picked)
            return w
        if isinstance(value, bool):
            w = QCheckBox()
            w.setChecked(value)
            w.toggled.connect(lambda on: on_change(bool(on), w))
            return w
        if isinstance(value, int):
            w = QSpinBox()
            lo = meta.get("minimum")
            hi = meta.get("maximum")
            w.setRange(int(lo) if lo is not None else 0, int(hi) if hi is not None else 10**9)
            w.setValue(value)
            w.tried = value  # focus-out without a change applies nothing

            def finished() -> None:
                if w.value() != w.tried:
                    w.tried = w.value()
                    on_change(int(w.value()), w)
            w.editingFinished.connect(finished)
            return w
        if isinstance(value, float):
            w = FloatEdit(value)
            w.committed.connect(lambda v: on_change(v, w))
            w.problem.connect(self.controller.message)
            return w
        if isinstance(value, tuple) and all(isinstance(v, (int, float)) for v in value):
            box = QWidget()
            h = QHBoxLayout(box)
            h.setContentsMargins(0, 0, 0, 0)
            edits = [FloatEdit(float(v)) for v in value]

            def commit(_v, edits=edits):
                try:
                    vals = tuple(float(e.text()) for e in edits)
                except ValueError:
                    return
                on_change(vals, box)
            for e in edits:
                e.committed.connect(commit)
                e.problem.connect(self.controller.message)
                h.addWidget(e)
            box.edits = edits
            return box
        if isinstance(value, str):
            w = QLineEdit(value)
            w.editingFinished.connect(lambda: w.text() != value and on_change(w.text(), w))
            return w
        return None

    def _schedule_editor(self, form: QFormLayout, title: str, attr: str, spec: RunSpec):
        cur = getattr(spec, attr) or {"kind": "constant"}
        target = "lr" if attr == "lr_schedule" else "momentum"
        combo = QComboBox()
        for kind, cls in SCHEDULES.items():  # only the kinds meant for this hyperparameter
            if target in getattr(cls, "applies_to", ("lr", "momentum")) \
                    or kind == cur.get("kind"):
                combo.addItem(kind.replace("_", " "), kind)
        combo.setCurrentIndex(max(combo.findData(cur.get("kind", "constant")), 0))
        form.addRow(title, combo)
        params = QWidget()
        pl = QFormLayout(params)
        pl.setContentsMargins(12, 0, 0, 0)
        form.addRow(params)
        cls = SCHEDULES.get(cur.get("kind", "constant"))
        if cls is not None and dataclasses.is_dataclass(cls):
            doc = (cls.__doc__ or "").strip().splitlines()
            combo.setToolTip(doc[0] if doc else "")
            for f in dataclasses.fields(cls):
                if f.name == "kind" or f.default is dataclasses.MISSING:
                    continue
                value = cur.get(f.name, f.default)
                w = self._value_editor(value, lambda v, w, n=f.name: self._set_schedule(
                    attr, {**self._sched(attr), n: v}, editor=w), f.metadata)
                if w is None:
                    continue
                pl.addRow(f.name.replace("_", " "), w)
        params.setVisible(pl.rowCount() > 0)
        combo.activated.connect(lambda _i: self._set_schedule(
            attr, None if combo.currentData() == "constant" else {"kind": combo.currentData()},
            rebuild=True))
        return combo

    def _spec(self) -> RunSpec:
        return self.controller.runs[self.selected()]

    def _sched(self, attr: str) -> dict:
        return dict(getattr(self._spec(), attr) or {"kind": "constant"})

    def _apply(self, new: RunSpec, reason: str, editor: QWidget | None,
               rebuild: bool = False) -> bool:
        i = self.selected()
        self._editing = not rebuild
        shown = self.controller.iteration
        try:
            self.controller.update_run(i, new, reason)
            if new.branch is not None:  # a branch keeps its first steps: back to where it was
                self.controller.seek(shown)
                self.controller.message.emit(f"{reason}: applies from step "
                                             f"{new.branch['step']} on")
        except ValueError as e:
            self._show_error(str(e), editor)
            return False
        finally:
            self._editing = False
        self.run_list.setCurrentRow(i)
        self.run_error.hide()
        if editor is not None:
            for e in getattr(editor, "edits", [editor]):
                if isinstance(e, FloatEdit):
                    e.accept_value(float(e.text()))
                elif isinstance(e, QSpinBox):
                    e.setStyleSheet("")
        return True

    def _show_error(self, msg: str, editor: QWidget | None) -> None:
        self.run_error.setText(msg)
        self.run_error.show()
        for e in getattr(editor, "edits", [editor]):
            if isinstance(e, FloatEdit):
                e.mark_bad(True)
            elif isinstance(e, QSpinBox):
                e.setStyleSheet(BAD_SPIN)
        self.controller.message.emit(f"Not applied: {msg}")

    def _set_hyper(self, name: str, value) -> None:
        new = copy.deepcopy(self._spec())
        new.hyper[name] = value
        editor = self.hyper_edits.get(name)
        self._apply(new, f"{name} changed", editor)

    def _set_field(self, name: str, value, reason: str, editor) -> None:
        new = copy.deepcopy(self._spec())
        setattr(new, name, value)
        self._apply(new, reason, editor)

    def _set_schedule(self, attr: str, d: dict | None, rebuild: bool = False,
                      editor: QWidget | None = None) -> None:
        new = copy.deepcopy(self._spec())
        setattr(new, attr, d)
        ok = self._apply(new, attr.replace("_", " ") + " changed", editor, rebuild=rebuild)
        if not ok and rebuild:
            self._rebuild_editor()

