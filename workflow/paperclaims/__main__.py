"""``python -m paperclaims audit …``"""

import sys

from paperclaims.cli import main

sys.exit(main())
