"""``musictag serve``: a FastAPI app with a JSON API and two pages that use only that API.

API (described at ``/docs``, a page served from here that works offline, and ``/openapi.json``):
``POST /api/tag``, ``POST /api/embed``, ``POST /api/explain``, ``GET /api/models``,
``GET /api/tracks?query=&search=&offset=&limit=``, ``GET /api/tracks/{id}``,
``GET /api/tracks/{id}/similar``, ``GET /api/tracks/{id}/audio``.

Safety: a token (``Authorization: Bearer T``, ``?token=T``, or the cookie that a page opened with
``?token=T`` sets, so the pages' own links keep working) is checked on every request when one is
set; uploads go to a private temporary folder, are limited in size and duration, are checked by
decoding (not by name) and deleted after; audio is served only from files
of the library that lie inside the folders it was made from (symlinks resolved); one model job runs
at a time and at most ``queue`` wait (429 beyond). Every error is a 4xx with a one-line JSON
``{"detail": ...}``; nothing answers with a traceback.
"""

from __future__ import annotations

import hmac
import os
import threading
from dataclasses import dataclass

import numpy as np
from fastapi import FastAPI, File, HTTPException, Query, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse

from musictag.errors import MusictagError
from musictag.library.query import QueryError
from musictag.library.service import LibraryService, NotFound, Track
from musictag.web.jobs import JobGate, QueueFull
from musictag.web.pages import api_page, library_page, tag_page
from musictag.web.uploads import Upload

TOKEN_COOKIE = "musictag_token"


@dataclass
class ServeSettings:
    """What ``musictag serve`` was started with: the model, the library, the token and the limits."""

    model: str = "mtt-musicnn"
    db: str | None = None
    token: str | None = None
    max_upload_mb: float = 200.0
    max_minutes: float = 20.0
    queue: int = 64


def create_app(settings: ServeSettings) -> FastAPI:
    """The app; the model is loaded on the first request that needs it."""
    # no Swagger UI or ReDoc: they load from a CDN and would be blank offline; /docs is a page of our own
    app = FastAPI(
        title="musictag", summary="Tag music and browse a tagged library", version="1", docs_url=None, redoc_url=None
    )
    state = _State(settings)
    app.state.musictag = state  # the tests reach the job gate through it

    @app.middleware("http")
    async def check_token(request: Request, call_next):
        if not settings.token or request.url.path in ("/favicon.ico",):
            return await call_next(request)
        from_query = request.query_params.get("token", "")
        given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        given = given or from_query or request.cookies.get(TOKEN_COOKIE, "")
        if not hmac.compare_digest(given.encode(), settings.token.encode()):
            return JSONResponse({"detail": "missing or wrong token"}, status_code=401)
        response = await call_next(request)
        if from_query:  # a page opened with ?token=: its links, the player and /docs carry it from now on
            response.set_cookie(TOKEN_COOKIE, from_query, httponly=True, samesite="strict")
        return response

    @app.exception_handler(RequestValidationError)
    async def bad_parameter(request: Request, exc: RequestValidationError):  # one line, as every other error
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(part) for part in first.get("loc", ()) if part not in ("query", "body", "path"))
        return JSONResponse({"detail": f"{where or 'request'}: {first.get('msg', 'invalid')}"}, status_code=422)

    @app.exception_handler(MusictagError)
    async def musictag_error(request: Request, exc: MusictagError):  # the library service's errors
        status = 404 if isinstance(exc, NotFound) else 400 if isinstance(exc, QueryError) else 422
        return JSONResponse({"detail": str(exc).splitlines()[0]}, status_code=status)

    @app.exception_handler(Exception)
    async def one_line(request: Request, exc: Exception):  # the last resort: never a traceback
        return JSONResponse({"detail": f"internal error: {type(exc).__name__}: {exc}".splitlines()[0]}, status_code=500)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def index() -> str:
        return tag_page(model=settings.model, has_library=settings.db is not None)

    @app.get("/docs", response_class=HTMLResponse, include_in_schema=False)
    def docs() -> str:
        return api_page(app.openapi(), has_library=settings.db is not None)

    @app.get("/library", response_class=HTMLResponse, include_in_schema=False)
    def library() -> str:
        state.library()
        return library_page(model=settings.model)

    @app.get("/api/models", summary="the model that tags uploads, and those of the library")
    def models() -> dict:
        out = {"tagger": {"name": settings.model}, "library": []}
        if settings.db:
            with state.library().open() as lib:
                out["library"] = [{"name": m.name, "labels": m.labels} for m in lib.models()]
        return out

    @app.post("/api/tag", summary="tag an uploaded audio file: top tags, scores, the taggram (key, bpm: describe=)")
    def tag(file: UploadFile = File(...), top_k: int = Query(10, ge=0, le=1000), describe: str = "") -> dict:
        from musictag.describe import describe_file, parse_descriptors

        try:
            names = parse_descriptors(describe)
        except MusictagError as exc:
            raise HTTPException(422, f"describe: {exc}") from None
        with state.upload(file) as path:
            result = state.run(lambda tagger: tagger.tag(path))
            result.descriptors = describe_file(path, names) if names else {}
        record = result.to_dict(top_k=top_k)
        record["path"] = file.filename
        record["labels"] = result.labels
        record["taggram"] = np.round(result.taggram, 4).tolist()
        record["patch_starts"] = np.round(result.patch_starts, 3).tolist()
        record["patch_seconds"] = result.patch_seconds
        return record

    @app.post("/api/explain", summary="where in the file the score of a label comes from (integrated gradients)")
    def explain(
        file: UploadFile = File(...),
        target: str | None = None,
        top_k: int = Query(3, ge=1, le=50),
        method: str = "integrated-gradients",
        unvalidated: bool = False,
    ) -> dict:
        from musictag.explain.relevance import explain as relevance
        from musictag.explain.validation import METHODS, VALIDATED, method_note

        if method not in METHODS:
            raise HTTPException(422, f"method: unknown method {method!r}; choose from {', '.join(METHODS)}")
        if method not in VALIDATED and not unvalidated:
            raise HTTPException(422, f"method: {method_note(method)}; add unvalidated=true to use it anyway")
        if settings.model.endswith(".onnx"):
            raise HTTPException(
                422,
                "explain needs the torch model: serve the model folder or pretrained name instead of the exported "
                ".onnx file",
            )
        with state.upload(file) as path:
            found = state.run(lambda tagger: relevance(tagger, path, target=target, method=method), torch=True)
        record = found.to_dict(top_k=top_k)
        record["path"] = file.filename
        return record

    @app.post("/api/embed", summary="an uploaded file's embedding (mean over patches)")
    def embed(file: UploadFile = File(...), layer: str = Query("penultimate")) -> dict:
        with state.upload(file) as path:
            result = state.run(lambda tagger: tagger.embed(path, layer=layer))
        return {
            "path": file.filename,
            "layer": layer,
            "model": result.model,
            "embedding": np.round(result.embedding, 6).tolist(),
        }

    @app.get("/api/tracks", summary="library tracks, filtered by a tag query and a path search, paged")
    def tracks(
        query: str = "",
        search: str = "",
        offset: int = Query(0, ge=0),
        limit: int = Query(50, ge=1, le=500),
        model: str | None = None,
    ) -> dict:
        return state.tracks(query=query, search=search, offset=offset, limit=limit, model=model)

    @app.get("/api/tracks/{track_id}", summary="one track: its scores and where it is")
    def track(track_id: int, model: str | None = None) -> dict:
        return state.track(track_id, model=model)

    @app.get("/api/tracks/{track_id}/similar", summary="the tracks that sound most like this one")
    def similar(track_id: int, n: int = Query(10, ge=1, le=200), model: str | None = None) -> dict:
        return state.similar(track_id, n=n, model=model)

    @app.get("/api/tracks/{track_id}/audio", summary="the track's audio file (library files only)")
    def audio(track_id: int) -> FileResponse:
        return FileResponse(state.audio_path(track_id))

    return app


