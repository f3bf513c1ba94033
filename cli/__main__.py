from talos_platform.main import main

raise SystemExit(main())
