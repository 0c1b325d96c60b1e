"""Packaging of neuro."""

import re
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent
VERSION = re.search(r'__version__ = "([^"]+)"', (HERE / "neuro" / "__init__.py").read_text())[1]

TEST = ["pytest>=7", "nbformat>=5", "nbclient>=0.7", "ipykernel>=6", "scikit-learn>=1.2"]
TEST += ["sanafe==2.2.9; python_version >= '3.11'"]
DASK = ["dask[distributed]==2026.8.0", "pandas>=2.0"]  # clusters, sweep tables
TEST += ["hypothesis>=6"]  # fuzzing of the network file loader
# referee of the op counts (tests/audit/test_neurobench.py); its torchaudio/tonic needs
# resolve beside torch 2.13 on Python >= 3.11; the Python 3.10 (lava) env has no torch
TEST += ["neurobench==2.3.0; python_version >= '3.11'"]

setup(
    name="neuro",
    version=VERSION,
    description="Event-driven execution of activation-sparse neural networks: "
    "CPU event scheduler, simulated neuromorphic cores, lava-nc processes and op-count audits.",
    long_description=(HERE / "README.md").read_text(),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=find_packages(include=["neuro", "neuro.*", "converters", "converters.*"]),
    package_data={"neuro.hardware": ["profiles/*.json"]},
    install_requires=[
        "numpy>=1.24",
        "scipy>=1.10",
        "numba>=0.59",
        "h5py>=3.8",
        "tqdm>=4.60",
    ],
    extras_require={
        "torch": ["torch>=2.1"],
        "lava": ["lava-nc==0.10.0; python_version < '3.11'", "numpy<2"],
        "plot": ["matplotlib>=3.6"],
        "sanafe": ["sanafe==2.2.9; python_version >= '3.11'"],
        "dask": DASK,
        "test": TEST + DASK,
        "dev": TEST + DASK + ["ruff>=0.5", "tox>=4"],
    },
    entry_points={"console_scripts": ["neuro = neuro.cli:main"]},
    classifiers=[
        "Programming Language :: Python :: 3.10",
        "Programming Language :: Python :: 3.11",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
)
