import sys

from serendip.cli import main

sys.exit(main())
