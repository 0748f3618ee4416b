"""Package layout that pyproject.toml cannot say: the top-level ``configs/`` (the embedded
defaults) is shipped as the package ``linecontrol.configs``. Everything else is in
pyproject.toml."""

from setuptools import find_packages, setup

setup(
    packages=[
        *find_packages(include=["linecontrol*", "drivers*", "simulators*"]),
        "linecontrol.configs",
    ],
    package_dir={"linecontrol.configs": "configs"},
    package_data={
        "linecontrol": ["py.typed"],
        "linecontrol.configs": ["*.toml", "recipes/*.toml"],
    },
)
