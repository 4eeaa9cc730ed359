"""``musictag serve``: the web page and the JSON API on a local server (FastAPI + uvicorn)."""

from __future__ import annotations

import argparse
import os

from musictag.cli.options import model_name, positive_int


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port from 1 to 65535, got {text!r}")
    return value


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default="mtt-musicnn", type=model_name, help="the model that tags uploads")
    parser.add_argument("--db", metavar="FILE", help="a library database (made by 'tag --db') to browse")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1, this machine)")
    parser.add_argument("--port", type=_port, default=8000, help="port (default 8000)")
    parser.add_argument(
        "--token",
        default=os.environ.get("MUSICTAG_TOKEN"),
        help="required with a --host other than loopback: clients send 'Authorization: Bearer "
        "TOKEN' (default $MUSICTAG_TOKEN)",
    )
    parser.add_argument("--max-upload-mb", type=_positive, default=200.0, metavar="MB", help="default 200")
    parser.add_argument(
        "--max-minutes", type=_positive, default=20.0, metavar="MIN", help="longest upload in minutes (default 20)"
    )
    parser.add_argument(
        "--queue",
        type=positive_int,
        default=64,
        metavar="N",
        help="requests that may wait for the model (default 64; 429 beyond)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from musictag.errors import MusictagError, ParameterError
    from musictag.utils.net import check_listen, is_loopback

    if not is_loopback(args.host) and not args.token:
        raise ParameterError(f"--host {args.host} lets other machines in: set --token (or MUSICTAG_TOKEN) too")
    if args.db:
        from musictag.library.database import Library

        Library(args.db, create=False).close()  # a missing or foreign file is said now, not on the first request
    if args.model.endswith(".onnx"):
        from musictag.inference.onnx_tagger import read_onnx_config

        read_onnx_config(args.model)  # a file onnxruntime cannot read is said now
    try:
        check_listen(args.host, args.port)
    except OSError as exc:
        raise MusictagError(f"cannot listen on {args.host}:{args.port} ({exc.strerror or exc})") from None
    import uvicorn

    from musictag.web.app import ServeSettings, create_app

    settings = ServeSettings(
        model=args.model,
        db=args.db,
        token=args.token,
        max_upload_mb=args.max_upload_mb,
        max_minutes=args.max_minutes,
        queue=args.queue,
    )
    print(f"musictag: serving on http://{args.host}:{args.port}/ (API at /docs); Ctrl-C stops", flush=True)
    uvicorn.run(create_app(settings), host=args.host, port=args.port, log_level="warning")
    return 0
