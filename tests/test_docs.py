"""Docs that are checked: every hook documented, README commands and CI in agreement."""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterator

from toolkit import hookspecs


def _hook_names() -> list[str]:
    return [name for name, obj in inspect.getmembers(hookspecs) if name.startswith("toolkit_") and callable(obj)]


def test_every_hook_has_a_section_with_an_example(root):
    text = (root / "docs" / "plugins" / "hooks.md").read_text()
    for name in _hook_names():
        section = re.search(rf"^## {name}\(\)\n(.*?)(?=^## |\Z)", text, re.S | re.M)
        assert section, f"docs/plugins/hooks.md has no '## {name}()' section"
        assert "```python" in section.group(1), f"the {name} section has no example"


def test_every_hookspec_has_a_docstring_example():
    for name in _hook_names():
        doc = inspect.getdoc(getattr(hookspecs, name)) or ""
        assert "Example:" in doc, name


def test_every_hook_is_exercised_by_the_host_tests(root):
    tests = "\n".join(p.read_text() for p in (root / "packages" / "toolkit" / "tests").glob("*.py"))
    for name in _hook_names():
        assert name in tests, f"no host test implements {name}"


def _readme_commands(root) -> list[str]:
    text = (root / "README.md").read_text()
    blocks = re.findall(r"```(?:sh|bash)\n(.*?)```", text, re.S)
    return [block.strip() for block in blocks[:2]]


def test_ci_runs_the_readme_test_command_exactly(root):
    _run, test = _readme_commands(root)
    ci = (root / ".ci" / "run").read_text()
    assert test in ci, "the README's test command must appear verbatim in .ci/run"


def test_readme_run_command_installs_from_the_lock(root):
    run, _test = _readme_commands(root)
    assert "--frozen" in run


def test_pre_commit_runs_what_the_lint_session_runs(root):
    config = (root / ".pre-commit-config.yaml").read_text()
    noxfile = (root / "noxfile.py").read_text()
    lint = noxfile[noxfile.index("def lint(") : noxfile.index("\n\n\n", noxfile.index("def lint("))]
    for tool in re.findall(r'session\.run\(((?:"[^"]+",? ?)+)\)', lint):
        command = " ".join(part.strip('" ') for part in tool.split(",") if part.strip('" ') != ".")
        assert command in config, f"pre-commit does not run `{command}` as `nox -s lint` does"


def _error_classes() -> dict[str, dict[str, int]]:
    """Every error class of every installed system, with the exit code its commands end with."""
    from toolkit.cliutil import exit_code_for
    from toolkit.plugins import get_plugins
    from toolkit_kernel.errors import ToolkitError

    get_plugins().commands()  # imports each system's CLI, and with it its errors

    def walk(cls: type[ToolkitError]) -> Iterator[type[ToolkitError]]:
        for sub in cls.__subclasses__():
            yield sub
            yield from walk(sub)

    found: dict[str, dict[str, int]] = {}
    for cls in set(walk(ToolkitError)):
        package = cls.__module__.split(".")[0]
        if package.startswith("toolkit_") and package != "toolkit_kernel" and not cls.__name__.startswith("_"):
            system = package.removeprefix("toolkit_")
            found.setdefault(system, {})[cls.__name__] = exit_code_for(cls.__new__(cls))
    return found


def test_errors_page_lists_every_error_of_every_system_with_its_exit_code(root):
    text = (root / "docs" / "errors.md").read_text()
    for system, classes in _error_classes().items():
        section = re.search(rf"^### {system}\n(.*?)(?=^#|\Z)", text, re.S | re.M)
        assert section, f"docs/errors.md has no '### {system}' table"
        documented = {name: int(code) for name, code in re.findall(r"^\| `(\w+)` \| (\d+) \|", section.group(1), re.M)}
        assert documented == classes, f"docs/errors.md's {system} table differs from its error classes"
