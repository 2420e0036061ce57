"""The superblock flag reset that lets a writer reopen a zoo whose last writer was killed."""

import h5py
import numpy as np
import pytest

from zoo.crash_recovery import _lookup3, clear_write_flags, write_flags_set
from zoo.store import Zoo


@pytest.mark.parametrize("libver", [("v110", "v110"), ("latest", "latest")])
def test_checksum_matches_what_hdf5_wrote(tmp_path, libver):
    path = tmp_path / "f.h5"
    with h5py.File(path, "w", libver=libver) as file:
        file["x"] = np.arange(5)
    header = path.read_bytes()[:48]
    covered = 12 + 4 * header[9]  # fixed fields + four addresses of `size of offsets` bytes
    assert _lookup3(header[:covered]) == int.from_bytes(header[covered : covered + 4], "little")


def test_flags_left_by_a_swmr_writer_are_cleared_and_hdf5_accepts_the_file(tmp_path):
    path = tmp_path / "f.h5"
    file = h5py.File(path, "w", libver=("v110", "v110"))
    file.create_dataset("x", shape=(0,), maxshape=(None,), chunks=(4,), dtype="i8")
    file.swmr_mode = True
    file.flush()
    copy = tmp_path / "copy.h5"
    copy.write_bytes(path.read_bytes())  # what a killed writer leaves behind
    file.close()
    assert write_flags_set(copy)
    with pytest.raises(OSError, match="already open for write"):
        h5py.File(copy, "a")
    clear_write_flags(copy)
    assert not write_flags_set(copy)
    with h5py.File(copy, "a") as reopened:
        assert reopened["x"].shape == (0,)


def test_files_without_flags_are_left_alone(tmp_path):
    path = tmp_path / "old.h5"
    with h5py.File(path, "w", libver="earliest") as file:  # superblock v0: no flags
        file["x"] = 1
    before = path.read_bytes()
    assert not write_flags_set(path)
    clear_write_flags(path)
    assert path.read_bytes() == before


def test_a_zoo_whose_writer_died_outside_swmr_mode_reopens(tmp_path, schema):
    """Killed while the file was open plainly (a new group, base weights: before any append),
    the writer leaves flags that an SWMR reader cannot get past either; the next writer clears
    them and finds the group."""
    path = tmp_path / "zoo.h5"
    zoo = Zoo.create(path)
    zoo.create_group(family="f", backbone="b", task="t", schema=schema, conditions={})
    copy = tmp_path / "copy.h5"
    copy.write_bytes(path.read_bytes())  # what a writer killed now leaves behind
    zoo.close()
    assert write_flags_set(copy)
    with Zoo.open(copy, "a") as reopened:
        assert reopened.groups() == ["f/b/t"]
        reopened.group("f/b/t").append(np.zeros(schema.dim), conditions={})
    with Zoo.open(copy) as read:
        assert len(read.group("f/b/t")) == 1
