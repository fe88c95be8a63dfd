"""`bslim doctor`'s wording for what differs between engines (no docker here)."""

from __future__ import annotations

from buildkit_slim import doctor


def test_a_reported_buildkit_version_is_shown_as_is() -> None:
    assert doctor.buildkit_detail("v0.25.1", "28.5.2", "docker") == "BuildKit v0.25.1"


def test_a_distribution_build_names_the_engine_instead() -> None:
    # seen on Debian's docker.io 26.1.5 and 28.5.2: `docker buildx inspect` says v0.0.0+unknown
    detail = doctor.buildkit_detail("v0.0.0+unknown", "28.5.2+dfsg4", "docker")
    assert detail.startswith("the engine's built-in BuildKit reports v0.0.0+unknown")
    assert detail.endswith("Docker Engine 28.5.2+dfsg4")


def test_arm_emulation_is_ok_when_the_builder_lists_the_platform() -> None:
    check = doctor.arm_emulation(["linux/arm/v7"], ["linux/amd64", "linux/arm/v7"],
                                 lambda: (True, "qemu-arm enabled, flags PF"))
    assert (check.status, check.detail) == (
        "ok", "the builder lists linux/arm/v7; qemu-arm enabled, flags PF")


def test_arm_emulation_falls_back_to_binfmt_when_the_builder_does_not_list_it() -> None:
    # Docker 26.1's builder leaves linux/arm/v7 out although arm/v7 builds work
    ok = doctor.arm_emulation(["linux/arm/v7"], ["linux/amd64"], lambda: (True, "enabled"))
    assert (ok.status, ok.detail, ok.fix) == ("ok", "enabled", "")
    missing = doctor.arm_emulation(["linux/arm/v7"], ["linux/amd64"], lambda: (False, "absent"))
    assert (missing.status, missing.fix) == ("warn", doctor.BINFMT_FIX)
