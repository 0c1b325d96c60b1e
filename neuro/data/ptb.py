"""Penn Treebank language-modelling data (Mikolov's 10k-vocabulary version).

The loader reads the standard preprocessed files, word level
(``ptb.train.txt``, ``ptb.valid.txt``, ``ptb.test.txt``) or character level
(``ptb.char.train.txt``, ``ptb.char.valid.txt``, ``ptb.char.test.txt``), from a
directory given as an argument or by the environment variable
``NEURO_PTB_DIR``.  The data are not shipped with neuro.

Tokenisation follows the classic recurrent language-model recipe: every line
that holds at least one token becomes its whitespace-separated tokens followed
by one ``<eos>``.  Lines holding only whitespace are skipped (the character
files end with one such line).  At character level the tokens are single
symbols and ``'_'`` separates words.

Ids are assigned in order of first appearance in the training split, so the
same files always give the same vocabulary.

Examples
--------
>>> corpus = load_ptb("/path/to/ptb")                        # doctest: +SKIP
>>> streams = batchify(corpus.train, batch_size=20)          # doctest: +SKIP
>>> for x, y in bptt_batches(streams, seq_len=35):           # doctest: +SKIP
...     pass
"""

from __future__ import annotations

import hashlib
import operator
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import repeat
from pathlib import Path

import numpy as np

from neuro.exceptions import DataError, ParameterError, ShapeError

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

EOS = "<eos>"
"""Token appended at the end of every line."""

UNK = "<unk>"
"""Token that stands for out-of-vocabulary words (present in the word-level data)."""

PTB_DIR_ENV = "NEURO_PTB_DIR"
"""Environment variable naming the PTB directory when no directory is passed."""

_SPLITS = ("train", "valid", "test")
_LEVELS = ("word", "char")
_CHECKSUMS = "SHA256SUMS"
_HOW_TO_GET = (
    "Use the standard Mikolov PTB files (the 'simple-examples/data' set of Mikolov's "
    "RNNLM toolkit, also shipped in the data/ folder of many LSTM language-model "
    "repositories): ptb.train.txt, ptb.valid.txt, ptb.test.txt for word level and "
    "ptb.char.train.txt, ptb.char.valid.txt, ptb.char.test.txt for character level, "
    "all in one directory."
)


