"""Avatars drawn by the sandbox itself, so the demo never names an external host."""

import hashlib

from django.http import HttpRequest, HttpResponse

_COLOURS = ("#0068ff", "#00a884", "#f5a623", "#d0021b", "#7b61ff", "#0aa0c8", "#e0548e")


def initials(key: str) -> str:
    """Two letters for a key: first and last word ("nguyen-van-son" -> "NS")."""
    words = [w for w in key.split("-") if w]
    if not words:
        return "?"
    letters = words[0][0] + (words[-1][0] if len(words) > 1 else "")
    return letters.upper()


def svg(key: str, size: int = 240) -> str:
    colour = _COLOURS[hashlib.sha256(key.encode()).digest()[0] % len(_COLOURS)]
    # The key comes from the URL pattern ([-a-zA-Z0-9_]), so it needs no escaping.
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}" '
        f'viewBox="0 0 100 100"><rect width="100" height="100" rx="50" fill="{colour}"/>'
        '<text x="50" y="50" dy="0.35em" text-anchor="middle" font-family="sans-serif" '
        f'font-size="40" fill="#fff">{initials(key)}</text></svg>'
    )


def avatar(request: HttpRequest, key: str) -> HttpResponse:
    try:
        size = min(max(int(request.GET.get("size", "240")), 16), 1024)
    except ValueError:
        size = 240
    response = HttpResponse(svg(key, size), content_type="image/svg+xml")
    response["Cache-Control"] = "public, max-age=86400"
    return response
