"""Reading buildx's plain output after a failed build (docker.py's pure helpers; the tripwire
keeps python_on_whales out, and these never import it)."""

from __future__ import annotations

import collections
from collections.abc import Callable
from pathlib import Path

import pytest

from buildkit_slim import docker
from buildkit_slim.docker import BakeRequest, build_failure, transient_push_error
from buildkit_slim.errors import BuildFailed

# From a real run: Docker 26.1's pusher wrote one tag from several requests at once and
# registry 2.8 answered one of its HEADs with 500.
PUSH_500 = [
    "#51 pushing 127.0.0.1:5000/bslim-e2e/cached:e2e with docker",
    "#51 pushing layer a7d33c98cc28 done",
    "#51 ERROR: unexpected status from HEAD request to "
    "http://127.0.0.1:5000/v2/bslim-e2e/cached/manifests/e2e: 500 Internal Server Error",
    "------",
    "ERROR: unexpected status from HEAD request to "
    "http://127.0.0.1:5000/v2/bslim-e2e/cached/manifests/e2e: 500 Internal Server Error",
]


def test_a_registry_5xx_while_pushing_is_transient() -> None:
    assert transient_push_error(PUSH_500) == (
        "http://127.0.0.1:5000/v2/bslim-e2e/cached/manifests/e2e: 500 Internal Server Error")


@pytest.mark.parametrize("line", [
    # the registry refused: retrying changes nothing
    "#51 ERROR: unexpected status from PUT request to http://r/v2/x/manifests/1: "
    "401 Unauthorized",
    "#51 ERROR: unexpected status from HEAD request to http://r/v2/x/manifests/1: "
    "404 Not Found",
    # a failed step: not the registry's doing
    "#27 ERROR: process \"/bin/sh -c pip wheel\" did not complete successfully: exit code: 1",
])
def test_other_failures_are_not(line: str) -> None:
    assert transient_push_error(["#51 [linux/amd64 fetch 6/6] RUN x", line]) is None


def test_the_failure_still_names_the_push_step() -> None:
    failure = build_failure(PUSH_500, 1)
    assert "500 Internal Server Error" in str(failure)


@pytest.mark.parametrize(("push", "failures", "calls", "fails"), [
    (True, 1, 2, False),   # the registry failed once: pushed once more, done
    (True, 2, 2, True),    # twice: the failure stands
    (False, 1, 1, True),   # not a push: no second try
])
def test_a_push_the_registry_failed_is_tried_once_more(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, push: bool, failures: int, calls: int,
        fails: bool) -> None:
    attempts: list[int] = []

    def once(request: BakeRequest, write: Callable[[str], None],
             lines: collections.deque[str]) -> None:
        attempts.append(1)
        if len(attempts) <= failures:
            lines.extend(PUSH_500)
            raise build_failure(PUSH_500, 1)

    monkeypatch.setattr(docker, "_bake_once", once)
    written: list[str] = []
    request = BakeRequest(project_root=tmp_path, files=("bake/docker-bake.json",), push=push)
    if fails:
        with pytest.raises(BuildFailed):
            docker.bake(request, written.append)
    else:
        docker.bake(request, written.append)
    assert len(attempts) == calls
    assert (written == ["bslim: the registry failed the push (http://127.0.0.1:5000/v2/"
                        "bslim-e2e/cached/manifests/e2e: 500 Internal Server Error); pushing "
                        "once more"]) == (push and calls == 2)
