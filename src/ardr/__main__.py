"""``python -m ardr ...`` runs the ``ardr`` command (also under ``torchrun -m ardr``)."""

import sys

from .cli import main

sys.exit(main())
