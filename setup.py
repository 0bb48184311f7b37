"""Installs the ``panoptic`` library and its kernels (``ops/`` as ``panoptic.ops``)."""

from pathlib import Path

from setuptools import find_packages, setup

ROOT = Path(__file__).parent


def read_requirements(name: str) -> list[str]:
    lines = (ROOT / name).read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


packages = find_packages(include=["panoptic", "panoptic.*"])
# ops/ lives at the top level of the repository but installs as panoptic.ops: a
# top-level ``ops`` module would collide with an unrelated PyPI package.
packages += ["panoptic.ops"] + ["panoptic.ops." + p for p in find_packages(where="ops")]

setup(
    name="panoptic",
    version="0.1.0",
    description="Fast instance, panoptic and video panoptic segmentation",
    long_description=(ROOT / "README.md").read_text(),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=packages,
    package_dir={"panoptic": "panoptic", "panoptic.ops": "ops"},
    install_requires=read_requirements("requirements.txt"),
    extras_require={
        # panopticapi-lite pins numpy<2 without need: install it with --no-deps.
        "dev": read_requirements("requirements-dev.txt"),
    },
    include_package_data=False,
)
