"""`talos-platform schema`: the config's JSON Schema, for editors (yaml-language-server)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from talos_platform import exit_codes

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "schema",
        help="print the config file's JSON Schema",
        description="Print the JSON Schema of the config file, or write it with --output.",
    )
    parser.add_argument("--output", metavar="FILE", help="write the schema to FILE instead of printing it")
    parser.set_defaults(handler=run)


def platform_json_schema() -> dict[str, Any]:
    """The JSON Schema of PlatformConfig as it appears in YAML (camelCase keys)."""
    from talos_platform.engine.config.models import PlatformConfig

    schema = PlatformConfig.model_json_schema(by_alias=True, mode="validation")
    schema.pop("title", None)
    return {"$schema": JSON_SCHEMA_DIALECT, "title": "talos-platform config", **schema}


def render_schema() -> str:
    """The schema as committed in `schema/platform.schema.json` (stable, indented, newline-ended)."""
    return json.dumps(platform_json_schema(), indent=2, ensure_ascii=False) + "\n"


def run(args: argparse.Namespace) -> int:
    text = render_schema()
    if args.output:
        from talos_platform.engine.errors import UserError
        from talos_platform.engine.files import atomic_write

        try:
            atomic_write(args.output, text.encode("utf-8"))
        except OSError as error:
            raise UserError(f"cannot write the schema: {error.strerror}", where=args.output) from None
    else:
        sys.stdout.write(text)
    return exit_codes.OK
