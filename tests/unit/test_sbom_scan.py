"""bslim as a BuildKit SBOM generator, on a fake rootfs: what it lists, how, and the protocol."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from buildkit_slim import entry, sbom, sbom_scan
from buildkit_slim.docker import BakeRequest
from buildkit_slim.resources import origins as shim
from tests.unit.conftest import WriteProject
from tests.unit.test_sbom import spdx_problems

SPARK = ('[project]\nname = "spark"\nversion = "1.0"\n'
         'scripts = { spark = "spark:main" }\n\n[tool.slim]\n')
SITE = "usr/local/lib/python3.13/site-packages"


def dist(root: Path, name: str, version: str, *, record: dict[str, str] | None = None,
         extra: str = "") -> Path:
    info = root / SITE / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.4\nName: {name}\nVersion: {version}\n"
                                   f"{extra}\n")
    if record is not None:
        (info / shim.ORIGIN_FILE).write_text(json.dumps(record))
    return info


@pytest.fixture
def rootfs(tmp_path: Path) -> Path:
    root = tmp_path / "rootfs"
    dist(root, "six", "1.17.0", extra="License: MIT", record={
        "wheel": "six-1.17.0-py2.py3-none-any.whl", "sha256": "4" * 64, "origin": "downloaded",
        "how": "pure-Python wheel downloaded from the package index",
        "platform": "linux/arm/v7"})
    dist(root, "tinyext", "0.1.0", extra="License-Expression: mit", record={
        "wheel": "tinyext-0.1.0-cp313-cp313-linux_armv7l.whl", "sha256": "e" * 64,
        "origin": "compiled", "how": "cross-compiled on the build platform (linux/amd64)",
        "platform": "linux/arm/v7"})
    dist(root, "e2eapp", "0.3.0", record={
        "wheel": "e2eapp-0.3.0-py3-none-any.whl", "sha256": "a" * 64, "origin": "project",
        "how": "built on the build platform (linux/amd64) from its source",
        "platform": "linux/arm/v7"})
    dist(root, "pip", "25.3")  # the base image's: no record
    (root / SITE / "not-a-dist.dist-info").mkdir()  # no METADATA: not a distribution
    return root


def test_lists_every_distribution_with_what_its_record_says(rootfs: Path) -> None:
    statement = sbom_scan.scan(rootfs, tool="bslim-test")
    assert statement["predicateType"] == "https://spdx.dev/Document"
    assert statement["_type"] == "https://in-toto.io/Statement/v0.1"
    doc = statement["predicate"]
    assert isinstance(doc, dict)
    assert sbom.installed(doc) == [("e2eapp", "0.3.0"), ("pip", "25.3"), ("six", "1.17.0"),
                                   ("tinyext", "0.1.0")]
    packages = {p["name"]: p for p in doc["packages"] if "versionInfo" in p}
    assert packages["six"]["checksums"] == [{"algorithm": "SHA256", "checksumValue": "4" * 64}]
    assert packages["six"]["licenseDeclared"] == "MIT"
    assert packages["six"]["sourceInfo"].startswith("downloaded: ")
    assert packages["tinyext"]["licenseDeclared"] == "MIT"  # canonicalized
    assert packages["tinyext"]["packageFileName"].endswith("linux_armv7l.whl")
    assert packages["e2eapp"]["primaryPackagePurpose"] == "APPLICATION"
    assert packages["pip"]["sourceInfo"].startswith("base: ")
    assert "checksums" not in packages["pip"] and "packageFileName" not in packages["pip"]
    refs = [r["referenceLocator"] for r in packages["six"]["externalRefs"]]
    assert refs == ["pkg:pypi/six@1.17.0?file_name=six-1.17.0-py2.py3-none-any.whl"]
    assert doc["name"] == "e2eapp linux/arm/v7"


def test_the_document_is_valid_spdx_2_3(rootfs: Path, tmp_path: Path) -> None:
    doc = sbom_scan.scan(rootfs, tool="bslim-test")["predicate"]
    assert isinstance(doc, dict)
    assert spdx_problems(doc, tmp_path) == []


def test_same_rootfs_same_bytes(rootfs: Path, tmp_path: Path) -> None:
    first = sbom_scan.write(rootfs, tmp_path / "a", {}).read_bytes()
    assert sbom_scan.write(rootfs, tmp_path / "b", {}).read_bytes() == first
    assert first.endswith(b"}\n")
    dist(rootfs, "idna", "3.10")
    assert sbom_scan.write(rootfs, tmp_path / "c", {}).read_bytes() != first


def test_bare_bslim_under_the_protocol_writes_the_scan(
        rootfs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What BuildKit runs: the image's entrypoint (`bslim`, no arguments) with the rootfs at
    $BUILDKIT_SCAN_SOURCE; the statement must land in $BUILDKIT_SCAN_DESTINATION."""
    out = tmp_path / "out"
    monkeypatch.setenv("BUILDKIT_SCAN_SOURCE", str(rootfs))
    monkeypatch.setenv("BUILDKIT_SCAN_DESTINATION", str(out))
    with pytest.raises(SystemExit) as exited:
        entry.main([])
    assert exited.value.code == 0
    written = json.loads((out / sbom_scan.SCAN_FILE).read_text())
    assert sbom.installed(written["predicate"])[2] == ("six", "1.17.0")


