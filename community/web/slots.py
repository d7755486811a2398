"""Named places in the core's pages where plugins add HTML (the ``render_slot`` hook).

Each value says where the slot appears; ``docs/plugins.md`` lists them from here.
"""

from __future__ import annotations

from enum import Enum


class Slot(Enum):
    head = "Inside <head> of every page, after the core's stylesheets: links to plugin CSS."
    nav = "In the main navigation of every page for signed-in members, after the core links."
    home_top = "At the top of the home page and category pages, above the thread list."
    thread_header = "On a thread page, under the title and its meta line."
    post_footer = "Under each post, beside reactions and actions; context has post and thread."
    composer = "Under the reply box on a thread page; context has thread."
    profile = "On a member's profile page, under the stats; context has profile."
    admin_dashboard = "At the top of the admin pages (members, groups, settings...)."
    settings = "At the end of a member's settings page."
