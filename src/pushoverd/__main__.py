from pushoverd.cli import main

raise SystemExit(main())
