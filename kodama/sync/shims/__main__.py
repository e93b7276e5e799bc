import sys

from kodama.sync.shims import main

sys.exit(main())
