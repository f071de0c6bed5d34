"""Small I/O helpers shared across the package; not part of the public API."""
