"""The image's software bill of materials: SPDX 2.3 JSON, one document per platform (pure).

SPDX, not CycloneDX: BuildKit's SBOM generator protocol (docs/attestations/sbom-protocol.md
in moby/buildkit) takes SPDX JSON only up to BuildKit 0.2x — the versions Docker 26 and 28
ship — and attaches it as an in-toto statement of predicate type https://spdx.dev/Document,
which `docker buildx imagetools inspect --format '{{json .SBOM}}'` reads back.

It lists exactly the Python distributions bslim installed into the image: name, version, a
`pkg:pypi` purl, the sha256 of the wheel that was installed, the license its metadata declares,
and where the wheel came from (downloaded from an index, compiled natively or under emulation
from an sdist of known sha256, inherited from a wheel image, the project itself). The same
input gives the same bytes: packages sorted, no random namespace, no wall-clock time.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from email.parser import HeaderParser
from urllib.parse import quote

from packaging.licenses import InvalidLicenseExpression, canonicalize_license_expression

SPDX_VERSION = "SPDX-2.3"
PREDICATE_TYPE = "https://spdx.dev/Document"
STATEMENT_TYPE = "https://in-toto.io/Statement/v0.1"
NAMESPACE = "https://spdx.org/spdxdocs/bslim"  # + /<image>/<platform>/<content hash>
NOASSERTION = "NOASSERTION"
ORIGINS = ("downloaded", "compiled", "inherited", "project", "base", "exported")
# base: in the base image; exported: by --export-wheels, which keeps no origin
_SPDXID_BAD = re.compile(r"[^A-Za-z0-9.-]+")
# Trove classifiers of the commonest licenses, for metadata that declares no expression.
CLASSIFIERS = {
    "License :: OSI Approved :: MIT License": "MIT",
    "License :: OSI Approved :: Apache Software License": "Apache-2.0",
    "License :: OSI Approved :: BSD License": None,  # which BSD is not said
    "License :: OSI Approved :: Python Software Foundation License": "PSF-2.0",
    "License :: OSI Approved :: ISC License (ISCL)": "ISC",
    "License :: OSI Approved :: Mozilla Public License 2.0 (MPL 2.0)": "MPL-2.0",
    "License :: OSI Approved :: GNU General Public License v3 (GPLv3)": "GPL-3.0-only",
    "License :: OSI Approved :: GNU Lesser General Public License v3 (LGPLv3)": "LGPL-3.0-only",
    "License :: OSI Approved :: The Unlicense (Unlicense)": "Unlicense",
    "License :: CC0 1.0 Universal (CC0 1.0) Public Domain Dedication": "CC0-1.0",
}


@dataclass(frozen=True, kw_only=True)
class Component:
    """One installed distribution."""

    name: str
    version: str
    wheel: str | None  # the file name of the wheel installed (None: in the base image)
    sha256: str | None  # of that wheel
    origin: str  # one of ORIGINS
    how: str  # e.g. "binary wheel from https://pypi.org/simple", "compiled under emulation
    #            (linux/arm/v7) from msgpack-1.0.8.tar.gz sha256:95c0..."
    license: str | None = None  # an SPDX expression
    license_text: str | None = None  # what the metadata says when it is not one
    download_url: str | None = None


def license_of(metadata: str) -> tuple[str | None, str | None]:
    """(SPDX expression, other declared text) from a METADATA file: License-Expression
    (PEP 639), else a License field that is an expression, else the classifiers."""
    headers = HeaderParser().parsestr(metadata)
    expression = headers.get("License-Expression")
    if expression:
        try:
            return canonicalize_license_expression(expression.strip()), None
        except InvalidLicenseExpression:
            return None, expression.strip()
    text = (headers.get("License") or "").strip()
    if text and "\n" not in text and len(text) <= 100:
        try:
            return canonicalize_license_expression(text), None
        except InvalidLicenseExpression:
            pass
    found = sorted({spdx for c in headers.get_all("Classifier") or []
                    if (spdx := CLASSIFIERS.get(c.strip())) is not None})
    if found:
        return " AND ".join(found) if len(found) > 1 else found[0], text or None
    return None, text.splitlines()[0][:200] if text else None


def purl(name: str, version: str, wheel: str | None = None) -> str:
    """pkg:pypi/<name>@<version> (purl's pypi type: lowercase, `_` as `-`)."""
    normal = quote(name.lower().replace("_", "-"), safe=".-")
    base = f"pkg:pypi/{normal}@{quote(version, safe='.-')}"
    return base + (f"?file_name={quote(wheel, safe='.-_')}" if wheel else "")


def _spdx_id(prefix: str, *parts: str) -> str:
    return "SPDXRef-" + prefix + "-" + "-".join(_SPDXID_BAD.sub("-", p) for p in parts)


def created_at(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def document(*, image: str, platform: str, components: Sequence[Component], tool: str,
             epoch: int = 0) -> dict[str, object]:
    """The SPDX 2.3 document for one platform of `image`. `epoch`: SOURCE_DATE_EPOCH when
    the build has one; else 0 (1970): the document then carries no time of its own."""
    bad = [c.name for c in components if c.origin not in ORIGINS]
    if bad:
        raise ValueError(f"unknown origin for {', '.join(bad)}")
    root_id = _spdx_id("Image", image, platform)
    packages: list[dict[str, object]] = [{
        "SPDXID": root_id,
        "name": image,
        "downloadLocation": NOASSERTION,
        "filesAnalyzed": False,
        "primaryPackagePurpose": "CONTAINER",
        "licenseConcluded": NOASSERTION,
        "licenseDeclared": NOASSERTION,
        "copyrightText": NOASSERTION,
        "comment": f"the {platform} image; the packages are the Python distributions bslim "
                   "installed into it",
    }]
    relationships: list[dict[str, str]] = [{
        "spdxElementId": "SPDXRef-DOCUMENT", "relationshipType": "DESCRIBES",
        "relatedSpdxElement": root_id}]
    seen: set[str] = set()
    for component in sorted(components, key=lambda c: (c.name.lower(), c.version,
                                                        c.wheel or "")):
        spdx_id = _spdx_id("Package-python", component.name, component.version)
        while spdx_id in seen:
            spdx_id += "-dup"
        seen.add(spdx_id)
        package: dict[str, object] = {
            "SPDXID": spdx_id,
            "name": component.name,
            "versionInfo": component.version,
            "downloadLocation": component.download_url or NOASSERTION,
            "filesAnalyzed": False,
            "primaryPackagePurpose": "APPLICATION" if component.origin == "project"
            else "LIBRARY",
            "licenseConcluded": NOASSERTION,
            "licenseDeclared": component.license or NOASSERTION,
            "copyrightText": NOASSERTION,
            "sourceInfo": f"{component.origin}: {component.how}",
            "externalRefs": [{"referenceCategory": "PACKAGE-MANAGER",
                              "referenceType": "purl",
                              "referenceLocator": purl(component.name, component.version,
                                                       component.wheel)}],
        }
        if component.wheel:
            package["packageFileName"] = component.wheel
        if component.sha256:
            package["checksums"] = [{"algorithm": "SHA256", "checksumValue": component.sha256}]
        if component.license_text:
            package["licenseComments"] = f"declared: {component.license_text}"
        packages.append(package)
        relationships.append({"spdxElementId": root_id, "relationshipType": "CONTAINS",
                              "relatedSpdxElement": spdx_id})
    doc: dict[str, object] = {
        "spdxVersion": SPDX_VERSION,
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": f"{image} {platform}",
        "creationInfo": {"created": created_at(epoch), "creators": [f"Tool: {tool}"]},
        "packages": packages,
        "relationships": relationships,
    }
    # Named by what it holds: the same content, the same namespace (SPDX wants it unique
    # per document, not random).
    digest = hashlib.sha256(render(doc).encode()).hexdigest()
    doc["documentNamespace"] = (f"{NAMESPACE}/{quote(image, safe='')}/"
                                f"{platform.replace('/', '-')}/{digest}")
    return doc


def statement(doc: dict[str, object]) -> dict[str, object]:
    """The in-toto statement BuildKit's SBOM generator protocol expects in
    $BUILDKIT_SCAN_DESTINATION/<scan>.spdx.json (BuildKit fills in the subject)."""
    return {"_type": STATEMENT_TYPE, "predicateType": PREDICATE_TYPE, "subject": [],
            "predicate": doc}


def render(value: dict[str, object]) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def installed(doc: dict[str, object]) -> list[tuple[str, str]]:
    """(name, version) of every distribution a document lists (for checks against pip)."""
    packages = doc.get("packages")
    assert isinstance(packages, list)
    return sorted((str(p["name"]), str(p["versionInfo"])) for p in packages
                  if isinstance(p, dict) and "versionInfo" in p)
