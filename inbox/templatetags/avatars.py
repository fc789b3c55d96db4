"""How a person without a photo is shown: their initials (the header and the drawer alike)."""

from __future__ import annotations

from django import template

register = template.Library()


@register.filter
def initials(name: str) -> str:
    """Up to two initials from the words of a name that start with a letter ("?" for none),
    so an avatar is never an empty circle."""
    name = name or ""
    parts = [part for part in name.split() if part[:1].isalpha()]
    letters = "".join(part[0] for part in parts[:2]).upper()
    return letters or (name[:1].upper() if name.strip() else "?")
