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
    _add_validate(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    handler: Handler = args.handler
    return handler(args)


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


if __name__ == "__main__":
    sys.exit(main())
