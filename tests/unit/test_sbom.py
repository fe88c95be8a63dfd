"""The SBOM document: SPDX 2.3 as spdx-tools validates it, exact, the same bytes every time."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from buildkit_slim import sbom
from buildkit_slim.sbom import Component

COMPONENTS = (
    Component(name="MarkupSafe", version="3.0.3",
              wheel="markupsafe-3.0.3-cp313-cp313-linux_armv7l.whl", sha256="a" * 64,
              origin="compiled", how="compiled under emulation (linux/arm/v7) from "
              "markupsafe-3.0.3.tar.gz sha256:" + "c" * 64, license="BSD-3-Clause",
              download_url="https://files.pythonhosted.org/packages/markupsafe-3.0.3.tar.gz"),
    Component(name="charset_normalizer", version="3.4.4",
              wheel="charset_normalizer-3.4.4-cp313-cp313-manylinux2014_armv7l.whl",
              sha256="d" * 64, origin="downloaded", how="binary wheel from "
              "https://pypi.org/simple", license="MIT"),
    Component(name="lockapp", version="0.1.0+local.1", wheel="lockapp-0.1.0-py3-none-any.whl",
              sha256="b" * 64, origin="project", how="built from the build context",
              license_text="Proprietary; see LICENSE"),
)


def make(components: tuple[Component, ...] = COMPONENTS, epoch: int = 1767225600
         ) -> dict[str, object]:
    return sbom.document(image="ghcr.io/acme/app", platform="linux/arm/v7",
                         components=components, tool="bslim-0.1.0", epoch=epoch)


def spdx_problems(doc: dict[str, object], tmp_path: Path) -> list[str]:
    from spdx_tools.spdx.parser.parse_anything import parse_file
    from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document

    path = tmp_path / "doc.spdx.json"
    path.write_text(sbom.render(doc), encoding="utf-8")
    return [m.validation_message for m in
            validate_full_spdx_document(parse_file(str(path)), "SPDX-2.3")]


def test_valid_spdx_2_3(tmp_path: Path) -> None:
    assert spdx_problems(make(), tmp_path) == []


def test_the_validator_is_not_a_rubber_stamp(tmp_path: Path) -> None:
    doc = make()
    packages = doc["packages"]
    assert isinstance(packages, list)
    packages[1]["checksums"] = [{"algorithm": "SHA256", "checksumValue": "not-hex"}]
    assert spdx_problems(doc, tmp_path)


def test_lists_exactly_what_was_installed() -> None:
    doc = make()
    assert sbom.installed(doc) == [("MarkupSafe", "3.0.3"), ("charset_normalizer", "3.4.4"),
                                   ("lockapp", "0.1.0+local.1")]
    packages = {p["name"]: p for p in doc["packages"]}  # type: ignore[attr-defined]
    markupsafe = packages["MarkupSafe"]
    assert markupsafe["checksums"] == [{"algorithm": "SHA256", "checksumValue": "a" * 64}]
    assert markupsafe["licenseDeclared"] == "BSD-3-Clause"
    assert markupsafe["sourceInfo"].startswith("compiled: compiled under emulation")
    assert markupsafe["packageFileName"] == "markupsafe-3.0.3-cp313-cp313-linux_armv7l.whl"
    assert markupsafe["externalRefs"] == [{
        "referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl",
        "referenceLocator": "pkg:pypi/markupsafe@3.0.3?file_name="
                            "markupsafe-3.0.3-cp313-cp313-linux_armv7l.whl"}]
    assert packages["charset_normalizer"]["externalRefs"][0]["referenceLocator"].startswith(
        "pkg:pypi/charset-normalizer@3.4.4")
    app = packages["lockapp"]
    assert app["primaryPackagePurpose"] == "APPLICATION"
    assert app["licenseDeclared"] == "NOASSERTION"
    assert app["licenseComments"] == "declared: Proprietary; see LICENSE"
    assert "pkg:pypi/lockapp@0.1.0%2Blocal.1" in app["externalRefs"][0]["referenceLocator"]
    image = packages["ghcr.io/acme/app"]
    contained = [r["relatedSpdxElement"] for r in doc["relationships"]  # type: ignore[attr-defined]
                 if r["relationshipType"] == "CONTAINS"]
    assert image["primaryPackagePurpose"] == "CONTAINER"
    assert sorted(contained) == sorted(p["SPDXID"] for p in packages.values() if p is not image)


def test_the_same_input_gives_the_same_bytes() -> None:
    shuffled = list(COMPONENTS)
    random.Random(7).shuffle(shuffled)
    first = sbom.render(make())
    assert sbom.render(make(tuple(shuffled))) == first
    assert first.endswith("}\n")
    doc = json.loads(first)
    assert doc["creationInfo"]["created"] == "2026-01-01T00:00:00Z"
    # The namespace is named by the content: another content, another namespace.
    other = make(COMPONENTS[:2])
    assert other["documentNamespace"] != doc["documentNamespace"]
    assert doc["documentNamespace"].startswith(
        "https://spdx.org/spdxdocs/bslim/ghcr.io%2Facme%2Fapp/linux-arm-v7/")


def test_without_source_date_epoch_no_wall_clock() -> None:
    assert make(epoch=0)["creationInfo"] == {"created": "1970-01-01T00:00:00Z",
                                             "creators": ["Tool: bslim-0.1.0"]}


def test_in_toto_statement_for_buildkit() -> None:
    doc = make()
    statement = sbom.statement(doc)
    assert statement["_type"] == "https://in-toto.io/Statement/v0.1"
    assert statement["predicateType"] == "https://spdx.dev/Document"
    assert statement["predicate"] is doc


def test_unknown_origin_is_refused() -> None:
    bad = Component(name="x", version="1", wheel="x-1-py3-none-any.whl", sha256="e" * 64,
                    origin="magic", how="?")
    with pytest.raises(ValueError, match="unknown origin for x"):
        make((bad,))


@pytest.mark.parametrize(("metadata", "expected"), [
    ("Metadata-Version: 2.4\nName: a\nLicense-Expression: mit OR Apache-2.0\n",
     ("MIT OR Apache-2.0", None)),
    ("Metadata-Version: 2.4\nName: a\nLicense-Expression: Apache 2\n", (None, "Apache 2")),
    ("Metadata-Version: 2.1\nName: a\nLicense: BSD-3-Clause\n", ("BSD-3-Clause", None)),
    ("Metadata-Version: 2.1\nName: a\nLicense: MIT License\n"
     "Classifier: License :: OSI Approved :: MIT License\n", ("MIT", "MIT License")),
    ("Metadata-Version: 2.1\nName: a\nClassifier: License :: OSI Approved :: BSD License\n",
     (None, None)),
    ("Metadata-Version: 2.1\nName: a\nLicense: Copyright (c) Acme\n        All rights.\n",
     (None, "Copyright (c) Acme")),
    ("Metadata-Version: 2.1\nName: a\n", (None, None)),
])
def test_license_from_metadata(metadata: str, expected: tuple[str | None, str | None]) -> None:
    assert sbom.license_of(metadata) == expected
