"""(being written)"""

from __future__ import annotations

from community_analytics.reports import Definition

REPORTS: list[Definition] = []
