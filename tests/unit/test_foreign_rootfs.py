"""tests/engine/foreign_rootfs.py's pure parts: dpkg's database formats and rules as the armhf
stand-in trees are rewritten with them (the whole tool runs in tests/engine/up.sh, which checks
its output with dpkg --verify and apt-get check)."""

from __future__ import annotations

from pathlib import Path

from tests.engine import foreign_rootfs as fr

STATUS = """\
Package: libc6
Status: install ok installed
Priority: optional
Architecture: amd64
Multi-Arch: same
Version: 2.41-12
Description: GNU C Library: Shared libraries
 Contains the standard libraries.
 .
 More.

Package: login.defs
Status: install ok installed
Architecture: all
Version: 1:4.17.4-2
Description: system user management configuration

"""


def test_deb822_round_trips_with_continuation_lines_and_field_order() -> None:
    stanzas = fr.parse_deb822(STATUS)
    assert [s["Package"] for s in stanzas] == ["libc6", "login.defs"]
    assert list(stanzas[0]) == ["Package", "Status", "Priority", "Architecture", "Multi-Arch",
                                "Version", "Description"]
    assert stanzas[0]["Description"].splitlines()[1:] == [" Contains the standard libraries.",
                                                           " .", " More."]
    assert fr.format_deb822(stanzas) == STATUS


def test_info_files_are_arch_qualified_only_for_multi_arch_same() -> None:
    libc6, login_defs = fr.parse_deb822(STATUS)
    assert fr.info_name({**libc6, "Architecture": "armhf"}) == "libc6:armhf"
    assert fr.info_name(login_defs) == "login.defs"


def test_status_stanzas_have_dpkgs_field_order() -> None:
    control = {"Package": "base-files", "Version": "13.8", "Architecture": "armhf",
               "Essential": "yes", "Homepage": "https://www.debian.org/",
               "Description": "Debian base system miscellaneous files", "Important": "yes"}
    stanza = fr.with_status(control, [("/etc/debian_version", "0123abcd")])
    assert list(stanza) == ["Package", "Essential", "Status", "Architecture", "Version",
                            "Conffiles", "Description", "Homepage", "Important"]
    assert stanza["Status"] == "install ok installed"
    assert fr.format_deb822([stanza]).splitlines()[5:7] == [
        "Conffiles:", " /etc/debian_version 0123abcd"]


def test_tar_listing_becomes_dpkg_list_paths() -> None:
    assert fr.tar_paths("./\n./usr/\n./usr/bin/\n./usr/bin/dash\n") == [
        "/.", "/usr", "/usr/bin", "/usr/bin/dash"]


def test_path_filters_follow_dpkg_last_match_wins() -> None:
    filters = [(False, "/usr/share/doc/*"), (True, "/usr/share/doc/*/copyright"),
               (False, "/usr/share/locale/*"), (True, "/usr/share/locale/locale.alias")]
    assert fr.excluded("/usr/share/doc/bash/NEWS.gz", filters)
    assert not fr.excluded("/usr/share/doc/bash/copyright", filters)
    assert fr.excluded("/usr/share/locale/de/LC_MESSAGES/dpkg.mo", filters)  # '*' spans '/'
    assert not fr.excluded("/usr/share/locale/locale.alias", filters)
    assert not fr.excluded("/usr/bin/bash", filters)
    # directories and symlinks under an include glob's fixed part stay (dpkg's filters.c)
    assert not fr.excluded("/usr/share/doc/apt/examples", filters, dir_or_link=True)
    assert not fr.excluded("/usr/share/doc/libgcc-s1", filters, dir_or_link=True)
    assert fr.excluded("/usr/share/doc/libgcc-s1", filters)
    assert fr.excluded("/usr/share/locale/de", filters, dir_or_link=True)  # not a prefix
    assert fr.excluded("/usr/share/man/man1", [(False, "/usr/share/man/*")], dir_or_link=True)


