"""Everything paramgen saves, saved one way: a folder with ``config.json`` + ``model.safetensors``.

``config.json`` holds the class name, the paramgen version that wrote it and the constructor
config (sorted keys); ``model.safetensors`` holds the state dict (safetensors only: loading runs
no code). ``Cls.from_pretrained(folder)`` needs nothing else, apart from objects a JSON file
cannot hold (a DPI's wrapped module), which are passed through to ``from_config``.

A saved class mixes in :class:`Pretrained` and says only what is its own: ``config_keys`` and,
when its config is not just those attributes, ``to_config`` / ``from_config``. Every such class
is listed in :data:`PRETRAINED`, so a test battery can run them all. The class tag is shared
with the zoo's family configs (:func:`tagged`, :func:`untagged`), so a DPI or MAC group stores the
same JSON its saved module does.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, ClassVar, Self

from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from paramgen import __version__
from paramgen.errors import ParamgenError

__all__ = [
    "CONFIG_FILE",
    "PRETRAINED",
    "WEIGHTS_FILE",
    "Pretrained",
    "read_tensors",
    "tagged",
    "untagged",
    "without_unknown",
]

CONFIG_FILE, WEIGHTS_FILE = "config.json", "model.safetensors"
CLASS_KEY, VERSION_KEY = "class", "paramgen_version"


def tagged(cls: type, config: Mapping[str, Any]) -> dict:
    """``config`` with the class it configures named under ``"class"``."""
    return {CLASS_KEY: cls.__name__, **config}


def untagged(cls: type, values: Mapping[str, Any], where: str) -> dict:
    """``values`` without its class tag and version; refused when it names another class.

    An untagged config is taken as ``cls``'s (zoo groups stored some before configs were tagged).
    """
    values = dict(values)
    named = values.pop(CLASS_KEY, cls.__name__)
    values.pop(VERSION_KEY, None)
    if named != cls.__name__:
        known = isinstance(named, str) and named in PRETRAINED
        hint = f"; load it with {named}.from_pretrained" if known else ""
        raise ParamgenError(f"{where} holds a {named!r}, not a {cls.__name__}{hint}")
    return values


def without_unknown(values: Mapping[str, Any], known: Iterable[str], where: str) -> dict:
    """``values`` restricted to ``known`` keys, warning with the others' names: a file written by
    a newer paramgen still loads, and the user learns what was dropped."""
    known = set(known)
    unknown = sorted(set(values) - known)
    if unknown:
        # stacklevel: the caller of from_pretrained
        warnings.warn(f"{where}: ignoring unknown config keys {unknown}", stacklevel=4)
    return {key: value for key, value in values.items() if key in known}


def read_tensors(path: Path, fix: str) -> dict:
    """The tensors of the safetensors file ``path``; one that cannot be read is a one-line error
    ending with ``fix``."""
    try:
        return load_file(path)
    except (SafetensorError, OSError) as error:
        raise ParamgenError(f"{path} is not a readable safetensors file ({error}); {fix}") from None


def _finite_state(path: Path, cls: type) -> dict:
    """The tensors of the safetensors file ``path``, refused if any float holds NaN or Inf (a
    diverged or damaged model would otherwise produce NaN weights downstream)."""
    state = read_tensors(path, cls.mismatch_fix)
    broken = [
        name
        for name, tensor in state.items()
        if tensor.is_floating_point() and not tensor.isfinite().all()
    ]
    if broken:
        raise ParamgenError(
            f"{path}: tensors {broken[:5]} hold NaN or Inf; the file is damaged or the model "
            f"diverged — {cls.mismatch_fix}"
        )
    return state


# class name → class, for every class that mixes in Pretrained (filled by __init_subclass__)
PRETRAINED: dict[str, type[Pretrained]] = {}


class Pretrained:
    """Mixin for an ``nn.Module`` saved as ``config.json`` + ``model.safetensors``.

    ``config_keys`` are the top-level keys ``to_config`` writes, all required on loading except
    ``optional_keys``; unknown keys warn. By default the config is the attributes of those names
    and ``from_config`` passes it to the constructor as keywords.
    """

    config_keys: ClassVar[tuple[str, ...]]
    optional_keys: ClassVar[frozenset[str]] = frozenset()
    # How to mend a weights file that does not fit the module its config builds.
    mismatch_fix: ClassVar[str] = "save it again"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        PRETRAINED[cls.__name__] = cls

    def to_config(self) -> dict:
        """The JSON-plain constructor config: enough to rebuild this object around its weights."""
        return {key: getattr(self, key) for key in self.config_keys}

    @classmethod
    def from_config(cls, config: dict, *args: Any, **kwargs: Any) -> Self:
        """A fresh object (weights not yet loaded) from a checked ``config``; ``args`` and
        ``kwargs``: what the JSON cannot hold, as given to ``from_pretrained``."""
        return cls(*args, **kwargs, **config)

    def save_pretrained(self, folder: str | Path) -> Path:
        """Write ``config.json`` + ``model.safetensors`` into ``folder`` (made if missing)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        description = {**tagged(type(self), self.to_config()), VERSION_KEY: __version__}
        (folder / CONFIG_FILE).write_text(json.dumps(description, indent=2, sort_keys=True))
        state = {name: tensor.detach().contiguous() for name, tensor in self.state_dict().items()}
        save_file(state, folder / WEIGHTS_FILE, metadata={"format": "pt"})
        return folder

    @classmethod
    def read_config(cls, folder: str | Path) -> dict:
        """``folder``'s checked config: this class's, untagged, unknown keys dropped (warned)."""
        folder = Path(folder)
        for name in (CONFIG_FILE, WEIGHTS_FILE):
            if not (folder / name).is_file():
                raise ParamgenError(
                    f"{folder} has no {name}; is it a folder written by "
                    f"{cls.__name__}.save_pretrained?"
                )
        path = folder / CONFIG_FILE
        try:
            description = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise ParamgenError(
                f"{path} is not valid JSON ({error}); save the {cls.__name__} again"
            ) from None
        if not isinstance(description, dict) or CLASS_KEY not in description:
            raise ParamgenError(
                f"{path} names no class; is it a folder written by {cls.__name__}.save_pretrained?"
            )
        values = untagged(cls, description, str(folder))
        missing = sorted(set(cls.config_keys) - cls.optional_keys - set(values))
        if missing:
            raise ParamgenError(
                f"{path} lacks the required keys {missing}; save the {cls.__name__} again"
            )
        return without_unknown(values, cls.config_keys, str(path))

    @classmethod
    def from_pretrained(cls, folder: str | Path, *args: Any, **kwargs: Any) -> Self:
        """Rebuild what ``save_pretrained`` wrote into ``folder``, in eval mode; ``args`` and
        ``kwargs`` go to ``from_config`` (e.g. the module a DPI wraps)."""
        folder = Path(folder)
        config = cls.read_config(folder)
        try:
            model = cls.from_config(config, *args, **kwargs)
        except ParamgenError as error:  # a config the constructor refuses, named with its folder
            raise ParamgenError(f"{folder}: {error}") from None
        except (TypeError, ValueError, KeyError, AttributeError, IndexError) as error:
            raise ParamgenError(
                f"{folder / CONFIG_FILE} holds values its {cls.__name__} cannot be built from "
                f"({type(error).__name__}: {error}); save the {cls.__name__} again"
            ) from None
        path = folder / WEIGHTS_FILE
        state = _finite_state(path, cls)
        try:
            model.load_state_dict(state)
        except RuntimeError as error:  # missing, unexpected or mis-shaped tensors
            detail = (str(error).splitlines()[1:2] or [str(error)])[0].strip()
            raise ParamgenError(
                f"{path} does not match its {CONFIG_FILE} ({detail}); {cls.mismatch_fix}"
            ) from None
        return model.eval()
