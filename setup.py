"""Package discovery only; all metadata is in pyproject.toml."""

from setuptools import find_namespace_packages, setup

# Data folders without __init__.py (incluster/, agent_image/) are packages too: namespace finding.
IGNORE = ["*.__pycache__"]
kodama = find_namespace_packages(include=["kodama", "kodama.*"], exclude=IGNORE)
# lsp/ installs as kodama_lsp: `lsp` is too generic a top-level import name.
lsp = find_namespace_packages(include=["lsp", "lsp.*"], exclude=IGNORE)
setup(packages=kodama + ["kodama_lsp" + name.removeprefix("lsp") for name in lsp])