class Vocabulary:
    """Bidirectional mapping between tokens and integer ids.

    Parameters
    ----------
    words : sequence of str
        The tokens; ``words[i]`` gets id ``i``.  Must be unique.

    Notes
    -----
    Encoding a token that is not in the vocabulary gives the id of ``<unk>``
    when the vocabulary has it, and raises :class:`~neuro.exceptions.DataError`
    naming the token otherwise.
    """

    def __init__(self, words: Sequence[str]) -> None:
        if isinstance(words, str):
            raise ParameterError("Vocabulary needs a sequence of tokens, not a single string")
        self._words = [str(w) for w in words]
        self._index = {w: i for i, w in enumerate(self._words)}
        if len(self._index) != len(self._words):
            dup = next(w for i, w in enumerate(self._words) if self._index[w] != i)
            raise ParameterError(f"Vocabulary words must be unique; {dup!r} appears twice")

    @classmethod
    def from_tokens(cls, tokens: Iterable[str]) -> Vocabulary:
        """Build a vocabulary with ids in order of first appearance.

        Parameters
        ----------
        tokens : iterable of str
            Token stream, e.g. the training split with ``<eos>`` at line ends.

        Returns
        -------
        Vocabulary
        """
        return cls(list(dict.fromkeys(tokens)))

    def __len__(self) -> int:
        return len(self._words)

    def __contains__(self, word: object) -> bool:
        return word in self._index

    def __repr__(self) -> str:
        head = ", ".join(repr(w) for w in self._words[:5])
        more = ", ..." if len(self._words) > 5 else ""
        return f"Vocabulary({len(self)} words: [{head}{more}])"

    @property
    def words(self) -> list[str]:
        """list of str: All tokens, in id order (a copy)."""
        return list(self._words)

    @property
    def unk_id(self) -> int | None:
        """int or None: Id of ``<unk>``, or None when the vocabulary lacks it."""
        return self._index.get(UNK)

    @property
    def eos_id(self) -> int | None:
        """int or None: Id of ``<eos>``, or None when the vocabulary lacks it."""
        return self._index.get(EOS)

    def id_of(self, word: str) -> int:
        """Id of one token, with the same unknown-token rule as :meth:`encode`.

        Parameters
        ----------
        word : str

        Returns
        -------
        int
        """
        return int(self.encode([word])[0])

    def encode(self, tokens: Iterable[str]) -> np.ndarray:
        """Map tokens to ids.

        Parameters
        ----------
        tokens : iterable of str
            Tokens, e.g. ``"the cat".split() + ["<eos>"]``.  A bare string is
            refused (split it first).

        Returns
        -------
        numpy.ndarray
            Shape ``(n,)``, dtype int64.

        Raises
        ------
        DataError
            A token is not in the vocabulary and the vocabulary has no ``<unk>``.
        """
        return self._encode(tokens, source=None)

    def _encode(self, tokens: Iterable[str], source: str | None) -> np.ndarray:
        if isinstance(tokens, str):
            raise ParameterError(
                "encode() needs a sequence of tokens, not a single string; "
                "split it first, e.g. text.split()"
            )
        tokens = tokens if isinstance(tokens, list) else list(tokens)
        unk = self.unk_id
        if unk is not None:
            ids = map(self._index.get, tokens, repeat(unk))
            return np.fromiter(ids, dtype=np.int64, count=len(tokens))
        try:
            ids = map(self._index.__getitem__, tokens)
            return np.fromiter(ids, dtype=np.int64, count=len(tokens))
        except (KeyError, TypeError):
            bad = next(t for t in tokens if not isinstance(t, str) or t not in self._index)
            where = f" in {source}" if source else ""
            raise DataError(
                f"token {bad!r}{where} is not in the vocabulary of {len(self)} words, "
                f"which has no {UNK!r} token to map it to"
            ) from None

    def decode(self, ids: Iterable[int] | np.ndarray) -> list[str]:
        """Map ids back to tokens.

        Parameters
        ----------
        ids : array_like of int
            Shape ``(n,)``, values in ``[0, len(self))``.

        Returns
        -------
        list of str
            Length ``n``.

        Raises
        ------
        DataError
            An id is not an integer or lies outside the vocabulary.
        """
        arr = np.asarray(ids)
        if arr.size == 0:
            return []
        if arr.ndim != 1:
            raise ShapeError(f"decode() needs a 1-D sequence of ids, got shape {arr.shape}")
        if not np.issubdtype(arr.dtype, np.integer):
            raise DataError(f"decode() needs integer ids, got dtype {arr.dtype}")
        lo, hi = int(arr.min()), int(arr.max())
        if lo < 0 or hi >= len(self):
            bad = lo if lo < 0 else hi
            raise DataError(
                f"id {bad} is outside the vocabulary (valid ids are 0..{len(self) - 1})"
            )
        words = self._words
        return [words[i] for i in arr.tolist()]


@dataclass(frozen=True, eq=False)
class PTBCorpus:
    """The three PTB splits as id streams.

    Attributes
    ----------
    vocab : Vocabulary
        Built from the training split.
    train, valid, test : numpy.ndarray
        Shape ``(n_tokens,)``, dtype int64: each line's tokens followed by
        ``<eos>``, lines concatenated in file order.
    level : str
        ``"word"`` or ``"char"``.
    """

    vocab: Vocabulary
    train: np.ndarray
    valid: np.ndarray
    test: np.ndarray
    level: str


