"""honcho 2.0.0's own integration tests, run against pom with only the executable renamed.

The tests come from honcho's sdist, downloaded at test time with pip (never committed). Each
`honcho` invocation becomes `pom` (the console script beside this interpreter) and
`python -m honcho` becomes `python -m toolkit_pom`; nothing else in them changes.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.interop

SDIST = "honcho==2.0.0"


@pytest.fixture(scope="module")
def honcho_tests(tmp_path_factory: pytest.TempPathFactory) -> Path:
    where = tmp_path_factory.mktemp("honcho-sdist")
    pip = shutil.which("pip3") or shutil.which("pip")
    assert pip, "pip is needed to download honcho's sdist"
    subprocess.run(
        [pip, "download", "--no-deps", "--no-binary", ":all:", SDIST, "-d", str(where)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    archive = next(where.glob("honcho-2.0.0.tar.gz"))
    with tarfile.open(archive) as tar:
        tar.extractall(where, filter="data")
    tests = where / "honcho-2.0.0" / "tests"
    for path in [tests / "conftest.py", *(tests / "integration").glob("test_*.py")]:
        text = path.read_text()
        text = text.replace("['honcho', *args]", "['pom', *args]")
        text = text.replace("['python', '-m', 'honcho',", "[sys.executable, '-m', 'toolkit_pom',")
        if "sys.executable" in text and "import sys" not in text:
            text = "import sys\n" + text
        path.write_text(text)
    return tests


def test_honchos_integration_tests_pass_against_pom(honcho_tests: Path) -> None:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(honcho_tests),
         str(honcho_tests / "integration")],
        cwd=honcho_tests, capture_output=True, text=True, timeout=600, env=env, check=False,
    )  # fmt: skip
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else result.stderr
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "13 passed" in summary