def test_bare_bslim_without_the_protocol_is_still_the_help(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("BUILDKIT_SCAN_SOURCE", raising=False)
    monkeypatch.setenv("BUILDKIT_SCAN_DESTINATION", "/nonexistent")  # one is not enough
    with pytest.raises(SystemExit) as exited:
        entry.main([])
    assert exited.value.code == 2
    assert "Usage" in capsys.readouterr().err
    assert not Path("/nonexistent").exists()


def test_install_records_each_wheel_and_its_origin(tmp_path: Path) -> None:
    """The install step's recorder, on pip's installation report and a fetch report."""
    lib, wheels, fetched = tmp_path / "site", tmp_path / "wheels", tmp_path / "fetched"
    wheels.mkdir()
    for name, version, tag in (("six", "1.17.0", "py2.py3-none-any"),
                               ("tinyext", "0.1.0", "cp313-cp313-linux_armv7l"),
                               ("e2eapp", "0.3.0", "py3-none-any")):
        (wheels / f"{name}-{version}-{tag}.whl").write_bytes(f"{name} wheel".encode())
        info = lib / f"{name}-{version}.dist-info"
        info.mkdir(parents=True)
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\n"
                                       f"Version: {version}\n\n")
        (info / "RECORD").write_text(f"{info.name}/METADATA,,\n")
    (fetched / "deps").mkdir(parents=True)
    (fetched / "project").mkdir()
    (fetched / "deps" / "report.json").write_text(json.dumps([
        {"name": "six", "version": "1.17.0", "kind": "pure", "built": False,
         "file": "six-1.17.0-py2.py3-none-any.whl"},
        {"name": "tinyext", "version": "0.1.0", "kind": "compile", "built": True,
         "how": "emulated", "why": "the gate said no", "file": "x.whl"}]))
    (fetched / "project" / "report.json").write_text(json.dumps([
        {"name": "e2eapp", "version": "0.3.0", "kind": "pure", "built": True,
         "file": "e2eapp-0.3.0-py3-none-any.whl"}]))
    report = {"install": [
        {"metadata": {"name": n, "version": v},
         "download_info": {"url": f"file://{wheels}/{w.name}"}}
        for w in sorted(wheels.glob("*.whl")) for n, v in [w.name.split("-")[:2]]]}
    shim.record_origins(report, {lib}, fetched, "e2eapp", None)
    records = {p.parent.name.split("-")[0]: json.loads(p.read_text())
               for p in lib.glob(f"*/{shim.ORIGIN_FILE}")}
    assert records["six"]["origin"] == "downloaded"
    assert records["six"]["wheel"] == "six-1.17.0-py2.py3-none-any.whl"
    import hashlib
    assert records["six"]["sha256"] == hashlib.sha256(b"six wheel").hexdigest()
    assert records["tinyext"]["origin"] == "compiled"
    assert "not cross-compiled: the gate said no" in records["tinyext"]["how"]
    assert records["e2eapp"]["origin"] == "project"
    record = (lib / "six-1.17.0.dist-info" / "RECORD").read_text().splitlines()
    assert record[-1].startswith(f"six-1.17.0.dist-info/{shim.ORIGIN_FILE},sha256=")


