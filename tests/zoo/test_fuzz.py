"""A bounded fuzz of damaged zoo files: every read and CLI call either fails with a one-line
error or returns exactly what was written — never a traceback, wrong data or a hang. (The
≥ 500-file run is ``bench/zoo_fuzz.py``; this one takes about 20 s.)"""

from tests.zoo.fuzzing import KINDS, fuzz


def test_damaged_zoos_give_a_clean_error_or_the_original_data(tmp_path, monkeypatch):
    monkeypatch.setenv("PARAMGEN_ZOO_PROBE_SECONDS", "5")
    counts, bad = fuzz(tmp_path, cases=6 * len(KINDS), seed=2026)
    assert not bad, bad
    assert counts["error"] + counts["original"] == 6 * len(KINDS)
    assert counts["error"] > 0  # the fuzz does damage what it reads
