"""Package discovery only; all metadata is in pyproject.toml."""

from setuptools import find_packages, setup

# lsp/ installs as kodama_lsp: `lsp` is too generic a top-level import name.
lsp_packages = [
    "kodama_lsp" + name.removeprefix("lsp") for name in find_packages(include=["lsp", "lsp.*"])
]
setup(packages=find_packages(include=["kodama", "kodama.*"]) + lsp_packages)
