"""The dependency guard: scan Python environments, archives and lock files without running them."""
