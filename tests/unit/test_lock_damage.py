"""Locks no tool would write (damaged, hand-edited, for another machine): one clear problem
each, naming the file and the entry, all of a file's problems at once."""

from __future__ import annotations

import textwrap

import pytest

from buildkit_slim import locks
from buildkit_slim.locks import LockError, TargetEnvironment

ARM = TargetEnvironment(platform="linux/arm/v7", python="3.13")
AMD = TargetEnvironment(platform="linux/amd64", python="3.13")
SHA = "a" * 64
WHEEL = "https://files.example/six-1.16.0-py2.py3-none-any.whl"


def fill(text: str, **values: str) -> str:
    """TOML braces stay braces: placeholders are @NAME@."""
    for name, value in values.items():
        text = text.replace(f"@{name}@", value)
    return text


def problems_of(text: str, path: str) -> tuple[str, ...]:
    with pytest.raises(LockError) as caught:
        locks.parse(textwrap.dedent(text), path)
    return caught.value.problems


def selection_problems(text: str, path: str, env: TargetEnvironment = ARM,
                       extras: tuple[str, ...] = ()) -> list[str]:
    lock = locks.parse(textwrap.dedent(text), path)
    return locks.select(lock, env, project="app", extras=extras)[1]


UV_ROOT = """\
    version = 1
    revision = 3
    requires-python = ">=3.10"

    [[package]]
    name = "app"
    version = "0.1.0"
    source = { editable = "." }
    dependencies = [{ name = "six" }]
    """


def test_uv_lock_of_another_version() -> None:
    assert problems_of("version = 2\n", "uv.lock") == (
        "uv.lock: version = 2: bslim reads uv.lock version 1; regenerate it with a uv that "
        "writes it, or update bslim",)


def test_uv_lock_problems_all_at_once() -> None:
    found = problems_of(fill(UV_ROOT + """
    [[package]]
    name = "six"
    version = "1.16.0"
    source = { registry = "https://pypi.org/simple" }
    sdist = { url = "https://files.example/six-1.16.0.tar.gz" }
    wheels = [{ url = "https://files.example/six.exe", hash = "sha256:@SHA@" }]

    [[package]]
    version = "1"
    source = { registry = "https://pypi.org/simple" }

    [[package]]
    name = "odd"
    source = { svn = "x" }
    """, SHA=SHA), "uv.lock")
    assert found == (
        "uv.lock: package[1] (six).sdist: no hash (`hash = \"sha256:...\"`); bslim installs "
        "only what it can verify",
        "uv.lock: package[1] (six).wheels[0]: 'six.exe' is not a wheel file name",
        "uv.lock: package[2].name: missing",
        "uv.lock: package[3] (odd): source ['svn'] is not one bslim knows (registry, url, path, "
        "directory, editable, virtual, git)",
    )


def test_not_toml() -> None:
    assert problems_of("version = [\n", "uv.lock")[0].startswith("uv.lock: not valid TOML:")


def test_a_dependency_from_a_source_tree_cannot_be_installed_from_the_lock() -> None:
    found = selection_problems(UV_ROOT.replace('{ name = "six" }', '{ name = "lib" }') + """
    [[package]]
    name = "lib"
    version = "0.2.0"
    source = { git = "https://example/lib?rev=main#abc" }
    """, "uv.lock")
    assert found == ["uv.lock: linux/arm/v7: lib 0.2.0 comes from a git source "
                     "(https://example/lib?rev=main#abc); bslim installs the project's "
                     "dependencies only from files with hashes: publish it, or lock a wheel or "
                     "sdist"]


def test_requires_python_the_image_does_not_have() -> None:
    found = selection_problems(fill(UV_ROOT.replace('">=3.10"', '">=3.14"') + """
    [[package]]
    name = "six"
    version = "1.16.0"
    source = { registry = "https://pypi.org/simple" }
    wheels = [{ url = "@WHEEL@", hash = "sha256:@SHA@" }]
    """, WHEEL=WHEEL, SHA=SHA), "uv.lock")
    assert found == ["uv.lock: linux/arm/v7: the lock's requires-python >=3.14 excludes "
                     "Python 3.13"]


