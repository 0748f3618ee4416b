"""The built package stands alone: its embedded configs and recipes are in the wheel, and
an install that is not editable finds them from any directory, with no checkout."""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
import zipfile
from importlib import resources
from pathlib import Path

import pytest

from linecontrol.config import CONFIGS, DEFAULT_LINE, RECIPES

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def test_the_defaults_are_package_data_of_linecontrol() -> None:
    # Found through importlib.resources (linecontrol.configs), which in a checkout is
    # the top-level configs/ itself.
    assert resources.files("linecontrol.configs") == CONFIGS == ROOT / "configs"
    assert DEFAULT_LINE.is_file() and len(list(RECIPES.glob("*.toml"))) >= 8


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A wheel built from a copy of the sources (the checkout is left untouched)."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        if (ROOT / name).exists():
            shutil.copy(ROOT / name, src / name)
    for name in ("linecontrol", "drivers", "simulators", "configs"):
        shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp / "dist"
    subprocess.run(
        # Built with this environment's setuptools (a test extra): nothing is downloaded.
        [
            *(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-index"),
            *("--no-build-isolation", "-w", str(out), str(src)),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (whl,) = out.glob("linecontrol-*.whl")
    return whl


def test_the_wheel_ships_every_config_and_recipe(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {
        f"linecontrol/configs/{p.relative_to(ROOT / 'configs').as_posix()}"
        for p in (ROOT / "configs").rglob("*.toml")
    }
    assert len(expected) >= 10
    assert expected - names == set()


def test_the_wheel_ships_the_report_template(wheel: Path) -> None:
    # ``linecontrol runs report`` renders its HTML from it (package data, not code).
    assert "linecontrol/report/report.html.j2" in zipfile.ZipFile(wheel).namelist()


def test_a_non_editable_install_checks_recipes_from_anywhere(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120
    )
    py = venv / "bin" / "python"
    # The dependencies (and pip) come from this environment, by a plain path entry: its
    # own .pth files, the editable linecontrol's among them, are not processed, so
    # linecontrol itself comes only from the wheel.
    site = subprocess.run(
        [str(py), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.strip()
    deps = {sysconfig.get_path("purelib"), sysconfig.get_path("platlib")}
    (Path(site) / "deps.pth").write_text("\n".join(sorted(deps)) + "\n")
    subprocess.run(
        [
            *(str(py), "-m", "pip", "install", "-q"),
            *("--no-deps", "--no-index", "--ignore-installed", str(wheel)),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    where = subprocess.run(
        [str(py), "-c", "from linecontrol.config import RECIPES; print(RECIPES)"],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.strip()
    assert Path(where).is_relative_to(venv), where
    check = subprocess.run(
        [str(venv / "bin" / "linecontrol"), "recipe", "check", f"{where}/001-ex1.toml"],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert "001-ex1" in check.stdout
