"""URLs with credentials: found (config refuses them in every value) and redacted (no message
bslim prints shows one). Standard library only: errors.py imports it."""

from __future__ import annotations

import re

# The user information of a URL's authority (RFC 3986): `scheme://user:password@` or
# `scheme://token@`, anywhere in a string (a URL inside an argument counts too).
_USERINFO_RE = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://([^/?#\s@]*)@")
# What a message must not show: that, and `user:password@` without a scheme.
_SECRET_RE = re.compile(r"(?<=://)[^/?#\s@'\"]*@|(?<![^\s'\"(=,])[^\s'\"/@:]+:[^\s'\"/@]*@")


def has_credentials(text: str) -> bool:
    """Whether `text` holds a URL with credentials in its authority; `ssh://git@host` names a
    user, no secret."""
    return any(not (scheme.lower().endswith("ssh") and ":" not in userinfo)
               for scheme, userinfo in _USERINFO_RE.findall(text))


def redact(text: str) -> str:
    """`text` with the credentials of any URL in it replaced by `***`: messages echo values."""
    return _SECRET_RE.sub("***@", text)
