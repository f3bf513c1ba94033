"""The whole rendered repository as `relative path -> bytes`: pure, deterministic, no I/O."""

from __future__ import annotations

from typing import Any

from talos_platform.engine.config.models import PlatformConfig
from talos_platform.engine.render.app_network_policy import FOLDER, app_defaults_documents
from talos_platform.engine.render.apps import apps_documents
from talos_platform.engine.render.bootstrap import bootstrap_documents
from talos_platform.engine.render.layer0 import layer0_documents, root_application
from talos_platform.engine.render.platform_services import platform_documents
from talos_platform.engine.render.readme import readme
from talos_platform.engine.render.talos_patches import image_schematic, talos_patches
from talos_platform.engine.render.yaml_output import comment_header, dump_document

GENERATED = comment_header("Rendered by talos-platform; render again instead of editing.")


def render_tree(config: PlatformConfig) -> dict[str, bytes]:
    files: dict[str, str] = {}
    for name, text in {**talos_patches(config), **image_schematic(config)}.items():
        files[f"talos/{name}"] = text
    folders: dict[str, dict[str, Any]] = {
        "bootstrap": bootstrap_documents(config),
        "layer-0": layer0_documents(config),
        "platform": platform_documents(config),
        "apps": apps_documents(config),
        FOLDER: app_defaults_documents(config),
    }
    for folder, documents in folders.items():
        # apps/ belongs to the user after the first render: no "do not edit" header there.
        header = "" if folder == "apps" else GENERATED
        for name, document in documents.items():
            files[f"{folder}/{name}"] = header + dump_document(document)
    files["bootstrap-app.yaml"] = GENERATED + dump_document(root_application(config))
    files["README.md"] = readme(config, [folder for folder, documents in folders.items() if documents])
    return {path: files[path].encode("utf-8") for path in sorted(files)}
