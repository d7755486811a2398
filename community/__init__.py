"""community: a self-hosted, invite-only community forum."""

from community.hookspecs import hookimpl

__version__ = "0.1.0"
__all__ = ["__version__", "hookimpl"]
