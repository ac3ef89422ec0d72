"""`python -m floatnet` is the `floatnet` console script."""

import sys

from floatnet.entry import main

sys.exit(main())
