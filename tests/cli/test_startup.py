"""The command line starts fast: ``paramgen --help`` imports no command module (torch, peft,
transformers, scikit-learn, matplotlib), and what the lazy listing shows is each command's own."""

import json
import subprocess
import sys
from pathlib import Path

import click
import pytest
from typer.main import get_command
from typer.testing import CliRunner

from cli.app import app
from cli.lazy_group import LazyCommand

ROOT = Path(__file__).parents[2]
HEAVY = ("torch", "peft", "transformers", "sklearn", "matplotlib")
# Run the CLI in a fresh interpreter and report which heavy packages it imported.
PROBE = """
import json, sys
sys.argv = ["paramgen", *json.loads(sys.argv[1])]
from cli.app import main
try:
    main()
except SystemExit:
    pass
print(json.dumps(sorted(m for m in {heavy} if m in sys.modules)))
"""


def _imported(*args: str) -> list[str]:
    probe = PROBE.format(heavy=HEAVY)
    done = subprocess.run(
        [sys.executable, "-c", probe, json.dumps(args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.splitlines()[-1])


def test_importing_the_app_imports_no_heavy_package():
    probe = f"import cli.app, sys; print([m for m in {HEAVY} if m in sys.modules])"
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize("args", [["--version"], ["--help"], ["zoo", "--help"], []])
def test_version_and_listings_import_no_heavy_package(args):
    assert _imported(*args) == []


def _lazy_commands(group: click.Command, path: tuple[str, ...] = ()):
    """(path, LazyCommand, loaded command) for every lazy command under ``group``."""
    for name, lazy in getattr(group, "lazy", {}).items():
        assert isinstance(lazy, LazyCommand)
        _, loaded, _ = group.resolve_command(click.Context(group), [name])
        yield (*path, name), lazy, loaded
        yield from _lazy_commands(loaded, (*path, name))


def test_each_listed_summary_is_the_commands_own_first_paragraph():
    seen = []
    for path, lazy, loaded in _lazy_commands(get_command(app)):
        seen.append(" ".join(path))
        assert loaded.name == lazy.name
        assert lazy.summary == (loaded.help or "").split("\n\n")[0], path
    assert {"run", "train", "generate", "eval", "zoo", "inspect"} <= set(seen)
    assert {"zoo info", "zoo export", "zoo build"} <= set(seen)


def test_a_typo_still_suggests_the_lazy_command_meant():
    result = CliRunner().invoke(app, ["zoo", "infp"], terminal_width=120)
    assert result.exit_code == 2
    assert "Did you mean 'info'?" in result.output


def test_zoo_info_summarises_a_zoo_without_importing_torch(tmp_path):
    """``paramgen zoo info`` reads attributes and label columns with h5py and numpy alone."""
    zoo = tmp_path / "zoo.h5"
    make = (
        "import numpy as np; from paramgen.schema import ParamSchema, ParamSpec; "
        "from zoo.store import Zoo\n"
        f"with Zoo.create({str(zoo)!r}) as z:\n"
        "    g = z.create_group(family='subset', backbone='b', task='t', conditions={'x': ()},\n"
        "                       schema=ParamSchema((ParamSpec('w', (10,)),)))\n"
        "    g.append(np.ones((3, 10), np.float32), conditions={'x': [0.0, 1.0, 2.0]})\n"
    )
    subprocess.run([sys.executable, "-c", make], cwd=ROOT, check=True)
    assert _imported("zoo", "info", str(zoo)) == []
