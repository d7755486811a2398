"""community: a self-hosted, invite-only community forum."""

__version__ = "0.1.0"
