"""``python -m musictag``: the ``musictag`` command."""

import sys

from musictag.cli.main import main

sys.exit(main())
