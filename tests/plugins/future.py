"""Needs a plugin API this server does not have: refused, not crashed on."""

from __future__ import annotations

from community.plugins import Manifest

MANIFEST = Manifest(name="future", version="9.0", description="From the future.", api=">=2.0")
