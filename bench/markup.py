"""How long rendering a worst-case 32,000-character post takes: `python bench/markup.py`."""

from __future__ import annotations

import time

from community.forum.markup import render

CASES = {
    "plain prose": "The quick brown fox jumps over the lazy dog. ",
    "autolink storm": "<http://",
    "quote nesting": ">",
    "mentions": "@alice ",
    "bare urls": "http://x.example/ ",
    "bracket flood": "![",
    "emphasis flood": "*_",
}


def main() -> None:
    print(f"{'case':<16} {'ms':>8}")
    for name, unit in CASES.items():
        source = (unit * 32_000)[:32_000]
        started = time.perf_counter()
        render(source, {"alice"})
        print(f"{name:<16} {(time.perf_counter() - started) * 1000:8.1f}")


if __name__ == "__main__":
    main()
