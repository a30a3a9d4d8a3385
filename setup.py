"""Packaging beyond pyproject.toml's static tables: the zoo.

The zoo's entries live at the repository's top level (`zoo/<name>/`: the
config, record, card and weights of each entry), where maintainers train
and publish them. Wheels ship them inside the package as
`kerasseg/zoo_entries/`, which `kerasseg.zoo.records.entries_dir()`
reads when no checkout's `zoo/` is beside the package.
"""

from setuptools import find_packages
from setuptools import setup

setup(
    packages=[*find_packages(include=["kerasseg*"]), "kerasseg.zoo_entries"],
    package_dir={"kerasseg.zoo_entries": "zoo"},
)
