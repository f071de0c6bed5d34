from chainproof.cli.start import run

raise SystemExit(run())
