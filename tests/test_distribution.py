"""The distribution as a user installs it: a wheel built from this checkout installs under its
distribution name (``sentbench``: ``bench`` on PyPI is an unrelated project) in a fresh venv,
where the console script and the import package are still ``bench`` and run from the wheel,
with the recipes and protocols it carries.

The fresh venv gets bench from the wheel (``--no-deps``) and finds bench's dependencies in the
test's own environment through a ``.pth`` line placed after its own site-packages, so the test
needs no index for torch and friends; the wheel build itself takes hatchling as pip's build
isolation provides it (CI: from the index)."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import tomllib
import venv
from pathlib import Path

import pytest

from bench.version import __version__

REPO = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def test_the_distribution_name_is_not_the_taken_one():
    # "bench" 2.8 on PyPI is "Benchmark resources usage" (issue 26): pip install bench
    # would install that project.
    assert PROJECT["name"] == "sentbench"
    assert PROJECT["scripts"] == {"bench": "bench.cli:main"}
    assert "version" in PROJECT["dynamic"]  # one place for it: bench/version.py


@pytest.mark.slow  # builds a wheel and a venv: about 15 s
def test_the_wheel_installs_and_runs_in_a_fresh_venv(tmp_path):
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(REPO), "--no-deps", "-q",
                    "-w", str(wheels)], check=True, cwd=tmp_path)
    (wheel,) = wheels.glob("*.whl")
    assert wheel.name == f"sentbench-{__version__}-py3-none-any.whl"

    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=False)
    python = env_dir / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; "
                                "print(sysconfig.get_paths()['purelib'])"], check=True,
                               capture_output=True, text=True).stdout.strip())
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q",
                    "--no-deps", "--no-index", str(wheel)], check=True, cwd=tmp_path)
    # bench's dependencies from this environment, after the venv's own site-packages
    (site / "zz_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}

    def run(*argv: str) -> str:
        done = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stdout

    assert run(str(env_dir / "bin" / "bench"), "--version").strip() == f"bench {__version__}"
    where, version = run(str(python), "-c", "import bench, importlib.metadata as m; "
                         "print(bench.__file__); print(m.version('sentbench'))").split()
    assert Path(where).is_relative_to(site) and version == __version__
    # the recipes and protocols are in the wheel (force-included), not read from the checkout
    assert "simcse" in run(str(env_dir / "bin" / "bench"), "list", "protocols")
