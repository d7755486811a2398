"""Beta programs for community: private spaces with participants, terms and feature flags."""
