import sys

from equibench.cli import main

sys.exit(main())