class _State:
    def __init__(self, settings: ServeSettings):
        self.settings = settings
        self.gate = JobGate(settings.queue)
        self._taggers: dict = {}
        self._load = threading.Lock()
        self.service = LibraryService(settings.db) if settings.db else None

    # -- the model ----------------------------------------------------------------------
    def run(self, job, *, torch: bool = False):
        """``job(tagger)`` when the model is free (429 when too many wait); ``torch``: the torch tagger
        (explanations need gradients; tagging runs on the fastest backend)."""
        try:
            with self.gate.turn():
                return job(self.tagger(torch=torch))
        except QueueFull as exc:
            raise HTTPException(429, str(exc)) from None
        except MusictagError as exc:
            raise HTTPException(422, str(exc).splitlines()[0]) from None

    def tagger(self, *, torch: bool = False):
        """The tagger of the served model, loaded on first use (one per backend)."""
        from musictag.inference.factory import open_tagger

        key = "torch" if torch else "default"
        with self._load:
            if key not in self._taggers:
                self._taggers[key] = open_tagger(self.settings.model, backend="torch" if torch else None)
            return self._taggers[key]

    # -- uploads ----------------------------------------------------------------------------
    def upload(self, file: UploadFile) -> Upload:
        return Upload(file, max_mb=self.settings.max_upload_mb, max_minutes=self.settings.max_minutes)

    # -- the library ------------------------------------------------------------------------
    def library(self) -> LibraryService:
        if self.service is None:
            raise HTTPException(404, "no library: start the server with --db library.sqlite")
        return self.service

    def tracks(self, *, query: str, search: str, offset: int, limit: int, model: str | None) -> dict:
        found = self.library().find(query=query, search=search, model=model, offset=offset, limit=limit)
        return {
            "model": found.model.name,
            "total": found.total,
            "offset": offset,
            "limit": limit,
            "tracks": [_track_row(track) for track in found.tracks],
        }

    def track(self, track_id: int, *, model: str | None) -> dict:
        track = self.library().track(track_id, model=model)
        return _track_row(track, top=len(track.labels))

    def similar(self, track_id: int, *, n: int, model: str | None) -> dict:
        layer, found = self.library().similar(track_id=track_id, n=n, model=model)
        return {
            "track": track_id,
            "layer": layer,
            "similar": [{**_track_row(track), "similarity": round(similarity, 4)} for track, similarity in found],
        }

    def audio_path(self, track_id: int) -> str:
        return self.library().playable(track_id)


def _track_row(track: Track, *, top: int = 5) -> dict:
    return {
        "id": int(track.id),
        "path": track.path,
        "name": os.path.basename(track.path),
        "tags": [{"tag": tag, "score": round(score, 4)} for tag, score in track.top(top)],
    }
