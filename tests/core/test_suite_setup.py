"""How the suite and CI run: a fast password hasher in tests only, CI=true in CI."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.hashers import get_hasher


def test_the_suite_hashes_passwords_fast_and_production_does_not():
    # It should hash the personas' passwords with a fast hasher in tests...
    assert get_hasher().algorithm == "md5"
    # ...and leave the hub's own settings on Django's full-strength default.
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from django.contrib.auth.hashers import "
            "get_hasher; print(get_hasher().algorithm)",
        ],
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "zalohub.settings"},
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.stdout.split() == ["pbkdf2_sha256"], done.stderr


@pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason=".ci/run would install it")
def test_ci_run_says_it_is_ci_wherever_it_runs(tmp_path):
    # .ci/run in a copy of the repository whose `./run` only reports what it was given,
    # with PostgreSQL and Redis answering (stubs), and no CI variable from outside.
    (tmp_path / ".ci").mkdir()
    shutil.copy(Path(settings.BASE_DIR) / ".ci" / "run", tmp_path / ".ci" / "run")
    report = tmp_path / "seen"
    (tmp_path / "run").write_text(f'#!/bin/sh\necho "CI=$CI args=$*" > {report}\n')
    (tmp_path / "run").chmod(0o755)
    stubs = tmp_path / "bin"
    stubs.mkdir()
    for name in ("pg_isready", "redis-cli"):
        (stubs / name).write_text("#!/bin/sh\nexit 0\n")
        (stubs / name).chmod(0o755)
    env = {"PATH": f"{stubs}:/usr/bin:/bin", "HOME": str(tmp_path)}
    done = subprocess.run(
        ["bash", str(tmp_path / ".ci" / "run")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    # It should run the test command with CI=true set by itself.
    assert report.read_text().split() == ["CI=true", "args=test"]
