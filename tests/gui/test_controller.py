"""The window's clock: the Controller plays the race on a QTimer."""


def test_tick_caps_work_and_keeps_no_backlog(controller):
    """However far behind the clock is, one tick steps for a bounded time and forgets the rest."""
    import time

    from gdviz.gui.controller import TICK_WORK_S
    c = controller
    c.set_max_steps(10**6)
    c.set_speed(2000)
    c.playing = True
    c._budget = 1e9
    c._last_tick = time.perf_counter()
    c._tick()
    assert 0 < c.iteration < 1e6
    assert c._budget <= 1.0
    # a tick that stopped at its deadline did not finish the huge budget
    assert c.iteration < 1e9 and TICK_WORK_S <= 0.01
    c.pause()


def test_play_when_done_replays(controller):
    c = controller
    c.set_max_steps(5)
    c.step(10)
    assert c.is_done() and c.iteration == 5
    c.play()
    assert c.playing and c.iteration == 0
    c.pause()
    c.step(10)
    assert c.step_once() == 1 and c.iteration == 1  # Step on a finished set: from the start
