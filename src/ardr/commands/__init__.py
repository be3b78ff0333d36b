"""Sub-commands of ``ardr``; each module has ``add_parser(subparsers)`` and ``run(args)``."""
