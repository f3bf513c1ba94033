"""Maps the design card's top-level folders under the one `talos_platform` import namespace.

pyproject.toml holds the metadata; only the folder-to-package mapping lives here, because
setuptools cannot discover sub-packages of remapped folders declaratively.
"""

from setuptools import find_namespace_packages, setup

PACKAGE_FOLDERS = {
    "talos_platform": "cli",
    "talos_platform.engine": "engine",
    "talos_platform.tui": "tui",
    "talos_platform.wizards": "wizards",
    "talos_platform.rehearsal": "rehearsal",
}


def packages() -> list[str]:
    found = []
    for package, folder in PACKAGE_FOLDERS.items():
        found.append(package)
        # Namespace packages too: data folders (scenario files, manifests) are then packages whose
        # files package_data ships, and setuptools has nothing to warn about.
        found.extend(f"{package}.{sub}" for sub in find_namespace_packages(folder, exclude=["*__pycache__*"]))
    return found


setup(
    packages=packages(),
    package_dir=PACKAGE_FOLDERS,
    package_data={
        "talos_platform.engine": ["**/*.yaml", "**/*.json", "**/*.proto"],
        "talos_platform.tui": ["**/*.tcss"],
        "talos_platform.rehearsal": ["manifests/*.yaml"],
    },
    include_package_data=True,
)
