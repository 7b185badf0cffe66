"""`python -m googlenet`: the `googlenet` command."""

import sys

from googlenet.cli import main

sys.exit(main())
