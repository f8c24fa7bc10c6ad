"""``python -m jupyter_resumechat doctor``: the same as ``jupyter resumechat doctor``."""

import sys

from .doctor import main

sys.exit(main())
