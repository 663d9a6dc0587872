"""HTTP surfaces. Each API is its own router module; this package only parses and renders."""
