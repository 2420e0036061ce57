"""Options derived from config dataclasses: every field with its default, help and registry
choices; only the options a user gives reach the config; and cli/'s functions stay short."""

import ast
import dataclasses
from pathlib import Path

import click
import pytest
import typer
from typer.main import get_command
from typer.testing import CliRunner

from cli.app import app
from cli.config_options import with_config_options
from cli.generator_options import generator_options
from cli.parsing import format_values
from cli.run_command import RUN_OPTIONS
from cli.train_command import TRAIN_OPTIONS
from paramgen.generator import GeneratorConfig
from paramgen.paths import generator_path_names
from zoo.builders import DpiZooConfig, LoraZooConfig, MacZooConfig
from zoo.main_job import MainJobConfig

CLI = Path(__file__).parents[2] / "cli"
MAX_LINES = 40


def _params(*path: str) -> dict:
    command = get_command(app)
    for name in path:  # resolved, not looked up: the app imports a command when it is named
        _, command, _ = command.resolve_command(click.Context(command), [name])
    return {param.name: param for param in command.params}


def test_train_has_an_option_per_generator_config_field_with_its_default():
    params = _params("train")
    for field in dataclasses.fields(GeneratorConfig):
        option = TRAIN_OPTIONS.options[field.name]
        assert option.parse(params[field.name].default) == field.default, field.name
        assert field.metadata["help"] in params[field.name].help
    assert params["ae_steps"].default == 1500 and params["denoiser_steps"].default == 3000
    assert params["ae_channels"].default == "32,64,64"
    assert all(name in params["path"].help for name in generator_path_names())
    assert "dpi, mac: element" in params["centre"].help  # the families' own defaults


def test_run_defaults_are_the_main_jobs():
    params, generator = _params("run"), MainJobConfig().generator
    for name, option in RUN_OPTIONS.options.items():
        assert option.parse(params[name].default) == getattr(generator, name)
    assert params["ae_steps"].default == 1000 and params["angles"].default == "-90:90:5"


@pytest.mark.parametrize(
    "command, config",
    [("lora", LoraZooConfig()), ("dpi", DpiZooConfig()), ("mac", MacZooConfig())],
)
def test_build_options_are_the_builder_configs_fields(command, config):
    params = _params("zoo", "build", command)
    assert set(params) >= {f.name for f in dataclasses.fields(config)}
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        shown = format_values(value) if isinstance(value, tuple) else value
        assert params[field.name].default == shown, field.name
        assert field.metadata["help"] in params[field.name].help


def test_only_the_options_given_are_passed_on():
    probe = typer.Typer()
    options = generator_options(GeneratorConfig(), only=("centre", "ae_steps", "ae_channels"))

    @probe.command()
    @with_config_options(options)
    def show(*, overrides: dict) -> None:
        typer.echo(repr(sorted(overrides.items())))

    runner = CliRunner()
    assert runner.invoke(probe, []).output.strip() == "[]"
    given = runner.invoke(probe, ["--ae-steps", "5", "--ae-channels", "8,16", "--centre", "tensor"])
    assert (
        given.output.strip() == "[('ae_channels', (8, 16)), ('ae_steps', 5), ('centre', 'tensor')]"
    )
    linear = runner.invoke(probe, ["--ae-channels", ""])
    assert linear.output.strip() == "[('ae_channels', ())]"
    bad = runner.invoke(probe, ["--ae-channels", "8,x"])
    assert bad.exit_code != 0


def _long_functions(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    return [
        f"{path.name}:{node.name} ({node.end_lineno - node.lineno + 1} lines)"
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno - node.lineno + 1 > MAX_LINES
    ]


def test_no_cli_function_is_longer_than_40_lines():
    files = sorted(CLI.glob("*.py"))
    assert files
    assert [name for path in files for name in _long_functions(path)] == []
