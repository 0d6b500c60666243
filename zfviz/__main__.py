import sys

from zfviz.cli import main

sys.exit(main())
