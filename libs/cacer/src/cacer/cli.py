"""The `cer` command: `cer settle --input scenario.json [--format json|table] [--hours]`.

Exit status: 0 settled; 2 the input cannot be settled (one line per problem on stderr, each
naming its JSON path); 1 an internal error (one line, never a traceback).
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from cacer.report import settlement_json, settlement_table
from cacer.scenario import ScenarioError, parse_scenario
from cacer.settlement import settle

EXIT_INVALID_INPUT = 2
EXIT_INTERNAL_ERROR = 1


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:
        self.print_usage(sys.stderr)
        print(f"cer: {message}", file=sys.stderr)
        raise SystemExit(EXIT_INVALID_INPUT)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="cer", description="Italian CER (CACER) settlement tools.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    settle_cmd = commands.add_parser(
        "settle", help="settle a scenario: shared energy, TIP, refund, excess, distribution"
    )
    settle_cmd.add_argument(
        "--input", required=True, help="scenario JSON file (see scenario.schema.json), or -"
    )
    settle_cmd.add_argument("--format", choices=("json", "table"), default="json")
    settle_cmd.add_argument("--hours", action="store_true", help="add the hour-by-hour detail")
    return parser


def _load(path: str) -> Any:
    if path == "-":
        return json.load(sys.stdin)
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def _fail(lines: Sequence[str], stream: TextIO = sys.stderr) -> int:
    for line in lines:
        print(line, file=stream)
    return EXIT_INVALID_INPUT


def run(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        document = _load(args.input)
    except OSError as e:
        return _fail([f"input: cannot read {args.input}: {e.strerror or e}"])
    except UnicodeDecodeError as e:
        return _fail([f"input: not UTF-8 text: {e.reason}"])
    except json.JSONDecodeError as e:
        return _fail([f"input: invalid JSON at line {e.lineno} column {e.colno}: {e.msg}"])
    # The document is read-only from here on: keep the collector from rescanning its millions of
    # objects each time the parser allocates.
    gc.freeze()
    try:
        settlement = settle(parse_scenario(document))
    except ScenarioError as e:
        return _fail([str(p) for p in e.problems])
    if args.format == "table":
        sys.stdout.write(settlement_table(settlement, hours=args.hours))
    else:
        json.dump(settlement_json(settlement, hours=args.hours), sys.stdout, indent=2)
        sys.stdout.write("\n")
    return 0


def main(argv: Sequence[str] | None = None) -> None:
    try:
        status = run(argv)
    except KeyboardInterrupt:
        status = 130
    except BrokenPipeError:
        status = 0
    except Exception as e:  # the promise is one line, never a traceback
        print(f"cer: internal error: {type(e).__name__}: {e}", file=sys.stderr)
        status = EXIT_INTERNAL_ERROR
    raise SystemExit(status)