def ptb_directory(directory: str | os.PathLike[str] | None = None) -> Path:
    """Resolve the PTB data directory.

    Parameters
    ----------
    directory : str or path-like, optional
        The directory.  When None, the environment variable ``NEURO_PTB_DIR``
        is used.

    Returns
    -------
    pathlib.Path
        The directory (``~`` expanded); it exists.

    Raises
    ------
    DataError
        Neither a directory nor ``NEURO_PTB_DIR`` is given, or the directory
        does not exist.
    """
    if directory is None:
        env = os.environ.get(PTB_DIR_ENV, "").strip()
        if not env:
            raise DataError(
                "No Penn Treebank directory given. Pass the directory holding the PTB "
                f"files, e.g. load_ptb('path/to/ptb'), or set the environment variable "
                f"{PTB_DIR_ENV}=path/to/ptb. {_HOW_TO_GET}"
            )
        path, origin = Path(env), f" (from {PTB_DIR_ENV})"
    else:
        path, origin = Path(directory), ""
    path = path.expanduser()
    if not path.is_dir():
        raise DataError(
            f"Penn Treebank directory {str(path)!r}{origin} does not exist or is not a "
            f"directory. {_HOW_TO_GET}"
        )
    return path


def ptb_filenames(level: str = "word") -> dict[str, str]:
    """File names of the three splits.

    Parameters
    ----------
    level : {"word", "char"}

    Returns
    -------
    dict
        ``{"train": ..., "valid": ..., "test": ...}``.
    """
    if level not in _LEVELS:
        raise ParameterError(f"level must be 'word' or 'char', got {level!r}")
    prefix = "ptb." if level == "word" else "ptb.char."
    return {split: f"{prefix}{split}.txt" for split in _SPLITS}


def _read_checksums(directory: Path) -> dict[str, str] | None:
    """Parse ``SHA256SUMS`` (``sha256sum`` format) if the directory has one."""
    path = directory / _CHECKSUMS
    if not path.is_file():
        return None
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read checksum file {str(path)!r}: {exc}") from exc
    sums = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = line.strip().split(maxsplit=1)
        digest = parts[0].lower()
        if len(parts) != 2 or len(digest) != 64 or set(digest) - set("0123456789abcdef"):
            raise DataError(
                f"checksum file {str(path)!r} is damaged: line {number} is not "
                "'<sha256 hex>  <file name>'"
            )
        sums[parts[1].lstrip("*").strip()] = digest
    return sums


def _read_split(directory: Path, name: str, checksums: dict[str, str] | None) -> bytes:
    """Read one split file and check it against its listed sha256, if any."""
    path = directory / name
    if not path.is_file():
        raise DataError(
            f"Penn Treebank file {name!r} is missing: expected it at {str(path)!r}. {_HOW_TO_GET}"
        )
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DataError(f"cannot read Penn Treebank file {str(path)!r}: {exc}") from exc
    if checksums is not None and name in checksums:
        digest = hashlib.sha256(data).hexdigest()
        if digest != checksums[name]:
            raise DataError(
                f"Penn Treebank file {name!r} in {str(directory)!r} is damaged: its sha256 is "
                f"{digest} but {_CHECKSUMS} lists {checksums[name]}. Replace it with a fresh "
                f"copy, or pass verify=False to skip the check. {_HOW_TO_GET}"
            )
    return data


