"""Paper embeddings in the database: computing the missing ones, importing precomputed ones.

Computing follows the papers' change sequence from a cursor kept in `ingest_cursors`, one
transaction per batch, so a killed run resumes where it stopped. A paper whose title and
abstract did not change (a vote, a moderation flag) keeps its vector: the text hash says so.

Precomputed embeddings (for those who embed elsewhere) come as a NumPy `.npz` file with:
  - `ids`: 1-D array of paper ids as strings (`2401.01234`, `pf-...`),
  - `vectors`: 2-D float array, one row per id, of the embedder's dimension (384),
  - `model` (optional): the model that made them; it must be the one queries are embedded
    with (all-MiniLM-L6-v2), or the vectors would not be comparable.
Rows are L2-normalized on import.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from paperfeed import clock
from paperfeed.db import Database
from paperfeed.models import IngestCursor, Paper, PaperEmbedding
from paperfeed.papers.store import EMBEDDING_CHANGE, current_change_seq, next_change_seqs
from paperfeed.plurals import plural

Progress = Callable[[int, int], None]


class Encoder(Protocol):
    dim: int
    model_id: str

    def encode(self, texts: list[str], batch_size: int = 32) -> np.ndarray: ...


def document_text(title: str, abstract: str) -> str:
    """What gets embedded for a paper: its title, then its abstract."""
    return f"{title}. {abstract}".strip()


def text_hash(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()


def to_blob(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype="<f2").tobytes()


def from_blob(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, dtype="<f2").astype(np.float32)


def normalize(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0] = 1
    return vectors / norms


def base_model(model_id: str) -> str:
    """Quantized and full-precision runs of one model share a vector space (cosine 0.99)."""
    return model_id.split(":", 1)[0]


def cursor_name(model_id: str) -> str:
    return f"embeddings:{base_model(model_id)}"


@dataclass
class EmbedStats:
    examined: int = 0
    embedded: int = 0


def embed_pending(
    db: Database,
    encoder: Encoder,
    batch_size: int = 256,
    progress: Progress | None = None,
    limit: int | None = None,
) -> EmbedStats:
    """Embed every paper changed since the last run whose text is new or different."""
    stats = EmbedStats()
    name = cursor_name(encoder.model_id)
    with db.reader() as session:
        row = session.get(IngestCursor, name)
        start = int(row.cursor) if row else 0
        target = current_change_seq(session)[0]
    done_seq = start
    while True:
        with db.reader() as session:
            batch = session.execute(
                select(Paper.id, Paper.title, Paper.abstract, Paper.change_seq)
                .where(Paper.change_seq > done_seq)
                .order_by(Paper.change_seq)
                .limit(batch_size)
            ).all()
            if not batch:
                break
            known = dict(
                session.execute(
                    select(PaperEmbedding.paper_id, PaperEmbedding.text_hash).where(
                        PaperEmbedding.paper_id.in_([r.id for r in batch]),
                        PaperEmbedding.model == base_model(encoder.model_id),
                    )
                ).all()
            )
        texts = {r.id: document_text(r.title, r.abstract) for r in batch}
        hashes = {pid: text_hash(t) for pid, t in texts.items()}
        todo = [pid for pid in texts if known.get(pid) != hashes[pid]]
        vectors = encoder.encode([texts[pid] for pid in todo]) if todo else None
        with db.transaction() as session:
            if todo and vectors is not None:
                _store(
                    session, todo, vectors, [hashes[p] for p in todo], base_model(encoder.model_id)
                )
            done_seq = batch[-1].change_seq
            session.merge(
                IngestCursor(source=name, cursor=str(done_seq), state=None, updated_at=clock.now())
            )
        stats.examined += len(batch)
        stats.embedded += len(todo)
        if progress:
            progress(done_seq - start, max(target - start, done_seq - start))
        if limit is not None and stats.examined >= limit:
            break
    return stats


def _store(
    session: Session, paper_ids: list[int], vectors: np.ndarray, hashes: list[str], model: str
) -> None:
    seqs = next_change_seqs(session, len(paper_ids), EMBEDDING_CHANGE)
    existing = {
        e.paper_id: e
        for e in session.execute(
            select(PaperEmbedding).where(PaperEmbedding.paper_id.in_(paper_ids))
        ).scalars()
    }
    now = clock.now()
    for pid, vector, digest, seq in zip(paper_ids, normalize(vectors), hashes, seqs, strict=True):
        row = existing.get(pid)
        if row is None:
            session.add(
                PaperEmbedding(
                    paper_id=pid,
                    model=model,
                    text_hash=digest,
                    vector=to_blob(vector),
                    seq=seq,
                    created_at=now,
                )
            )
        else:
            row.model, row.text_hash, row.vector, row.seq = model, digest, to_blob(vector), seq
            row.created_at = now
    session.flush()


class EmbeddingFileError(ValueError):
    """A precomputed-embeddings file that cannot be used, and why."""


@dataclass
class ImportStats:
    imported: int = 0
    unknown_ids: int = 0


def import_embeddings(
    db: Database, path: Path, dim: int, model: str, batch_size: int = 2000
) -> ImportStats:
    """Store precomputed vectors made by `model` (queries are embedded by the same model)."""
    try:
        data = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise EmbeddingFileError(f"{path.name} is not a readable .npz file: {exc}") from None
    if "ids" not in data or "vectors" not in data:
        raise EmbeddingFileError(f"{path.name} must hold arrays named 'ids' and 'vectors'")
    ids, vectors = data["ids"], data["vectors"]
    if vectors.ndim != 2 or vectors.shape[0] != len(ids):
        raise EmbeddingFileError(
            f"'vectors' must be a 2-D array with one row per id; got shape {vectors.shape} "
            f"for {plural(len(ids), 'id')}"
        )
    if vectors.shape[1] != dim:
        raise EmbeddingFileError(
            f"vectors have {vectors.shape[1]} dimensions; this index uses {dim}"
        )
    if not np.isfinite(vectors).all():
        raise EmbeddingFileError("'vectors' contains NaN or infinite values")
    model = base_model(model)
    if "model" in data and base_model(str(data["model"])) != model:
        raise EmbeddingFileError(
            f"the vectors were made by {data['model']}, but queries are embedded by {model}: "
            "they would not be comparable"
        )
    stats = ImportStats()
    for start in range(0, len(ids), batch_size):
        chunk_ids = [str(i) for i in ids[start : start + batch_size]]
        chunk = vectors[start : start + batch_size]
        with db.transaction() as session:
            rows = {
                r.public_id: r
                for r in session.execute(
                    select(Paper.id, Paper.public_id, Paper.title, Paper.abstract).where(
                        Paper.public_id.in_(chunk_ids)
                    )
                )
            }
            keep = [i for i, pid in enumerate(chunk_ids) if pid in rows]
            stats.unknown_ids += len(chunk_ids) - len(keep)
            if keep:
                papers = [rows[chunk_ids[i]] for i in keep]
                _store(
                    session,
                    [p.id for p in papers],
                    chunk[keep],
                    [text_hash(document_text(p.title, p.abstract)) for p in papers],
                    model,
                )
                stats.imported += len(keep)
    return stats