def test_bake_sbom_attests_each_target_with_the_generator(
        write_project: WriteProject, monkeypatch: pytest.MonkeyPatch) -> None:
    from buildkit_slim import apply

    root = write_project(SPARK)
    seen: list[BakeRequest] = []
    monkeypatch.setattr(apply, "run_bake", lambda request, **_: seen.append(request))
    lines = apply.build((), (), apply.BuildChoices(project=root, push=True,
                                                   sbom="127.0.0.1:5000/acme/bslim:1"),
                        env={}, warn=lambda _: None)
    assert lines[0].startswith("built spark")
    overrides = seen[0].overrides or {}
    assert overrides["spark.attest"] == "type=sbom,generator=127.0.0.1:5000/acme/bslim:1"
    # The install step records origins only then (the build arg its Dockerfile declares).
    assert (seen[0].override or {})["target"]["spark"]["args"] == {shim.SBOM_ARG: "1"}
    apply.build((), (), apply.BuildChoices(project=root, push=True), env={},
                warn=lambda _: None)
    assert "args" not in (seen[1].override or {})["target"]["spark"]


def test_the_install_records_origins_only_for_an_sbom(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without `bake --sbom` the install step writes no record: it names each wheel's sha256,
    and a wheel built in the build (the project's) differs per build unless --reproducible,
    so an image with it would too (tests/e2e/test_reproducible.py's pure project)."""
    calls: list[list[str]] = []

    def install(extra: list[str]) -> int:
        calls.append(extra)
        return 0

    paths = {"purelib": str(tmp_path / "lib"), "platlib": str(tmp_path / "lib")}
    monkeypatch.delenv(shim.SBOM_ARG, raising=False)
    assert shim.recorded(install, paths, tmp_path / "fetched", "app", None)() == 0
    assert calls == [[]]
    monkeypatch.setenv(shim.SBOM_ARG, "1")
    with pytest.raises(FileNotFoundError):  # pip's report, which this fake install never wrote
        shim.recorded(install, paths, tmp_path / "fetched", "app", None)()
    assert calls[1][0] == "--report"


@pytest.mark.parametrize(("sbom_ref", "export", "message"), [
    ("ghcr.io/a/b:1,push=true", False, "--sbom: 'ghcr.io/a/b:1,push=true' is not an image"),
    ("", False, "--sbom: '' is not an image"),
    ("ghcr.io/a/b:1", True, "--sbom attaches an SBOM to images; --export-wheels"),
    ("ghcr.io/a/b:1", None, "--sbom: spark installs with pip on the target"),
])
def test_bake_sbom_refuses_what_buildx_would_misread(
        write_project: WriteProject, tmp_path: Path, sbom_ref: str, export: bool | None,
        message: str) -> None:
    from buildkit_slim import apply
    from buildkit_slim.errors import UsageError

    root = write_project(SPARK + ("fast-wheels = false\n" if export is None else ""))
    choices = apply.BuildChoices(project=root, sbom=sbom_ref,
                                 export_wheels=tmp_path / "w" if export else None)
    with pytest.raises(UsageError) as raised:
        apply.build((), (), choices, env={}, warn=lambda _: None)
    assert raised.value.message.startswith(message)
    assert not (root / "bake").exists()  # nothing written
