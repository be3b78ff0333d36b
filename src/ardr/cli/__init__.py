"""The ``ardr`` command: ``embed``, ``transform``, ``reproduce``, ``compare``, ``explain``; ``--version``.

Each sub-command lives in ``ardr.cli.<name>`` with ``add_parser(subparsers)`` and
``run(args)``. Errors print one line ("ardr: error: ...") and exit 1; bad usage exits 2.
"""

import argparse
import importlib
import sys
import warnings

COMMANDS = ("embed", "transform", "reproduce", "compare", "explain")


def _parser():
    from .. import __version__

    parser = argparse.ArgumentParser(prog="ardr", description="Attraction/repulsion dimensionality reduction.")
    parser.add_argument("--version", action="version", version=f"ardr {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    modules = {}
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"ardr.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"ardr.cli.{name}":
                continue  # not part of this installation
            raise
        module.add_parser(sub)
        modules[name] = module
    return parser, modules


def main(argv=None):
    parser, modules = _parser()
    args = parser.parse_args(argv)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("default")
            modules[args.command].run(args)
    except (ValueError, OSError, FloatingPointError, MemoryError) as exc:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        print(f"ardr: error: {message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("ardr: interrupted; nothing written", file=sys.stderr)
        return 130
    return 0

