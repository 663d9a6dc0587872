"""vigil: the observability stack of a small VM, in one Python process."""

__version__ = "0.1.0"
