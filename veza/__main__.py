from veza.cli import main

raise SystemExit(main())
