"""References to a target's own image (pure): bare tags, `<image>:<tag>`, `<image>@<digest>`.

Decision where the issue was silent: a full reference given to `merge --tag` or
`release --from` must name the target's own repository: pushing or copying another
repository's image under this name is the mistake this tool exists to prevent.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from buildkit_slim.errors import UsageError
from buildkit_slim.oci import check_tag
from buildkit_slim.tag_grammar import TAG_RE

DIGEST_RE = re.compile(r"sha256:[a-f0-9]{64}")
OWN_REPO = {
    "--tag": "give bare tags (e.g. --tag 1.4.2): they go onto the target's image",
    "--from": "a release only retags images of the target's own repository",
}


def final_tags(image: str, tags: Sequence[str], default: str, option: str = "--tag") -> tuple[
        str, ...]:
    """Full references for the final tags: bare tags go onto `image`; full references must name
    `image` itself (pushing one service under another's name is refused)."""
    out: list[str] = []
    for tag in tags or [default]:
        if "@" in tag:
            raise UsageError(f"{option}: {tag!r} is a digest reference; give a tag such as 1.4.2")
        ref = f"{image}:{tag_on(image, tag, option)}"
        if ref not in out:
            out.append(ref)
    return tuple(out)


def tag_on(image: str, value: str, option: str) -> str:
    """The tag of `value`, a bare tag or `<image>:<tag>` of this very image."""
    if TAG_RE.fullmatch(value):
        return value
    repo, sep, bare = value.rpartition(":")
    if not sep or "/" in bare or not repo:
        raise UsageError(f"{option}: {value!r} is neither a tag nor <image>:<tag> (a tag has "
                         "letters, digits, '_', '.', '-'; at most 128)")
    if repo != image:
        raise UsageError(f"{option}: {value!r} is in repository {repo!r}, not the target's "
                         f"image {image!r}", hint=OWN_REPO.get(option))
    return check_tag(bare, option)
