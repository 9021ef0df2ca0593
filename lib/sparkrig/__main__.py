from sparkrig.cli import main

raise SystemExit(main())
