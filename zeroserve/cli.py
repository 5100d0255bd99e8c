"""The ``zeroserve`` command: wires the parts into processes."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from zeroserve import __version__

Handler = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="zeroserve",
        description="A serverless, scale-to-zero inference gateway.",
    )
    parser.add_argument("--version", action="version", version=f"zeroserve {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_serve(commands)
    _add_validate(commands)
    _add_status(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    handler: Handler = args.handler
    return handler(args)


# -- serve -----------------------------------------------------------------------------

LOG_LEVELS = ("debug", "info", "warning", "error")


def _add_serve(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve_parser = commands.add_parser(
        "serve",
        help="run everything in one process: gateway, autoscaler, controller, admin",
        description="Serve the InferenceServices of a folder (its *.yaml and *.yml files, "
        "recursively; a ZeroserveConfig among them configures the server) in one process: "
        "the gateway, the admin API with /metrics and a status page, predictors started on "
        "demand from zero. Refused manifests are logged and left out. SIGTERM or Ctrl-C "
        "stops gracefully (in-flight requests finish, up to the largest revision timeout; "
        "a second signal cuts that short). Exit status: 0 after a graceful stop, 1 when "
        "the server cannot start, 2 on a usage error.",
    )
    serve_parser.add_argument("folder", metavar="DIR", help="the manifests (a folder, or one file)")
    serve_parser.add_argument(
        "--config",
        metavar="FILE",
        help="a ZeroserveConfig file (then one in DIR is ignored)",
    )
    serve_parser.add_argument(
        "--host", default="127.0.0.1", help="the gateway's address (default: %(default)s)"
    )
    serve_parser.add_argument(
        "--port", type=int, default=8080, help="the gateway's port (default: %(default)s)"
    )
    serve_parser.add_argument(
        "--admin-host",
        default="127.0.0.1",
        help="the admin API's address (default: %(default)s)",
    )
    serve_parser.add_argument(
        "--admin-port",
        type=int,
        default=9090,
        help="the admin API's port: /api/v1/status, /metrics, / (default: %(default)s)",
    )
    serve_parser.add_argument(
        "--state-dir",
        metavar="DIR",
        help="where the rollout state (revision numbers) is kept "
        "(default: $XDG_STATE_HOME/zeroserve, else ~/.local/state/zeroserve)",
    )
    serve_parser.add_argument(
        "--log-level",
        choices=LOG_LEVELS,
        default="info",
        help="how much the server logs (default: %(default)s)",
    )
    serve_parser.set_defaults(handler=_serve)


def _serve(args: argparse.Namespace) -> int:
    # Imported here: the server's parts cost start-up time the other commands need not pay.
    from pathlib import Path

    from zeroserve.embedded.process import ServeOptions, default_state_dir, run

    options = ServeOptions(
        folder=Path(args.folder),
        config=None if args.config is None else Path(args.config),
        host=args.host,
        port=args.port,
        admin_host=args.admin_host,
        admin_port=args.admin_port,
        state_dir=Path(args.state_dir) if args.state_dir else default_state_dir(),
        log_level=args.log_level,
    )
    return run(options)


# -- validate --------------------------------------------------------------------------


def _add_validate(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    validate_parser = commands.add_parser(
        "validate",
        help="check InferenceService manifests offline",
        description="Check InferenceService manifests offline: one verdict per document "
        "(OK, REFUSED with the reasons, SKIPPED for other kinds), with warnings. "
        "Exit status: 0 when nothing is refused, 1 when a document is refused, "
        "2 on a usage error.",
    )
    validate_parser.add_argument(
        "paths",
        nargs="+",
        metavar="FILE|DIR",
        help="a manifest file, or a folder whose *.yaml and *.yml files are read",
    )
    validate_parser.add_argument(
        "--config",
        metavar="FILE",
        help="Knative's config-autoscaler (a ConfigMap or its keys) for the cluster defaults",
    )
    validate_parser.set_defaults(handler=_validate)


def _validate(args: argparse.Namespace) -> int:
    # Imported here: pydantic costs a quarter of a second, which other commands need not pay.
    from zeroserve.config import AutoscalerConfig, ConfigWarnings
    from zeroserve.resource.cluster_config import load_autoscaler_config
    from zeroserve.resource.errors import ResourceError
    from zeroserve.resource.verdicts import EXIT_USAGE, render, validate

    config: AutoscalerConfig = AutoscalerConfig()
    warnings: ConfigWarnings = ()
    try:
        if args.config is not None:
            config, warnings = load_autoscaler_config(args.config)
        report = validate(args.paths, config, config_warnings=warnings, config_path=args.config)
    except ResourceError as error:
        print(f"zeroserve validate: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    for line in render(report):
        print(line)
    return report.exit_code


# -- status ----------------------------------------------------------------------------

ADMIN_URL = "http://127.0.0.1:9090"


def _add_status(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    status_parser = commands.add_parser(
        "status",
        help="show services, revisions, replicas and cold starts of a running server",
        description="Ask a running Zeroserve (its admin API) for a table per service: "
        "revisions, traffic, desired/ready replicas, panic, held requests and the last "
        "cold start with its phases. Exit status: 0 when answered, 1 when the server "
        "cannot be reached or has no such service, 2 on a usage error.",
    )
    status_parser.add_argument(
        "service", nargs="?", metavar="SERVICE", help="only this InferenceService"
    )
    status_parser.add_argument(
        "-n",
        "--namespace",
        default="default",
        help="the namespace of SERVICE (default: %(default)s)",
    )
    status_parser.add_argument(
        "--admin",
        default=ADMIN_URL,
        metavar="URL",
        help="the admin API of the server (default: %(default)s)",
    )
    status_parser.add_argument(
        "-o",
        "--output",
        choices=("table", "json"),
        default="table",
        help="a table for people (default), or the admin API's JSON",
    )
    status_parser.add_argument(
        "--timeout",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="how long to wait for the answer (default: %(default)s)",
    )
    status_parser.set_defaults(handler=_status)


def _status(args: argparse.Namespace) -> int:
    import json

    from zeroserve.admin.client import fetch_status
    from zeroserve.admin.codec import encode_service
    from zeroserve.admin.errors import AdminError
    from zeroserve.admin.status_table import render_service, render_status

    try:
        answer, snapshot = fetch_status(args.admin, timeout=args.timeout)
    except AdminError as error:
        print(f"zeroserve status: error: {error}", file=sys.stderr)
        return 1
    if args.service is None:
        document: object = answer
        lines = render_status(snapshot)
    else:
        service = snapshot.service(args.namespace, args.service)
        if service is None:
            print(
                f"zeroserve status: error: no InferenceService {args.namespace}/{args.service}"
                f" at {args.admin}",
                file=sys.stderr,
            )
            return 1
        document = encode_service(snapshot, service)
        lines = render_service(snapshot, service)
    if args.output == "json":
        print(json.dumps(document, indent=2))
    else:
        for line in lines:
            print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
