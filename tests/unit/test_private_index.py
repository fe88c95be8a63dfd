"""Private indexes: credentials never in config or generated files; a netrc comes in at build
time as a BuildKit secret, mounted only on the steps that reach an index (#10)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from buildkit_slim.config import load
from buildkit_slim.load import load as load_blueprint
from buildkit_slim.render import render_all
from tests.unit.conftest import WriteProject
from tests.unit.regen_golden import GOLDEN, cases
from tests.unit.test_apply import NO_CACHE, PUBLISH, override_of, request_of
from tests.unit.test_cli import run

NETRC = "--mount=type=secret,id=netrc"
CA = "--mount=type=secret,id=ca"


def runs(dockerfile: str) -> list[str]:
    """Each RUN instruction with its continuation lines, as one string."""
    out: list[str] = []
    current: list[str] | None = None
    for line in dockerfile.splitlines():
        if current is None and line.startswith("RUN "):
            current = []
        if current is not None:
            current.append(line)
            if not line.endswith("\\"):
                out.append("\n".join(current))
                current = None
    return out


@pytest.mark.parametrize("case", cases(), ids=lambda c: c.name)
def test_the_netrc_is_mounted_exactly_where_an_index_is_reached(case: Path) -> None:
    the_blueprint = load_blueprint(case)[1]
    for generated in render_all(the_blueprint):
        if generated.path.endswith("docker-bake.json"):
            assert "netrc" not in generated.text and "secret" not in generated.text
            continue
        if not generated.path.endswith("Dockerfile"):
            continue
        steps = runs(generated.text)
        with_netrc = [s for s in steps if NETRC in s]
        assert with_netrc, "some step reaches an index"
        for step in steps:
            # The CA bundle and the netrc go together: both are what an index needs.
            assert (NETRC in step) == (CA in step), step
            if NETRC in step:
                assert "export NETRC=/run/secrets/netrc" in step
                assert "pip" in step or "pip_for_target.py" in step
            if "pip_for_target.py compile" in step:
                # The compile itself reaches no index, its fallback to pip's build isolation
                # does: the secrets are mounted for it (correct before fast).
                assert NETRC in step
        for line in generated.text.splitlines():
            if line.startswith(("ENV ", "ARG ", "LABEL ")):
                assert "netrc" not in line.lower(), line


def test_the_netrc_goes_into_the_per_run_override_only(
        write_project: WriteProject, tmp_path: Path) -> None:
    netrc = tmp_path / "netrc"
    request = request_of(write_project, PUBLISH, netrc=netrc, ca_bundle=tmp_path / "ca.pem")
    secrets = [f"id=ca,src={(tmp_path / 'ca.pem').resolve()}", f"id=netrc,src={netrc.resolve()}"]
    assert override_of(request) == {"spark": {"secret": secrets},
                                    "spark-wheels": {"secret": secrets}}


def test_a_netrc_alone(write_project: WriteProject, tmp_path: Path) -> None:
    request = request_of(write_project, NO_CACHE, netrc=tmp_path / "n")
    assert override_of(request) == {"spark": {"secret": [f"id=netrc,src={tmp_path / 'n'}"]}}


def test_a_missing_netrc_is_a_usage_error(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    project = GOLDEN / "minimal"
    result = run(capsys, "bake", "--project", str(project), "--netrc", str(tmp_path / "nope"))
    assert result.code == 2
    assert result.err_lines == [f"error: --netrc: {tmp_path / 'nope'} is not a file"]


def test_the_credentials_hint_names_the_netrc(write_project: WriteProject) -> None:
    root = write_project('[project]\nname = "p"\ndependencies = ["x @ https://u:p@h.org/x.whl"]\n'
                         '[project.scripts]\np = "p:m"\n[tool.slim]\n')
    from buildkit_slim.errors import ConfigError
    with pytest.raises(ConfigError) as info:
        load(root)
    assert info.value.problems == (
        "project.dependencies[0]: x @ <url>: the URL holds credentials, which would be written "
        "into the generated Dockerfile; remove them and pass them at build time as a secret: "
        "bslim bake --netrc FILE",)
    assert json.dumps(info.value.problems).count("u:p") == 0
