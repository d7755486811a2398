"""The plugin's settings: admins edit them on Admin → Plugins; read with
``community.plugins.settings("moderation")``."""

from __future__ import annotations

from dataclasses import dataclass, field


def _help(text: str) -> dict[str, str]:
    return {"help": text}


@dataclass
class Settings:
    flag_threshold: float = field(
        default=3.0, metadata=_help("Flag score at which a post is hidden until reviewed.")
    )
    staff_flag_weight: float = field(
        default=3.0, metadata=_help("How much a moderator's flag counts (a member's: 1).")
    )
    flags_per_hour: int = field(default=10, metadata=_help("Flags one member may raise an hour."))
    approve_first_posts: int = field(
        default=1, metadata=_help("A new member's first posts held for approval.")
    )
    bypass_groups: str = field(
        default="", metadata=_help("Groups (comma-separated) whose posts are never pre-approved.")
    )
    unanswered_hours: int = field(
        default=24, metadata=_help("A thread with no reply this long lands in the inbox.")
    )
    new_member_days: int = field(
        default=3, metadata=_help("Members younger than this are new (spam limits apply).")
    )
    new_member_posts: int = field(default=5, metadata=_help("...or with fewer posts than this."))
    new_member_links: int = field(default=2, metadata=_help("Links a new member may post at once."))
    new_member_mentions: int = field(
        default=3, metadata=_help("Members a new member may mention at once.")
    )
    duplicate_minutes: int = field(
        default=60, metadata=_help("The same text posted again within this is held.")
    )
    posts_per_minute: int = field(
        default=6, metadata=_help("Posts one member may write a minute (then: wait).")
    )
    first_post_seconds: int = field(
        default=20, metadata=_help("A first post this soon after joining is held.")
    )
    reject_points: int = field(
        default=1, metadata=_help("Penalty points for a post rejected as spam or abuse.")
    )
    warning_points: int = field(default=1, metadata=_help("Penalty points of a warning."))
    points_days: int = field(default=90, metadata=_help("Days after which points expire."))
    silence_points: int = field(
        default=2, metadata=_help("Points that silence a member automatically.")
    )
    suspend_points: int = field(
        default=4, metadata=_help("Points that suspend a member automatically.")
    )
    silence_days: int = field(default=7, metadata=_help("Length of an automatic silence."))
    suspend_days: int = field(default=30, metadata=_help("Length of an automatic suspension."))
