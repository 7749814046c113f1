"""``python -m kolokol`` is the ``kolokol`` command (``kolokol dev`` starts its children so)."""

import sys

from kolokol.cli import main

sys.exit(main())
