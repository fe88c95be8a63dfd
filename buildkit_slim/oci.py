"""The OCI tag rule, one for every command that takes a tag from the user: `bake --tag` and
`$TAG`, `merge --tag`, `--staging`'s staging tag (the grammar itself is config.TAG_RE)."""

from __future__ import annotations

from buildkit_slim.config import TAG_RE
from buildkit_slim.errors import UsageError


def check_tag(value: str, option: str) -> str:
    """`value` when it is a valid OCI tag, matched in full (a trailing newline does not pass);
    else the error naming `option`."""
    if not TAG_RE.fullmatch(value):
        raise UsageError(f"{option}: {value!r} is not a valid OCI tag (letters, digits, '_', "
                         "'.', '-', not starting with '.' or '-'; at most 128)")
    return value
