"""A minimal server over a qa index: the least work a service can do to answer a question.

    scripts/minimal.py --index index/ [--port 8001]

FastAPI on uvicorn, as `qa serve` runs it, with the index's own ONNX query encoder and FAISS
index, and nothing else: no sections read, no BM25, sentences, word pieces, answer sentence,
notices, confidence, cache, logging or metrics. POST /ask {"question", "k"} returns the top
neighbours' ids and scores. It is the "hand-rolled FastAPI + int8 ONNX encoder" peer of the
speed issue, rebuilt on this project's encoder, so that scripts/bench.py can measure in the same
run what the rest of `qa serve`'s work costs against it.
"""

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def create_minimal_app(index: Path):  # noqa: ANN201 - FastAPI is imported here, not at module level
    import faiss
    from fastapi import FastAPI
    from pydantic import BaseModel, Field

    from qa.neighbours import INDEX_FILE, read_index
    from qa.searcher import load_query_encoder
    from qa.settings import Settings
    from qa.store import IndexReader

    reader = IndexReader(index)  # the generation CURRENT points to; its arrays stay unread
    encoder = load_query_encoder(reader, Settings())  # the encoder qa serve would use
    neighbours = read_index(reader.path / INDEX_FILE)
    faiss.omp_set_num_threads(1)

    class Ask(BaseModel):
        question: str = Field(min_length=1, max_length=2000)
        k: int = Field(5, ge=1, le=50)

    app = FastAPI()
    running = [0]  # like qa serve: a question asked while no other runs uses every core


    @app.get("/healthz")
    def healthz() -> dict:  # no `from __future__ import annotations`: FastAPI reads these types
        return {"status": "ok"}

    @app.post("/ask")
    def ask(body: Ask) -> dict:  # a plain def: FastAPI runs it on its thread pool
        running[0] += 1  # a race here only picks the thread count, as in qa serve
        try:
            vector = encoder.encode([body.question], alone=running[0] == 1)
        finally:
            running[0] -= 1
        scores, ids = neighbours.search(vector, body.k)
        return {"ids": ids[0].tolist(), "scores": scores[0].tolist()}

    return app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", type=Path, default=Path("index"))
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    args = parser.parse_args(argv)
    import uvicorn

    uvicorn.run(create_minimal_app(args.index), host=args.host, port=args.port, log_config=None,
                access_log=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
