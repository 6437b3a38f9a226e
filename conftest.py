"""The project opts in to its own pytest plugin (`toolkit.testing` registers no pytest11 entry point).

Here rather than as `-p toolkit.testing` in addopts: the kernel's tests run in a venv holding
only toolkit-kernel (`nox -s "tests(kernel)"`), where `toolkit` is not importable and `-p` would
abort the session. Everywhere toolkit-host is installed, the plugin is loaded for every test.
"""

from __future__ import annotations

import importlib.util

pytest_plugins = ["toolkit.testing"] if importlib.util.find_spec("toolkit") is not None else []
