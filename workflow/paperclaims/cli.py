"""Command line: ``paperclaims audit`` and ``paperclaims new-claim NAME`` (also ``python -m paperclaims ...``)."""

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
    new = sub.add_parser(
        "new-claim",
        help="write the files a new claim needs (registry entry, stub steps, schema, notebook, ...)",
        description=(
            "Write claim NAME's package (registry entry, stub train and analysis steps that raise "
            "NotImplementedError), schema, notebook, report caption, config entries, config/README.md "
            "section and test. Nothing else needs editing: see docs/adding-a-claim.md."
        ),
    )
    new.add_argument("name", help="the claim's name: lower-case letters and digits")
    new.add_argument("--root", default=".", help="the paperclaims checkout (default: current)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "new-claim":
        return _new_claim(args.name, args.root)
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


def _new_claim(name: str, root: str) -> int:
    from paperclaims.scaffold import new_claim

    try:
        written = new_claim(name, root)
    except ValueError as err:
        print(f"paperclaims new-claim: {err}", file=sys.stderr)
        return 2
    print(f"claim {name!r}: wrote or extended")
    for path in written:
        print(f"  {path}")
    print(
        f"next: fill in the steps (docs/adding-a-claim.md), then: snakemake -n --config 'claims=[\"{name}\"]'"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