def test_dpkg_filters_are_read_from_the_trees_dpkg_configuration(tmp_path: Path) -> None:
    cfg = tmp_path / "etc/dpkg/dpkg.cfg.d"
    cfg.mkdir(parents=True)
    (cfg / "99mmdebstrap").write_text("force-unsafe-io\npath-exclude=/usr/share/man/*\n"
                                      "--path-include=/usr/share/man/man1/x.1.gz\n")
    assert fr.dpkg_filters(tmp_path) == [(False, "/usr/share/man/*"),
                                         (True, "/usr/share/man/man1/x.1.gz")]


def test_a_packages_info_files_are_not_those_of_a_package_named_like_it(
        tmp_path: Path) -> None:
    for name in ("login.list", "login.postinst", "login.defs.list", "login.defs.md5sums"):
        (tmp_path / name).write_text("")
    assert sorted(p.name for p in fr.own_files(tmp_path, "login")) == [
        "login.list", "login.postinst"]
    assert sorted(p.name for p in fr.own_files(tmp_path, "login.defs")) == [
        "login.defs.list", "login.defs.md5sums"]


def test_diversions_round_trip(tmp_path: Path) -> None:
    diversions = [("/lib/ld-linux-armhf.so.3", "/lib/ld-linux-armhf.so.3.usr-is-merged",
                   "libc6"), ("/lib32", "/.lib32.usr-is-merged", "base-files")]
    fr.write_diversions(tmp_path, diversions)
    assert fr.read_diversions(tmp_path) == diversions


def test_trigger_interests_are_the_foreign_packages_own(tmp_path: Path) -> None:
    triggers = tmp_path / "triggers"
    triggers.mkdir()
    (triggers / "File").write_text("/usr/lib32 base-files/noawait\n"
                                   "/usr/lib/x86_64-linux-gnu/gio libglib2.0-0t64:amd64\n")
    (triggers / "ldconfig").write_text("libc-bin\n")
    (triggers / "Unincorp").write_text("")
    control = tmp_path / "control-glib"
    control.mkdir()
    (control / "triggers").write_text("# comment\ninterest-noawait "
                                      "/usr/lib/arm-linux-gnueabihf/gio/modules\n"
                                      "activate-noawait ldconfig\n")
    fr.rewrite_triggers(triggers, {"libglib2.0-0t64", "base-files"},
                        {"libglib2.0-0t64": ("libglib2.0-0t64:armhf", control),
                         "base-files": ("base-files", tmp_path / "no-control")})
    assert (triggers / "File").read_text() == (
        "/usr/lib/arm-linux-gnueabihf/gio/modules libglib2.0-0t64:armhf/noawait\n")
    assert (triggers / "ldconfig").read_text() == "libc-bin\n"  # activate: no interest
    assert (triggers / "Unincorp").read_text() == ""


def test_symlinks_resolve_inside_the_tree(tmp_path: Path) -> None:
    (tmp_path / "run/lock").mkdir(parents=True)
    (tmp_path / "var").mkdir()
    (tmp_path / "var/run").symlink_to("/run")  # absolute: the tree's /run, not the host's
    (tmp_path / "var/lock").symlink_to("../run/lock")
    (tmp_path / "var/gone").symlink_to("/nowhere-in-the-tree")
    (tmp_path / "var/file").write_text("")
    assert fr.is_dir_in(tmp_path, "/var/run")
    assert fr.is_dir_in(tmp_path, "/var/lock")
    assert not fr.is_dir_in(tmp_path, "/var/gone")
    assert not fr.is_dir_in(tmp_path, "/var/file")


def test_dpkg_verify_lines_keep_blanks_in_paths() -> None:
    assert fr.parse_verify_line("missing     /usr/share/doc/python3-setuptools/python 2 "
                                "sunset.rst") == (
        "missing", False, "/usr/share/doc/python3-setuptools/python 2 sunset.rst")
    assert fr.parse_verify_line("??5?????? c /etc/pam.d/login") == (
        "??5??????", True, "/etc/pam.d/login")
    assert fr.parse_verify_line("??5??????   /usr/bin/x") == ("??5??????", False, "/usr/bin/x")