def test_an_ambiguous_fork_is_named() -> None:
    text = UV_ROOT + "".join(fill("""
    [[package]]
    name = "six"
    version = "@V@"
    source = { registry = "https://pypi.org/simple" }
    resolution-markers = ["@M@"]
    wheels = [{ url = "@WHEEL@", hash = "sha256:@SHA@" }]
    """, V=version, M=marker, WHEEL=WHEEL, SHA=SHA) for version, marker in (
        ("1.16.0", "python_full_version < '3.13.4'"),
        ("1.17.0", "python_full_version >= '3.13.4'")))
    found = selection_problems(text, "uv.lock")
    assert "depends on the patch release of Python or on the kernel" in found[0]
    assert found[-1] == ("uv.lock: linux/arm/v7: cannot tell which six the lock means (it has: "
                         "six 1.16.0, six 1.17.0)")


PYLOCK = """\
    lock-version = "1.0"
    created-by = "hand"
    """


def test_pylock_of_another_major_version() -> None:
    assert problems_of('lock-version = "2.0"\ncreated-by = "x"\n', "pylock.toml") == (
        "pylock.toml: lock-version = '2.0': bslim reads PEP 751 lock-version 1.x",)


def test_pylock_entries_must_say_where_from_with_hashes() -> None:
    found = problems_of(fill(PYLOCK + """
    [[packages]]
    name = "six"
    version = "1.16.0"
    sdist = { url = "https://files.example/six-1.16.0.tar.gz" }

    [[packages]]
    name = "two"
    archive = { url = "https://files.example/two-1.0.tar.gz", hashes = { sha256 = "@SHA@" } }
    sdist = { url = "https://files.example/two-1.0.tar.gz", hashes = { sha256 = "@SHA@" } }

    [[packages]]
    name = "none"
    """, SHA=SHA), "pylock.toml")
    assert found == (
        "pylock.toml: packages[0] (six).sdist: no hashes table; bslim installs only what it can "
        "verify",
        "pylock.toml: packages[1] (two): needs exactly one of vcs, directory, archive, or "
        "sdist/wheels (PEP 751); it has archive, sdist/wheels",
        "pylock.toml: packages[2] (none): needs exactly one of vcs, directory, archive, or "
        "sdist/wheels (PEP 751); it has none",
    )


def test_pylock_environments_that_leave_out_a_platform() -> None:
    text = PYLOCK + """
    environments = ["platform_machine == 'x86_64'"]
    """
    assert selection_problems(text, "pylock.toml", AMD) == []
    assert selection_problems(text, "pylock.toml", ARM) == [
        "pylock.toml: linux/arm/v7: the lock covers only platform_machine == 'x86_64'"]


def test_pylock_two_versions_for_one_platform() -> None:
    text = PYLOCK + "".join(fill("""
    [[packages]]
    name = "six"
    version = "@V@"
    @M@
    wheels = [{ url = "@WHEEL@", hashes = { sha256 = "@SHA@" } }]
    """, V=version, M=marker, WHEEL=WHEEL.replace("1.16.0", version), SHA=SHA)
        for version, marker in (
        ("1.16.0", ""), ("1.17.0", "marker = \"platform_machine == 'armv7l'\"")))
    assert selection_problems(text, "pylock.toml", AMD) == []
    assert selection_problems(text, "pylock.toml", ARM) == [
        "pylock.toml: linux/arm/v7: six: the lock gives two versions here (1.16.0 and 1.17.0); "
        "markers must pick one"]


