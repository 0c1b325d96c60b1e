"""The one table of count definitions: README, audit and counts read the same rows."""

from pathlib import Path

import numpy as np

import neuro
from neuro.audit import glossary
from neuro.audit.counts import PROJECTION_FIELDS
from neuro.audit.definitions import compare
from neuro.audit.report import DEFINITIONS

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_shows_the_table():
    assert glossary.markdown_table() in README.read_text()


def test_every_count_is_defined_once():
    names = [d.name for d in glossary.DEFINITIONS]
    assert len(names) == len(set(names))
    counts = neuro.run(_net(), np.ones((2, 3)), backend="reference").counts
    assert set(counts.totals()) | set(PROJECTION_FIELDS) | {"synops_ac", "synops_mac"} >= set(
        names
    ) - {"events_in"}
    assert set(counts.totals()) <= set(names)
    assert DEFINITIONS == glossary.describe()


def _net():
    net = neuro.Network(name="tiny")
    net.add_population("x", (3,), neuro.Input())
    net.add_population("y", (2,), neuro.Readout())
    net.connect("x", "y", neuro.Dense(np.array([[1.0, 0.0], [2.0, 3.0], [0.0, 0.0]])))
    return net


def test_audit_states_the_remaining_differences():
    net = _net()
    res = neuro.run(net, np.array([[1.0, 0.0, 1.0], [0.5, 1.0, 0.0]]), backend="reference")
    notes = compare(res.counts, net)["notes"]
    for diff in glossary.NEUROBENCH_DIFFERENCES:
        assert any(diff in n for n in notes)
    # graded input (0.5): the projection's synops are MACs under NeuroBench's rule
    assert res.counts.synops_ac == 0 and res.counts.synops_mac == res.counts.synops == 4
    binary = neuro.run(net, np.array([[1.0, 0.0, 1.0], [-1.0, 1.0, 0.0]]), backend="reference")
    assert binary.counts.synops_ac == binary.counts.synops == 4
