import sys

from googlenet.cli import main

sys.exit(main())
