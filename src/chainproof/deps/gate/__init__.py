"""The pre-install gate: resolve wheels only, check the index, download, scan, and only then install."""
