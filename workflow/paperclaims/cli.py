"""Command line: ``paperclaims audit`` (also ``python -m paperclaims audit``)."""

from __future__ import annotations

import argparse
import json
import sys

from paperclaims.config import ConfigError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="paperclaims")
    sub = parser.add_subparsers(dest="command", required=True)
    audit = sub.add_parser(
        "audit",
        help="follow every figure back to its cached runs; check provenance, staleness, edits",
        description=(
            "For every claim in the config: figure → executed notebook → measured.nc → runs/*.nc, "
            "each with its provenance; every stale, hand-edited, truncated, foreign or missing file "
            "is named with the command that rebuilds it. Exit status 1 when any fault is found."
        ),
    )
    audit.add_argument(
        "--directory", "-d", default=".", help="the workflow directory (default: current)"
    )
    audit.add_argument(
        "--configfile",
        action="append",
        default=[],
        metavar="FILE",
        help="extra config file(s) on top of config/config.yaml, as given to snakemake (repeatable)",
    )
    audit.add_argument(
        "--config",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="config overrides, as given to snakemake --config (repeatable)",
    )
    audit.add_argument(
        "--cores", type=int, default=2, help="--cores in the rebuild commands (default 2)"
    )
    audit.add_argument("--json", action="store_true", help="machine-readable output")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from paperclaims.audit import Auditor, format_text

    # snakemake --configfile takes several files after one flag; accept "a.yaml b.yaml" too
    configfiles = [f for item in args.configfile for f in item.split()]
    configfiles = [f for f in configfiles if f != "config/config.yaml"] or []
    try:
        report = Auditor(args.directory, configfiles, args.config, cores=args.cores).run()
    except (ConfigError, ValueError, RuntimeError, OSError) as err:
        print(f"paperclaims audit: {err}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(report.to_json(), indent=2, default=str))
    else:
        print(format_text(report))
    return 1 if report.faults else 0


if __name__ == "__main__":
    sys.exit(main())
