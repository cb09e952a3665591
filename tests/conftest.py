"""Every test gets its own settings folder: nothing reads or writes the user's QSettings."""

import pytest


@pytest.fixture(autouse=True)
def _private_settings(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("GDVIZ_SETTINGS_DIR", str(tmp_path_factory.mktemp("settings")))
