from chainproof.cli.app import main

raise SystemExit(main())
