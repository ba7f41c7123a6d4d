"""``python -m vaquero`` is the ``vaquero`` command."""

import sys

from vaquero.cli import main

sys.exit(main())
