import sys

from fairrec.cli import main

sys.exit(main())
