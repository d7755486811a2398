"""The moderation plugin: built only on community's public plugin API."""
