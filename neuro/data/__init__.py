"""Data sets for training and evaluating networks (files are never shipped).

See :mod:`neuro.data.ptb` for the Penn Treebank language-modelling data.
"""

from neuro.data.ptb import (
    EOS,
    PTB_DIR_ENV,
    UNK,
    PTBCorpus,
    Vocabulary,
    batchify,
    bptt_batches,
    load_ptb,
    ptb_directory,
    ptb_filenames,
)

__all__ = [
    "EOS",
    "UNK",
    "PTB_DIR_ENV",
    "Vocabulary",
    "PTBCorpus",
    "ptb_directory",
    "ptb_filenames",
    "load_ptb",
    "batchify",
    "bptt_batches",
]
