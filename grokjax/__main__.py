"""`python -m grokjax` is the `grokjax` command."""

import sys

from grokjax.cli import main

sys.exit(main())
