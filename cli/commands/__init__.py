"""One module per sub-command. Each defines `register(subparsers)`; the handler it sets with
`set_defaults(handler=...)` takes the parsed arguments and returns an exit code.

Modules import heavy dependencies inside their handlers so `--help` stays fast.
"""

# Order here is the order in `--help`.
COMMAND_MODULES = [
    "install",
    "rehearse",
    "plan",
    "render",
    "validate",
    "status",
    "dashboard",
    "schema",
]
