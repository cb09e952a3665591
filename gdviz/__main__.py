import sys

from gdviz.cli import main

sys.exit(main())
