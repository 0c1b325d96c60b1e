"""Tests of the Penn Treebank loader, vocabulary and batching helpers.

The data are found through ``NEURO_PTB_DIR`` or, when it is unset, in
``../shared/data/ptb`` next to the repository root; tests that need the real
files are skipped when neither exists.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

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
from neuro.exceptions import DataError, ParameterError, ShapeError

REPO_ROOT = Path(__file__).resolve().parents[2]


def _data_dir() -> Path:
    env = os.environ.get(PTB_DIR_ENV, "").strip()
    return Path(env) if env else REPO_ROOT.parent / "shared" / "data" / "ptb"


DATA_DIR = _data_dir()
SKIP_REASON = (
    f"PTB data not found at {DATA_DIR}; set {PTB_DIR_ENV} to the directory holding "
    "ptb.{train,valid,test}.txt and ptb.char.{train,valid,test}.txt"
)
needs_data = pytest.mark.skipif(not DATA_DIR.is_dir(), reason=SKIP_REASON)


@pytest.fixture(scope="module")
def word() -> PTBCorpus:
    if not DATA_DIR.is_dir():
        pytest.skip(SKIP_REASON)
    return load_ptb(DATA_DIR, level="word")


@pytest.fixture(scope="module")
def char() -> PTBCorpus:
    if not DATA_DIR.is_dir():
        pytest.skip(SKIP_REASON)
    return load_ptb(DATA_DIR, level="char")


def _write_corpus(directory: Path, train: str, valid: str, test: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for split, text in zip(("train", "valid", "test"), (train, valid, test), strict=True):
        (directory / f"ptb.{split}.txt").write_text(text)
    return directory


# --------------------------------------------------------------------- real data


def test_word_counts(word: PTBCorpus) -> None:
    assert word.level == "word"
    assert word.train.shape == (929_589,)
    assert word.valid.shape == (73_760,)
    assert word.test.shape == (82_430,)
    assert len(word.vocab) == 10_000
    assert EOS in word.vocab and UNK in word.vocab
    for ids in (word.train, word.valid, word.test):
        assert ids.dtype == np.int64
        assert ids.min() >= 0 and ids.max() < len(word.vocab)


def test_word_lines_and_order(word: PTBCorpus) -> None:
    eos = word.vocab.eos_id
    assert int(np.count_nonzero(word.train == eos)) == 42_068
    assert int(np.count_nonzero(word.valid == eos)) == 3_370
    assert int(np.count_nonzero(word.test == eos)) == 3_761
    assert word.train[-1] == eos
    # ids in order of first appearance in train, <eos> ending the first line
    first = word.vocab.words[: eos + 1]
    assert word.vocab.words[:2] == ["aer", "banknote"]
    assert word.vocab.decode(word.train[: eos + 1]) == first
    assert np.array_equal(word.train[: eos + 1], np.arange(eos + 1))


def test_word_no_unk_needed_for_valid_test(word: PTBCorpus) -> None:
    # every valid/test word is in the train vocabulary: <unk> ids only where the text says <unk>
    unk = word.vocab.unk_id
    assert word.vocab.decode(word.valid[:3]) == ["consumers", "may", "want"]
    assert int(np.count_nonzero(word.valid == unk)) > 0  # literal <unk> in the text


def test_char_counts(char: PTBCorpus) -> None:
    assert char.level == "char"
    assert len(char.vocab) == 50  # 49 symbols + <eos>
    assert char.vocab.unk_id is None
    assert char.train.shape == (5_017_482,)
    assert char.valid.shape == (393_042,)
    assert char.test.shape == (442_423,)
    symbols = set(char.vocab.words) - {EOS}
    assert all(len(s) == 1 for s in symbols)
    assert "_" in symbols
    assert int(np.count_nonzero(char.train == char.vocab.eos_id)) == 42_068


def test_char_follows_word(word: PTBCorpus, char: PTBCorpus) -> None:
    # the character files spell the word files, '_' between words
    n_words = int(np.argmax(word.train == word.vocab.eos_id))
    n_chars = int(np.argmax(char.train == char.vocab.eos_id))
    line = " ".join(word.vocab.decode(word.train[:n_words]))
    assert "".join(char.vocab.decode(char.train[:n_chars])) == line.replace(" ", "_")


def test_round_trip(word: PTBCorpus) -> None:
    tokens = word.vocab.decode(word.test[:500])
    assert np.array_equal(word.vocab.encode(tokens), word.test[:500])
    sentence = "the market fell N points".split()
    assert word.vocab.decode(word.vocab.encode(sentence)) == sentence
    assert word.vocab.id_of("the") == word.vocab.words.index("the")


def test_unknown_word_maps_to_unk(word: PTBCorpus) -> None:
    ids = word.vocab.encode(["the", "zzzxqj"])
    assert ids[1] == word.vocab.unk_id
    assert word.vocab.id_of("zzzxqj") == word.vocab.unk_id


def test_unknown_symbol_without_unk_raises(char: PTBCorpus) -> None:
    with pytest.raises(DataError, match="'@'"):
        char.vocab.encode(["a", "@"])


@needs_data
def test_env_var_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PTB_DIR_ENV, str(DATA_DIR))
    assert ptb_directory() == DATA_DIR


@needs_data
def test_checksum_mismatch(tmp_path: Path) -> None:
    for name in [*ptb_filenames("word").values(), "SHA256SUMS"]:
        shutil.copyfile(DATA_DIR / name, tmp_path / name)
    target = tmp_path / "ptb.valid.txt"
    data = bytearray(target.read_bytes())
    data[100] = ord("x") if data[100] != ord("x") else ord("y")
    target.write_bytes(bytes(data))
    with pytest.raises(DataError, match=r"ptb\.valid\.txt.*damaged"):
        load_ptb(tmp_path)
    # without verification the altered file loads
    corpus = load_ptb(tmp_path, verify=False)
    assert corpus.valid.shape[0] > 0


# ------------------------------------------------------------- vocabulary alone


def test_vocabulary_basics() -> None:
    vocab = Vocabulary.from_tokens(["b", "a", "b", EOS, "c", EOS])
    assert vocab.words == ["b", "a", EOS, "c"]
    assert len(vocab) == 4
    assert vocab.eos_id == 2 and vocab.unk_id is None
    assert vocab.encode(["c", "b"]).tolist() == [3, 0]
    assert vocab.encode([]).shape == (0,)
    assert vocab.decode([]) == []
    assert vocab.decode(np.array([1, 3])) == ["a", "c"]
    with pytest.raises(DataError, match="'d'"):
        vocab.id_of("d")
    with pytest.raises(DataError, match="outside"):
        vocab.decode([4])
    with pytest.raises(DataError, match="outside"):
        vocab.decode([-1])
    with pytest.raises(ParameterError, match="split"):
        vocab.encode("b a")
    with pytest.raises(ParameterError, match="unique"):
        Vocabulary(["a", "b", "a"])


# ------------------------------------------------------------------- batching


def test_batchify_hand_computed() -> None:
    streams = batchify(np.arange(11), batch_size=3)
    expected = np.array([[0, 3, 6], [1, 4, 7], [2, 5, 8]])
    assert streams.shape == (3, 3)
    assert streams.dtype == np.int64
    assert np.array_equal(streams, expected)
    assert np.array_equal(batchify([5, 6, 7, 8], 2), [[5, 7], [6, 8]])
    assert np.array_equal(batchify([1, 2, 3], 1), [[1], [2], [3]])


def test_batchify_real(word: PTBCorpus) -> None:
    streams = batchify(word.train, 20)
    steps = 929_589 // 20
    assert streams.shape == (steps, 20)
    assert np.array_equal(streams[:, 7], word.train[7 * steps : 8 * steps])


def test_batchify_errors() -> None:
    with pytest.raises(ParameterError):
        batchify(np.arange(5), 0)
    with pytest.raises(ParameterError):
        batchify(np.arange(5), 2.0)
    with pytest.raises(ParameterError, match="larger"):
        batchify(np.arange(5), 6)
    with pytest.raises(ShapeError):
        batchify(np.zeros((2, 3), dtype=np.int64), 2)


def test_bptt_batches_shift() -> None:
    streams = batchify(np.arange(24), batch_size=2)  # (12, 2)
    chunks = list(bptt_batches(streams, seq_len=5))
    assert [x.shape for x, _ in chunks] == [(5, 2), (5, 2), (1, 2)]
    for x, y in chunks:
        assert x.shape == y.shape
        assert np.array_equal(y, x + 1)  # next token in each contiguous stream
    xs = np.concatenate([x for x, _ in chunks])
    ys = np.concatenate([y for _, y in chunks])
    assert np.array_equal(xs, streams[:-1])
    assert np.array_equal(ys, streams[1:])


def test_bptt_batches_errors() -> None:
    with pytest.raises(ParameterError):
        bptt_batches(np.zeros((4, 2), dtype=np.int64), 0)
    with pytest.raises(ShapeError):
        bptt_batches(np.zeros(4, dtype=np.int64), 2)
    with pytest.raises(ShapeError):
        bptt_batches(np.zeros((1, 2), dtype=np.int64), 2)


# ------------------------------------------------------------ errors, no data


def test_no_directory_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(PTB_DIR_ENV, raising=False)
    with pytest.raises(DataError, match=PTB_DIR_ENV) as info:
        load_ptb()
    assert "load_ptb(" in str(info.value)


def test_env_var_resolution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PTB_DIR_ENV, str(tmp_path))
    assert ptb_directory() == tmp_path
    other = tmp_path / "other"
    other.mkdir()
    assert ptb_directory(other) == other  # the argument wins over the variable
    monkeypatch.setenv(PTB_DIR_ENV, str(tmp_path / "absent"))
    with pytest.raises(DataError, match=f"absent.*{PTB_DIR_ENV}"):
        ptb_directory()


def test_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        load_ptb(tmp_path / "nowhere")


def test_missing_file(tmp_path: Path) -> None:
    (tmp_path / "ptb.train.txt").write_text("a b\n")
    with pytest.raises(DataError, match=r"'ptb\.valid\.txt' is missing") as info:
        load_ptb(tmp_path)
    message = str(info.value)
    assert str(tmp_path) in message
    assert "ptb.test.txt" in message and "Mikolov" in message
    with pytest.raises(DataError, match=r"'ptb\.char\.train\.txt' is missing"):
        load_ptb(tmp_path, level="char")


@pytest.mark.parametrize("content", ["", " \n\n"])
def test_empty_file(tmp_path: Path, content: str) -> None:
    _write_corpus(tmp_path, "a b\n", "a\n", content)
    with pytest.raises(DataError, match=r"ptb\.test\.txt.*empty"):
        load_ptb(tmp_path)


def test_small_corpus(tmp_path: Path) -> None:
    _write_corpus(tmp_path, "a b\n\nb c\n ", "c a\n", "b\n")
    corpus = load_ptb(tmp_path)
    assert corpus.vocab.words == ["a", "b", EOS, "c"]
    assert corpus.train.tolist() == [0, 1, 2, 1, 3, 2]
    assert corpus.valid.tolist() == [3, 0, 2]
    assert corpus.test.tolist() == [1, 2]


def test_unknown_word_without_unk(tmp_path: Path) -> None:
    _write_corpus(tmp_path, "a b\n", "a zz\n", "b\n")
    with pytest.raises(DataError, match=r"'zz' in .*ptb\.valid\.txt"):
        load_ptb(tmp_path)


def test_checksum_small(tmp_path: Path) -> None:
    _write_corpus(tmp_path, "a b\n", "a\n", "b\n")
    sums = "".join(
        f"{hashlib.sha256((tmp_path / n).read_bytes()).hexdigest()}  {n}\n"
        for n in ("ptb.train.txt", "ptb.valid.txt", "ptb.test.txt")
    )
    (tmp_path / "SHA256SUMS").write_text(sums)
    assert load_ptb(tmp_path).train.tolist() == [0, 1, 2]
    (tmp_path / "ptb.test.txt").write_text("a\n")
    with pytest.raises(DataError, match=r"ptb\.test\.txt.*damaged"):
        load_ptb(tmp_path)
    (tmp_path / "SHA256SUMS").write_text("not a checksum line\n")
    with pytest.raises(DataError, match="SHA256SUMS"):
        load_ptb(tmp_path)
    assert load_ptb(tmp_path, verify=False).test.tolist() == [0, 2]


def test_bad_level(tmp_path: Path) -> None:
    with pytest.raises(ParameterError, match="level"):
        load_ptb(tmp_path, level="byte")
