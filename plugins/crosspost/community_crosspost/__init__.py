"""Cross-posting: share threads to Mastodon, Bluesky, Discord, Slack and signed webhooks."""
