"""Engagement analytics: visits, daily rollups and reports (see ``reports``)."""
