"""Bit-for-bit comparison of two runs of the same network (engines, schedules)."""

import numpy as np


def assert_identical(a, b, pops):
    """Recordings, final histories and model state of ``pops``, and all counts, equal."""
    for name in pops:
        np.testing.assert_array_equal(a.recordings[name], b.recordings[name], err_msg=name)
        fa, fb = a.final_state[name], b.final_state[name]
        assert len(fa["history"]) == len(fb["history"])
        for ha, hb in zip(fa["history"], fb["history"]):
            np.testing.assert_array_equal(ha, hb, err_msg=name)
        assert fa["state"].keys() == fb["state"].keys()
        for key in fa["state"]:
            np.testing.assert_array_equal(fa["state"][key], fb["state"][key], err_msg=name)
    assert a.counts == b.counts
