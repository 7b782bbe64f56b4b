"""The look every HTML report shares, so a validation file's pages read as one document."""

from __future__ import annotations

import html

BASE_CSS = """\
body { font-family: sans-serif; max-width: 1100px; margin: 2em auto; color: #222; }
table { border-collapse: collapse; margin-bottom: 1.5em; }
th, td { border: 1px solid #ccc; padding: 4px 10px; text-align: left; vertical-align: top; }
th { background: #f3f3f3; font-weight: normal; }
.examples { display: flex; flex-wrap: wrap; gap: 12px; }
figure { margin: 0; font-size: 0.8em; }
"""
"""Page, tables and example figures; a page adds its own rules after it."""


def page_style(extra: str = "") -> str:
    """A ``<style>`` element: :data:`BASE_CSS` then the page's ``extra`` rules."""
    return f"<style>\n{BASE_CSS}{extra.strip()}\n</style>"


def page_head(title: str, extra_css: str = "") -> str:
    """Everything up to ``<body>``: doctype, charset, the escaped ``title`` and the style."""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{html.escape(title)}</title>
{page_style(extra_css)}</head><body>"""