def _tokenize(data: bytes, path: Path) -> list[str]:
    """Split file contents into tokens, one ``<eos>`` after every non-blank line."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(
            f"Penn Treebank file {str(path)!r} is damaged: it is not UTF-8 text ({exc}). "
            f"{_HOW_TO_GET}"
        ) from exc
    tokens: list[str] = []
    for line in text.split("\n"):
        words = line.split()
        if words:
            tokens.extend(words)
            tokens.append(EOS)
    if not tokens:
        raise DataError(
            f"Penn Treebank file {str(path)!r} is empty (it holds no tokens). {_HOW_TO_GET}"
        )
    return tokens


def load_ptb(
    directory: str | os.PathLike[str] | None = None,
    level: str = "word",
    verify: bool = True,
) -> PTBCorpus:
    """Load the Penn Treebank splits as int64 id streams.

    Parameters
    ----------
    directory : str or path-like, optional
        Directory holding the PTB files; defaults to ``$NEURO_PTB_DIR``.
    level : {"word", "char"}
        ``"word"`` reads ``ptb.{train,valid,test}.txt`` (10,000 types incl.
        ``<eos>`` and ``<unk>``); ``"char"`` reads ``ptb.char.{...}.txt``
        (49 symbols incl. the word separator ``'_'``, plus ``<eos>``).
    verify : bool
        If the directory has a ``SHA256SUMS`` file, check the sha256 of every
        split file it lists before using it.

    Returns
    -------
    PTBCorpus

    Raises
    ------
    DataError
        The directory or a file is missing, a file is empty, fails its
        checksum or is not text, or a valid/test token is outside the training
        vocabulary while the vocabulary has no ``<unk>``.
    """
    names = ptb_filenames(level)
    path = ptb_directory(directory)
    checksums = _read_checksums(path) if verify else None
    raw = {split: _read_split(path, names[split], checksums) for split in _SPLITS}
    tokens = {split: _tokenize(raw.pop(split), path / names[split]) for split in _SPLITS}
    vocab = Vocabulary.from_tokens(tokens["train"])
    ids = {
        split: vocab._encode(tokens[split], source=str(path / names[split])) for split in _SPLITS
    }
    return PTBCorpus(vocab=vocab, level=level, **ids)


def _positive_int(value: object, name: str) -> int:
    if isinstance(value, bool):
        raise ParameterError(f"{name} must be a positive integer, got {value!r}")
    try:
        number = operator.index(value)
    except TypeError:
        raise ParameterError(f"{name} must be a positive integer, got {value!r}") from None
    if number < 1:
        raise ParameterError(f"{name} must be a positive integer, got {number}")
    return number


def batchify(ids: np.ndarray | Sequence[int], batch_size: int) -> np.ndarray:
    """Cut an id stream into ``batch_size`` contiguous parallel streams.

    Parameters
    ----------
    ids : array_like of int
        Shape ``(n,)``.
    batch_size : int
        Number of streams ``B``.

    Returns
    -------
    numpy.ndarray
        Shape ``(T, B)`` with ``T = n // B``, dtype int64, time-major:
        column ``b`` is ``ids[b * T:(b + 1) * T]``.  The last ``n - T * B``
        ids are dropped.
    """
    batch_size = _positive_int(batch_size, "batch_size")
    arr = np.asarray(ids)
    if arr.ndim != 1:
        raise ShapeError(f"batchify() needs a 1-D id stream, got shape {arr.shape}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise ParameterError(f"batchify() needs integer ids, got dtype {arr.dtype}")
    steps = arr.shape[0] // batch_size
    if steps == 0:
        raise ParameterError(
            f"batch_size={batch_size} is larger than the stream of {arr.shape[0]} ids"
        )
    streams = arr[: steps * batch_size].astype(np.int64, copy=False)
    return np.ascontiguousarray(streams.reshape(batch_size, steps).T)


def bptt_batches(streams: np.ndarray, seq_len: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Iterate over truncated-BPTT chunks of time-major streams.

    Parameters
    ----------
    streams : numpy.ndarray
        Shape ``(T, B)``, e.g. from :func:`batchify`.
    seq_len : int
        Maximum chunk length ``L`` in time steps.

    Yields
    ------
    x : numpy.ndarray
        Shape ``(L, B)``: ``streams[i:i + L]`` (a view).
    y : numpy.ndarray
        Shape ``(L, B)``: the next tokens, ``streams[i + 1:i + 1 + L]``.
        ``L == seq_len`` except possibly for the last chunk; chunks cover
        the inputs ``streams[:T - 1]`` exactly once.
    """
    seq_len = _positive_int(seq_len, "seq_len")
    arr = np.asarray(streams)
    if arr.ndim != 2:
        raise ShapeError(f"bptt_batches() needs (T, B) streams, got shape {arr.shape}")
    if arr.shape[0] < 2:
        raise ShapeError(
            f"bptt_batches() needs at least 2 time steps to form targets, got {arr.shape[0]}"
        )
    return _chunks(arr, seq_len)


def _chunks(arr: np.ndarray, seq_len: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    last = arr.shape[0] - 1
    for start in range(0, last, seq_len):
        stop = min(start + seq_len, last)
        yield arr[start:stop], arr[start + 1 : stop + 1]
