import sys

from linecontrol.cli import main

sys.exit(main())
