"""``paramgen zoo …``: inspect a zoo, and move weights in and out of it.

Each command lives in its own module, imported only when the command line names it (see
``cli.lazy_group``), so ``paramgen zoo --help`` lists them without importing torch or peft.
"""

from __future__ import annotations

import typer

from cli.lazy_group import LazyCommand, lazy_group

__all__ = ["zoo_app"]

zoo_app = typer.Typer(
    help="Inspect a model zoo (HDF5) and import or export its weights.",
    no_args_is_help=True,
    cls=lazy_group(
        LazyCommand(
            "info",
            "cli.zoo_info_command:info",
            "Show each group of a zoo: rows, D, conditions, metrics, splits and base weights.",
        ),
        LazyCommand(
            "check",
            "cli.zoo_check_command:check",
            "Check every row and base weight of a zoo against its checksum; exit 1 if any is "
            "damaged.",
        ),
        LazyCommand(
            "upgrade",
            "cli.zoo_check_command:upgrade",
            "Add row checksums to a version-1 zoo (from its rows as they are now); then it is "
            "writable.",
        ),
        LazyCommand(
            "import-peft",
            "cli.import_commands:import_peft",
            "Append PEFT LoRA adapter folders to a zoo, one row each (group created if missing).",
        ),
        LazyCommand(
            "store-backbone",
            "cli.zoo_backbone_command:store_backbone",
            "Store a backbone's base weights under /backbones/NAME with their sha256 (idempotent).",
        ),
        LazyCommand(
            "import-safetensors",
            "cli.import_commands:import_safetensors",
            "Append .safetensors files to a group, one row each (all or nothing).",
        ),
        LazyCommand(
            "export",
            "cli.zoo_export_command:export",
            "Write one row of a group as a PEFT adapter folder or a safetensors file.",
        ),
        LazyCommand(
            "build", "cli.build_commands:build_app", "Train checkpoints of a family into a zoo."
        ),
        LazyCommand(
            "merge",
            "cli.zoo_merge_command:merge",
            "Append the runs of a build's shard files to the zoo it was built for.",
        ),
    ),
)
