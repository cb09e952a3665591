"""Open the window: the options (parsed by ``gdviz.cli.app``) put over the restored session."""

from __future__ import annotations

import gc
import os
import sys
import time

RESUME_GC_MS = 3000   # collection resumes at the first paint, or after this at the latest


def process_age_ms() -> float | None:
    """Milliseconds since this process started (Linux /proc; None elsewhere)."""
    try:
        with open("/proc/self/stat") as f:
            start_ticks = int(f.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/uptime") as f:
            uptime = float(f.read().split()[0])
        return (uptime - start_ticks / os.sysconf("SC_CLK_TCK")) * 1000.0
    except (OSError, ValueError, IndexError):
        return None


class StartupError(ValueError):
    """Options that parse but do not fit the restored session (one line for stderr)."""


def build_window(ns, obj, runs, starts, view=None):
    """The main window with the options applied over the restored session (``--fresh``: the
    defaults); what ``main`` shows.  Needs a QApplication.  StartupError for a misfit."""
    from .file_menu import restore_last_session
    from .window import MainWindow

    win = MainWindow()
    c = win.controller
    if not ns.fresh:
        try:
            restore_last_session(win)
        except Exception as e:  # a broken saved session must not stop the app
            c.message.emit(f"Last session not restored: {e}")
    if obj is not None:
        c.set_objective(obj if obj.expression else ns.objective)
    if runs:
        c.set_runs(runs)
    if starts:
        try:
            c.set_starts(starts)
        except ValueError as e:
            why = ""
            if obj is None:
                o = c.objective
                why = (f" (the objective restored from the last session, {o.title}, is "
                       f"{o.dim}-D; pick one with --objective, or start with --fresh)")
            win.deleteLater()  # not close(): closing would save this session over the last one
            raise StartupError(f"--start: {e}{why}") from None
    if view is not None:
        win.stage.canvas.reset_view(view)
        c.race.set_view(view)
    if ns.speed is not None:
        c.set_speed(ns.speed)
    if ns.max_steps is not None:
        c.set_max_steps(ns.max_steps)
    if getattr(ns, "mode", None):  # where it cannot be shown, the status bar says why
        win.view_modes.set_mode(ns.mode)
    return win


def resume_collection() -> None:
    """Collect garbage from now on, if start-up (``gdviz.cli.run``) turned collection off.

    What the start-up made (modules, the window, its plots) lives as long as the process:
    ``gc.freeze`` moves it out of every later collection, which then scan only what the app
    makes as it runs.
    """
    if not gc.isenabled():
        gc.freeze()
        gc.enable()


def run_app(ns, obj, runs, starts, view=None, *, t0: float | None = None) -> int:
    """Show the window with the parsed options applied, and run the event loop."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from .theme import apply_theme

    t0 = time.perf_counter() if t0 is None else t0
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("gdviz")
    app.setOrganizationName("gdviz")
    apply_theme(app)
    try:
        win = build_window(ns, obj, runs, starts, view)
    except StartupError as e:
        print(f"gdviz: error: {e}", file=sys.stderr)
        return 2
    c = win.controller
    if not gc.isenabled():   # see gdviz.cli.run
        win.firstPaint.connect(resume_collection)
        QTimer.singleShot(RESUME_GC_MS, resume_collection)   # a window shown minimized
    if ns.measure_startup:
        def report() -> None:
            age = process_age_ms()
            in_py = (time.perf_counter() - t0) * 1000.0
            print(f"startup to first paint: {age:.0f} ms since process start "
                  f"({in_py:.0f} ms since gdviz.cli was imported)"
                  if age is not None else f"startup to first paint: {in_py:.0f} ms", flush=True)
            # from the event loop: quitting inside the window's first paint crashes Qt when
            # an OpenGL widget (the 3-D view) is in that window
            QTimer.singleShot(0, app.quit)
        win.firstPaint.connect(report)
    win.show()
    if ns.play:
        c.play()
    return app.exec()