def test_pylock_extras_markers() -> None:
    text = PYLOCK + """
    extras = ["tz"]
    [[packages]]
    name = "six"
    version = "1.16.0"
    marker = "'tz' in extras"
    wheels = [{ url = "@WHEEL@", hashes = { sha256 = "@SHA@" } }]
    """
    lock = locks.parse(textwrap.dedent(fill(text, WHEEL=WHEEL, SHA=SHA)), "pylock.toml")
    assert [p.name for p in locks.select(lock, ARM, project="app", extras=("tz",))[0].packages] \
        == ["six"]
    assert locks.select(lock, ARM, project="app")[0].packages == ()
    with pytest.raises(LockError, match="the lock was made without the extra 'web'"):
        locks.check_lock(lock, [ARM], project="app", dependencies=[], optional=[],
                         extras=("web",))


def test_pylock_package_requires_a_newer_python() -> None:
    text = PYLOCK + """
    [[packages]]
    name = "six"
    version = "1.16.0"
    requires-python = ">=3.14"
    wheels = [{ url = "@WHEEL@", hashes = { sha256 = "@SHA@" } }]
    """
    assert selection_problems(fill(text, WHEEL=WHEEL, SHA=SHA), "pylock.toml") == [
        "pylock.toml: linux/arm/v7: six 1.16.0 requires Python >=3.14, the image has 3.13"]


@pytest.mark.parametrize(("text", "problem"), [
    ("six==1.16.0\n", "line 1: six has no --hash; bslim installs only what it can verify"),
    ("six>=1.16 --hash=sha256:@SHA@\n",
     "line 1: six>=1.16: a lock pins one version with == (e.g. six==1.2.3)"),
    ("six==1.* --hash=sha256:@SHA@\n", "line 1: six==1.*: a lock pins one version"),
    ("-r base.txt\n", "line 1: '-r base.txt': bslim installs what the file pins, and follows "
     "no other file or source tree"),
    ("-e ../lib\n", "line 1: '-e ../lib': bslim installs what the file pins"),
    ("--use-feature=truststore\n", "line 1: option '--use-feature' is not one bslim can pass"),
    ("six==1.16.0 --hash=md5:abc\n", "line 1: '--hash=md5:abc': only --hash=sha256:<hex>"),
    ("six==1.16.0 --config-settings=a=b --hash=sha256:@SHA@\n",
     "line 1: '--config-settings=a=b': only --hash"),
    ("lib @ git+https://example/lib --hash=sha256:@SHA@\n",
     "line 1: lib @ git+https://example/lib: not a wheel or sdist"),
    ("six=1.16.0 --hash=sha256:@SHA@\n", "line 1: 'six=1.16.0' is not a requirement"),
])
def test_requirements_lines_bslim_cannot_install_exactly(text: str, problem: str) -> None:
    (found,) = problems_of(fill(text, SHA=SHA), "requirements.txt")
    assert found.startswith(f"requirements.txt: {problem}"), found


def test_requirements_continuations_options_and_the_project_itself() -> None:
    lock = locks.parse(fill(textwrap.dedent("""\
        # This file was autogenerated by pip-compile with Python 3.13
        --index-url https://pypi.org/simple
        -e .
        six==1.16.0 \\
            --hash=sha256:@A@ \\
            --hash=sha256:@B@
            # via
            #   -r requirements.in
            #   app (pyproject.toml)
        direct @ https://files.example/direct-2.0-py3-none-any.whl \\
            --hash=sha256:@C@  # a comment
        """), A=SHA, B="b" * 64, C="c" * 64), "requirements.txt")
    assert lock.created_by == "pip-compile"
    assert lock.options == ("--index-url", "https://pypi.org/simple")
    six, direct = lock.packages
    assert six.version == "1.16.0" and [a.sha256 for a in six.artefacts] == [SHA, "b" * 64]
    assert six.via == ("-r requirements.in", "app")
    assert direct.version == "2.0" and direct.source_kind == "url"
    selected = locks.select(lock, ARM, project="app")[0]
    assert selected.requirements_text() == (
        "direct @ https://files.example/direct-2.0-py3-none-any.whl \\\n"
        f"    --hash=sha256:{'c' * 64}\n"
        f"six==1.16.0 \\\n    --hash=sha256:{SHA} \\\n    --hash=sha256:{'b' * 64}\n")
