"""`[tool.slim]` parsing: exact error lines for bad input, defaults, inheritance, entrypoints."""

from __future__ import annotations

import dataclasses

import pytest

from buildkit_slim import config
from buildkit_slim.config import KEY_SPECS, KEYS, TargetConfig, load
from buildkit_slim.config.parse import TARGET_NAME_RULE
from buildkit_slim.config.problems import NO_CREDENTIALS
from buildkit_slim.errors import ConfigError, UsageError
from tests.unit.conftest import WriteProject

PROJECT = """\
    [project]
    name = "spark"
    version = "1.4.2"
    dependencies = ["requests>=2"]

    [project.scripts]
    spark = "spark.cli:main"

    [project.optional-dependencies]
    redis = ["redis>=5"]
    postgres = ["psycopg[binary]>=3"]
"""
DEFAULTS: dict[str, object] = {
    "image": "spark",
    "python": "3.13",
    "debian": "trixie",
    "builder_base": "python:3.13-trixie",
    "runtime_base": "python:3.13-slim-trixie",
    "platforms": ("linux/amd64", "linux/arm/v7"),
    "entrypoint": ("spark",),
    "cmd": (),
    "workdir": "/app",
    "user": "app",
    "env": (),
    "labels": (),
    "args": (),
    "expose": (),
    "extras": (),
    "requirements": None,
    "apt_build": (),
    "apt_runtime": (),
    "index_url": None,
    "extra_index_urls": (),
    "find_links": (),
    "dockerfile": None,
}
ARM = "linux/arm/v7"
APT_HINT = "is not a Debian package name (e.g. libffi-dev or libffi-dev=3.4.4-1)"
NO_CONTROL = "must not contain newlines or control characters"
PATH_RULE = "no '..', spaces, quotes, '$', ',', '=', glob characters or leading '-'"
RELATIVE = f"must be a relative path inside the project ({PATH_RULE})"
OUTPUT_DIR = f"must be a relative path to a directory inside the project (not '.'; {PATH_RULE})"
WORKDIR = "must be an absolute path of letters, digits and . _ + ~ -, without '..', e.g. \"/app\""


def errors_of(write_project: WriteProject, pyproject: str,
              files: dict[str, str] | None = None) -> tuple[str, ...]:
    root = write_project(pyproject, files)
    with pytest.raises(ConfigError) as info:
        load(root)
    return info.value.problems


def target_of(write_project: WriteProject, slim: str, files: dict[str, str] | None = None,
              project: str = PROJECT) -> TargetConfig:
    cfg = load(write_project(project + slim, files))
    assert len(cfg.targets) == 1
    return cfg.targets[0]


# (the [tool.slim] part of pyproject.toml, files in the project, the exact error lines)
BAD = [
    # Unknown keys, with the full dotted key and a suggestion where one is near.
    pytest.param('[tool.slim]\nplatfroms = ["linux/amd64"]\n', None,
                 ["tool.slim.platfroms: unknown key; did you mean 'platforms'?"], id="typo-top"),
    pytest.param('[tool.slim.targets.api]\nplatfroms = ["linux/amd64"]\n', None,
                 ["tool.slim.targets.api.platfroms: unknown key; did you mean 'platforms'?"],
                 id="typo-in-target"),
    pytest.param('[tool.slim]\nentry-point = ["spark"]\n', None,
                 ["tool.slim.entry-point: unknown key; did you mean 'entrypoint'?"],
                 id="typo-entrypoint"),
    pytest.param('[tool.slim]\nfrobnicate = true\n', None,
                 ["tool.slim.frobnicate: unknown key"], id="unknown-no-suggestion"),
    pytest.param('[tool.slim]\n"weird key" = 1\n', None,
                 ['tool.slim."weird key": unknown key'], id="unknown-quoted-key"),
    pytest.param('[tool.slim.targets.api]\noutput-dir = "out"\n', None,
                 ["tool.slim.targets.api.output-dir: can only be set at the top level "
                  "(tool.slim)"], id="top-only-key-in-target"),
    # Platforms.
    pytest.param('[tool.slim]\nplatforms = ["linux/armv7"]\n', None,
                 ["tool.slim.platforms[0]: 'linux/armv7' is not a supported platform; "
                  f"did you mean '{ARM}'?"], id="platform-armv7"),
    pytest.param('[tool.slim]\nplatforms = ["linux/amd64", "linux/x86_64"]\n', None,
                 ["tool.slim.platforms[1]: 'linux/x86_64' is not a supported platform; "
                  "did you mean 'linux/amd64'?"], id="platform-x86_64-alias"),
    pytest.param('[tool.slim]\nplatforms = ["aarch64"]\n', None,
                 ["tool.slim.platforms[0]: 'aarch64' is not a supported platform; "
                  "did you mean 'linux/arm64'?"], id="platform-aarch64-alias"),
    pytest.param('[tool.slim]\nplatforms = ["plan9/mips"]\n', None,
                 ["tool.slim.platforms[0]: 'plan9/mips' is not a supported platform; valid: "
                  + ", ".join(config.PLATFORMS)], id="platform-far-off"),
    pytest.param('[tool.slim]\nplatforms = ["linux/amd64", "linux/amd64"]\n', None,
                 ["tool.slim.platforms[1]: 'linux/amd64' is listed twice"],
                 id="platform-twice"),
    pytest.param("[tool.slim]\nplatforms = []\n", None,
                 ['tool.slim.platforms: must name at least one platform, e.g. ["linux/amd64"]'],
                 id="platforms-empty"),
    pytest.param('[tool.slim.targets.api]\nplatforms = "linux/amd64"\n', None,
                 ["tool.slim.targets.api.platforms: must be an array, got a string"],
                 id="platforms-not-array"),
    # Wrong types.
    pytest.param("[tool.slim]\npython = 3.13\n", None,
                 ["tool.slim.python: must be a string, got a number"], id="python-float"),
    pytest.param('[tool.slim]\nentrypoint = "spark"\n', None,
                 ["tool.slim.entrypoint: must be an array, got a string"],
                 id="entrypoint-string"),
    pytest.param("[tool.slim]\ncmd = [1]\n", None,
                 ["tool.slim.cmd[0]: must be a string, got an integer"], id="cmd-item-int"),
    pytest.param('[tool.slim]\nenv = "A=1"\n', None,
                 ["tool.slim.env: must be a table, got a string"], id="env-not-table"),
    pytest.param("[tool.slim]\nlabels = { a = true }\n", None,
                 ["tool.slim.labels.a: must be a string, got a boolean"], id="label-bool"),
    pytest.param("[tool.slim]\nimage = true\n", None,
                 ["tool.slim.image: must be a string, got a boolean"], id="image-bool"),
    pytest.param("[tool.slim]\ntargets = 3\n", None,
                 ["tool.slim.targets: must be a table of tables, got an integer"],
                 id="targets-not-table"),
    pytest.param("[tool.slim.targets]\napi = 3\n", None,
                 ["tool.slim.targets.api: must be a table, got an integer"],
                 id="target-not-table"),
    pytest.param("[tool.slim]\noutput-dir = 3\n", None,
                 ["tool.slim.output-dir: must be a string, got an integer"],
                 id="output-dir-int"),
    # Values.
    pytest.param('[tool.slim]\npython = "3"\n', None,
                 ["tool.slim.python: '3' must be a Python version X.Y, e.g. \"3.13\""],
                 id="python-not-x-y"),
    pytest.param('[tool.slim]\ndebian = "bookwork"\n', None,
                 ["tool.slim.debian: 'bookwork' is not a Debian release; "
                  "did you mean 'bookworm'?"], id="debian-typo"),
    pytest.param('[tool.slim]\nuser = "Root"\n', None,
                 ["tool.slim.user: 'Root' must be a user name like \"app\" (lowercase letters, "
                  "digits, '_' or '-'), or \"root\""], id="user-uppercase"),
    pytest.param('[tool.slim]\nexpose = [0, "80/foo", 8080, "8080/tcp", true]\n', None,
                 ["tool.slim.expose[0]: 0 is not a port; use 8080 or \"8080/tcp\", \"53/udp\"",
                  "tool.slim.expose[1]: '80/foo' is not a port; use 8080 or \"8080/tcp\", "
                  "\"53/udp\"",
                  "tool.slim.expose[4]: True is not a port; use 8080 or \"8080/tcp\", "
                  "\"53/udp\""], id="expose"),
    pytest.param("[tool.slim]\nentrypoint = []\n", None,
                 ["tool.slim.entrypoint: must not be empty; omit it to use the default"],
                 id="entrypoint-empty"),
    # Image grammar.
    pytest.param('[tool.slim]\nimage = "ghcr.io/acme/spark:1.0"\n', None,
                 ["tool.slim.image: 'ghcr.io/acme/spark:1.0': give the repository without a "
                  "tag or digest (tags come from TAG / bslim tags)"], id="image-with-tag"),
    pytest.param('[tool.slim]\nimage = "ghcr.io/acme/spark@sha256:abc"\n', None,
                 ["tool.slim.image: 'ghcr.io/acme/spark@sha256:abc': give the repository "
                  "without a tag or digest (tags come from TAG / bslim tags)"],
                 id="image-with-digest"),
    pytest.param('[tool.slim]\nimage = "ghcr.io/Acme/spark"\n', None,
                 ["tool.slim.image: 'ghcr.io/Acme/spark' is not a valid image repository "
                  "(lowercase, e.g. ghcr.io/acme/spark)"], id="image-uppercase"),
    pytest.param('[tool.slim.targets.api]\nimage = "acme//spark"\n', None,
                 ["tool.slim.targets.api.image: 'acme//spark' is not a valid image repository "
                  "(lowercase, e.g. ghcr.io/acme/spark)"], id="image-empty-component"),
    pytest.param('[tool.slim]\nimage = "acme/spark_"\n', None,
                 ["tool.slim.image: 'acme/spark_' is not a valid image repository "
                  "(lowercase, e.g. ghcr.io/acme/spark)"], id="image-trailing-separator"),
    # Injection attempts: newlines and shell metacharacters never reach the Dockerfile.
    pytest.param('[tool.slim]\napt-build = ["libffi-dev\\nRUN curl evil | sh"]\n', None,
                 [f"tool.slim.apt-build[0]: {NO_CONTROL}"], id="apt-newline"),
    pytest.param('[tool.slim]\napt-build = ["libffi-dev; rm -rf /"]\n', None,
                 [f"tool.slim.apt-build[0]: 'libffi-dev; rm -rf /' {APT_HINT}"],
                 id="apt-semicolon"),
    pytest.param('[tool.slim]\napt-runtime = ["libpq5", "$(curl evil)"]\n', None,
                 [f"tool.slim.apt-runtime[1]: '$(curl evil)' {APT_HINT}"],
                 id="apt-command-substitution"),
    pytest.param('[tool.slim.targets.api]\napt-runtime = ["`id`"]\n', None,
                 [f"tool.slim.targets.api.apt-runtime[0]: '`id`' {APT_HINT}"],
                 id="apt-backticks-in-target"),
    pytest.param('[tool.slim]\nenv = { A = "x\\nRUN evil" }\n', None,
                 [f"tool.slim.env.A: {NO_CONTROL}"], id="env-value-newline"),
    pytest.param('[tool.slim]\nenv = { "A B" = "x", "A=B" = "y" }\n', None,
                 ["tool.slim.env.\"A B\": 'A B' is not a valid environment variable name",
                  "tool.slim.env.\"A=B\": 'A=B' is not a valid environment variable name"],
                 id="env-bad-names"),
    pytest.param('[tool.slim]\nlabels = { a = "x\\ny", "b\\nc" = "z" }\n', None,
                 [f"tool.slim.labels.a: {NO_CONTROL}",
                  f"tool.slim.labels.\"b\\nc\": {NO_CONTROL}"],
                 id="labels-newlines"),
    pytest.param('[tool.slim]\nargs = { "1X" = "a", "X;Y" = "b" }\n', None,
                 ["tool.slim.args.1X: '1X' is not a valid build arg name",
                  "tool.slim.args.\"X;Y\": 'X;Y' is not a valid build arg name"],
                 id="args-bad-names"),
    pytest.param('[tool.slim]\nworkdir = "/app; rm -rf /"\n', None,
                 [f"tool.slim.workdir: '/app; rm -rf /' {WORKDIR}"], id="workdir-shell"),
    pytest.param('[tool.slim]\nworkdir = "/app\\nUSER root"\n', None,
                 [f"tool.slim.workdir: {NO_CONTROL}"], id="workdir-newline"),
    pytest.param('[tool.slim]\nworkdir = "app"\n', None,
                 [f"tool.slim.workdir: 'app' {WORKDIR}"], id="workdir-relative"),
    pytest.param('[tool.slim]\nentrypoint = ["spark", "--x\\nRUN evil"]\n', None,
                 [f"tool.slim.entrypoint[1]: {NO_CONTROL}"], id="entrypoint-newline"),
    pytest.param('[tool.slim]\nbuilder-base = "python:3.13 AS x\\nRUN evil"\n', None,
                 [f"tool.slim.builder-base: {NO_CONTROL}"], id="base-injection"),
    # URLs: credentials never go into config.
    pytest.param('[tool.slim]\nindex-url = "https://user:secret@pypi.example.com/simple"\n',
                 None, [f"tool.slim.index-url: {NO_CREDENTIALS}"], id="index-url-credentials"),
    pytest.param('[tool.slim]\nextra-index-urls = ["https://pypi.org/simple", '
                 '"https://token@pypi.example.com/simple"]\n', None,
                 [f"tool.slim.extra-index-urls[1]: {NO_CREDENTIALS}"],
                 id="extra-index-credentials"),
    pytest.param('[tool.slim]\nplatform-index-urls = { "linux/armv7" = ["https://x/simple"] }\n',
                 None, ['tool.slim.platform-index-urls."linux/armv7": \'linux/armv7\' is not a '
                        "supported platform; did you mean 'linux/arm/v7'?"],
                 id="platform-index-bad-platform"),
    pytest.param('[tool.slim]\nplatform-index-urls = { "linux/arm/v7" = '
                 '["https://u:p@www.piwheels.org/simple"] }\n', None,
                 [f'tool.slim.platform-index-urls."linux/arm/v7"[0]: {NO_CREDENTIALS}'],
                 id="platform-index-credentials"),
    pytest.param('[tool.slim]\nplatform-index-urls = { "linux/arm/v7" = "https://x" }\n', None,
                 ['tool.slim.platform-index-urls."linux/arm/v7": must be an array of URLs, '
                  "got a string"], id="platform-index-not-a-list"),
    pytest.param('[tool.slim]\nrunners = { "linux/armv7" = "ubuntu-24.04-arm" }\n', None,
                 ['tool.slim.runners."linux/armv7": \'linux/armv7\' is not a supported '
                  "platform; did you mean 'linux/arm/v7'?"], id="runners-bad-platform"),
    pytest.param('[tool.slim]\nrunners = { "linux/arm/v7" = 7, "linux/amd64" = [] }\n', None,
                 ['tool.slim.runners."linux/amd64": must be a runner label (e.g. '
                  '"ubuntu-24.04-arm") or a non-empty array of labels, got an empty array',
                  'tool.slim.runners."linux/arm/v7": must be a runner label (e.g. '
                  '"ubuntu-24.04-arm") or a non-empty array of labels, got an integer'],
                 id="runners-not-labels"),
    pytest.param('[tool.slim]\nrunners = { "linux/arm/v7" = ["self-hosted", "arm 64"] }\n',
                 None, ['tool.slim.runners."linux/arm/v7"[1]: \'arm 64\' is not a runner '
                        "label (letters, digits, '.', '_' and '-', starting with a letter or "
                        "digit)"], id="runners-bad-label"),
    pytest.param('[tool.slim]\nrunners = { "linux/arm/v7" = "${{ evil }}" }\n', None,
                 ['tool.slim.runners."linux/arm/v7": \'${{ evil }}\' is not a runner label '
                  "(letters, digits, '.', '_' and '-', starting with a letter or digit)"],
                 id="runners-expression"),
    pytest.param('[tool.slim]\nindex-url = "ftp://mirror/simple"\n', None,
                 ["tool.slim.index-url: 'ftp://mirror/simple' must be an http(s) URL without "
                  "spaces or quotes"], id="index-url-scheme"),
    pytest.param('[tool.slim]\nindex-url = "https://x/$(id)"\n', None,
                 ["tool.slim.index-url: 'https://x/$(id)' must be an http(s) URL without "
                  "spaces or quotes"], id="index-url-shell"),
    # Base images.
    pytest.param('[tool.slim]\nbuilder-base = "python:3.13-bookworm"\n', None,
                 ["tool.slim.runtime-base: 'python:3.13-slim-trixie' is Debian trixie but "
                  "builder-base 'python:3.13-bookworm' is bookworm; wheels must be built on the "
                  "runtime's Debian release (glibc)"], id="debian-mismatch"),
    pytest.param('[tool.slim.targets.api]\nruntime-base = "python:3.12-slim-trixie"\n', None,
                 ["tool.slim.targets.api.runtime-base: 'python:3.12-slim-trixie' is Python 3.12 "
                  "but builder-base 'python:3.13-trixie' is Python 3.13; both stages need the "
                  "same Python"], id="python-mismatch"),
    pytest.param('[tool.slim]\nbuilder-base = "python:{pyton}-{debian}"\n', None,
                 ["tool.slim.builder-base: unknown placeholder {pyton}; valid: {python}, "
                  "{debian}"], id="base-placeholder"),
    pytest.param('[tool.slim]\nruntime-base = "Python:{python}"\n', None,
                 ["tool.slim.runtime-base: 'Python:3.13' is not a valid image reference "
                  "(e.g. python:3.13-trixie)"], id="base-grammar"),
    # Extras and files.
    pytest.param('[tool.slim]\nextras = ["reddis"]\n', None,
                 ["tool.slim.extras[0]: 'reddis' is not an extra of the project; "
                  "did you mean 'redis'?"], id="extra-typo"),
    pytest.param('[tool.slim]\nextras = ["mysql"]\n', None,
                 ["tool.slim.extras[0]: 'mysql' is not an extra of the project; "
                  "[project.optional-dependencies] has postgres, redis"], id="extra-unknown"),
    pytest.param('[tool.slim]\nrequirements = "requirements.lock"\n', None,
                 ["tool.slim.requirements: file 'requirements.lock' does not exist in the "
                  "project"], id="requirements-missing"),
    pytest.param('[tool.slim]\nrequirements = "../requirements.lock"\n',
                 {"../requirements.lock": ""},
                 [f"tool.slim.requirements: '../requirements.lock' {RELATIVE}"],
                 id="requirements-outside"),
    pytest.param('[tool.slim]\ndockerfile = "/etc/Dockerfile"\n', None,
                 [f"tool.slim.dockerfile: '/etc/Dockerfile' {RELATIVE}"], id="dockerfile-abs"),
    pytest.param('[tool.slim.targets.api]\ndockerfile = "Dockerfile.api"\n', None,
                 ["tool.slim.targets.api.dockerfile: file 'Dockerfile.api' does not exist in "
                  "the project"], id="dockerfile-missing"),
    pytest.param('[tool.slim]\nfind-links = ["wheels", "../wheels"]\n', {"wheels/x.whl": ""},
                 [f"tool.slim.find-links[1]: '../wheels' {RELATIVE}"], id="find-links-outside"),
    pytest.param('[tool.slim]\noutput-dir = "../out"\n', None,
                 [f"tool.slim.output-dir: '../out' {OUTPUT_DIR}"], id="output-dir-dotdot"),
    pytest.param('[tool.slim]\noutput-dir = "."\n', None,
                 [f"tool.slim.output-dir: '.' {OUTPUT_DIR}"], id="output-dir-dot"),
    pytest.param('[tool.slim]\noutput-dir = "out\\n!.git"\n', None,
                 [f"tool.slim.output-dir: {NO_CONTROL}"], id="output-dir-newline"),
    # Build cache and wheels.
    pytest.param('[tool.slim]\ncache = { registy = "ghcr.io/a/c", "bad key" = 1 }\n', None,
                 ["tool.slim.cache.registy: unknown key; did you mean 'registry'?",
                  'tool.slim.cache."bad key": unknown key'], id="cache-unknown-keys"),
    pytest.param('[tool.slim.targets.api]\ncache = { registry = "ghcr.io/a/c:latest", '
                 'local = "../x", gha = "yes" }\n', None,
                 ["tool.slim.targets.api.cache.registry: 'ghcr.io/a/c:latest' must be an image "
                  "repository without tag, e.g. \"ghcr.io/acme/spark-cache\"",
                  "tool.slim.targets.api.cache.local: '../x' must be a relative directory inside "
                  f"the project, e.g. \".cache/buildkit\" ({PATH_RULE})",
                  "tool.slim.targets.api.cache.gha: must be a boolean, got a string"],
                 id="cache-bad-values"),
    # Cross-compiling.
    pytest.param('[tool.slim.cross]\nenabeld = false\nemulate = ["numpy", "../x", 3]\n'
                 'env = { uvloop = { "LIBUV-HOST" = "{host}", X = "{target}" }, "a b" = {}, '
                 'msgpack = "CFLAGS=-O0" }\n', None,
                 ["tool.slim.cross.enabeld: unknown key; did you mean 'enabled'?",
                  "tool.slim.cross.emulate[1]: '../x' is not a distribution name (e.g. "
                  "\"numpy\")",
                  "tool.slim.cross.emulate[2]: must be a string, got an integer",
                  "tool.slim.cross.env.uvloop.LIBUV-HOST: 'LIBUV-HOST' is not a valid "
                  "environment variable name",
                  "tool.slim.cross.env.uvloop.X: unknown placeholder {target}; valid: {host} "
                  "(the target's GNU type, e.g. arm-linux-gnueabihf)",
                  "tool.slim.cross.env.\"a b\": 'a b' is not a distribution name (e.g. "
                  "\"uvloop\")",
                  "tool.slim.cross.env.msgpack: must be a table of environment variables, e.g. "
                  "{ LIBUV_CONFIGURE_HOST = \"{host}\" }, got a string"],
                 id="cross-bad-values"),
    pytest.param('[tool.slim.targets.api]\ncross = { enabled = "no" }\n', None,
                 ["tool.slim.targets.api.cross.enabled: must be a boolean, got a string"],
                 id="cross-target-bad"),
    pytest.param('[tool.slim]\npublish-wheels = "yes"\n', None,
                 ["tool.slim.publish-wheels: must be a boolean, got a string"],
                 id="publish-wheels-string"),
    pytest.param('[tool.slim]\nwheels-from = ["../wheels"]\n', None,
                 ["tool.slim.wheels-from[0]: '../wheels' is neither a wheel image with a tag "
                  "(e.g. \"ghcr.io/acme/base-wheels:1.2\") nor a directory in the project"],
                 id="wheels-from-outside"),
    # Targets.
    pytest.param("[tool.slim.targets.api]\n[tool.slim.targets.worker]\n", None,
                 ["tool.slim.targets.worker.image: 'spark' is already the image of target "
                  "'api'; give each target its own image"], id="duplicate-image"),
    pytest.param('[tool.slim.targets."bad name"]\n', None,
                 [f"tool.slim.targets.\"bad name\": {TARGET_NAME_RULE}"], id="bad-target-name"),
    pytest.param('[tool.slim.targets."a.b"]\n', None,
                 [f"tool.slim.targets.\"a.b\": {TARGET_NAME_RULE}"], id="dotted-target-name"),
]


@pytest.mark.parametrize(("slim", "files", "expected"), BAD)
def test_bad_config_exact_errors(
    write_project: WriteProject, slim: str, files: dict[str, str] | None, expected: list[str]
) -> None:
    assert errors_of(write_project, PROJECT + slim, files) == tuple(expected)


def test_the_table_is_big_enough() -> None:
    assert len(BAD) >= 30


# Whole-pyproject cases: [project] problems and entrypoints that cannot be derived.
BAD_PROJECTS = [
    pytest.param('[project]\nname = "spark"\n', None,
                 ["tool.slim: no [tool.slim] table in pyproject.toml; run `bslim init` to add "
                  "one"], id="no-tool-slim"),
    pytest.param('[project]\nname = "spark"\n[tool]\nslim = 3\n', None,
                 ["tool.slim: must be a table, got an integer"], id="tool-slim-not-table"),
    pytest.param('[project]\nname = "spark"\n[tool.slim]\n', None,
                 ["tool.slim.entrypoint: not set, and there is no default: the project has no "
                  "[project.scripts] entry and no spark/__main__.py; set entrypoint = "
                  "[\"python\", \"-m\", \"spark\"] or similar"], id="no-entrypoint"),
    pytest.param('[project]\nname = "spark"\nscripts = { spark = "a:b", sparkd = "c:d" }\n'
                 "[tool.slim]\n", None,
                 ["tool.slim.entrypoint: not set, and [project.scripts] has 2 entries "
                  "(spark, sparkd); set entrypoint = [\"spark\"]"], id="two-scripts"),
    pytest.param('[project]\nname = "spark"\n[tool.slim]\n',
                 {"a/__main__.py": "", "b/__main__.py": ""},
                 ["tool.slim.entrypoint: not set, and there is no default: the project has no "
                  "[project.scripts] entry and no spark/__main__.py; set entrypoint = "
                  "[\"python\", \"-m\", \"spark\"] or similar"], id="two-main-packages"),
    pytest.param('[project]\nname = "spark\\nRUN curl evil | sh"\n[tool.slim]\n'
                 'entrypoint = ["spark"]\n', None,
                 ["project.name: 'spark\\nRUN curl evil | sh' is not a valid project name "
                  "(PEP 508: letters, digits, '.', '_' and '-', starting and ending with a "
                  "letter or digit)"], id="project-name-injection"),
    pytest.param('[project]\nname = "spark"\ndependencies = ["requests >=", 3]\n'
                 '[tool.slim]\nentrypoint = ["spark"]\n', None,
                 ["project.dependencies[0]: 'requests >=' is not a valid PEP 508 requirement",
                  "project.dependencies[1]: 3 is not a valid PEP 508 requirement"],
                 id="bad-dependencies"),
    pytest.param('[project]\nname = "spark"\n'
                 '[project.optional-dependencies]\n"my extra" = ["x\\ny"]\n'
                 '[tool.slim]\nentrypoint = ["spark"]\n', None,
                 ["project.optional-dependencies.\"my extra\"[0]: 'x\\ny' is not a valid PEP 508 "
                  "requirement"], id="bad-optional-dependency"),
    pytest.param('[build-system]\nrequires = ["setuptools>=", "x\\nRUN curl evil | sh"]\n'
                 '[project]\nname = "spark"\n[tool.slim]\nentrypoint = ["spark"]\n', None,
                 ["build-system.requires[0]: 'setuptools>=' is not a valid PEP 508 requirement",
                  "build-system.requires[1]: 'x\\nRUN curl evil | sh' is not a valid PEP 508 "
                  "requirement"], id="bad-build-requires"),
    pytest.param('[project]\nname = "spark"\nscripts = { spark = "a:b" }\n'
                 '[tool.slim]\nextras = ["redis"]\n', None,
                 ["tool.slim.extras[0]: 'redis' is not an extra of the project; the project "
                  "defines no [project.optional-dependencies]"], id="extras-without-any"),
]


@pytest.mark.parametrize(("pyproject", "files", "expected"), BAD_PROJECTS)
def test_bad_project_exact_errors(
    write_project: WriteProject, pyproject: str, files: dict[str, str] | None,
    expected: list[str]
) -> None:
    assert errors_of(write_project, pyproject, files) == tuple(expected)


def test_every_problem_is_reported_at_once(write_project: WriteProject) -> None:
    problems = errors_of(write_project, PROJECT + """
        [tool.slim]
        platfroms = ["linux/amd64"]
        python = "3"
        image = "ghcr.io/acme/spark:latest"
        apt-build = ["gcc\\nRUN evil"]

        [tool.slim.targets.api]
        platforms = ["linux/armv7"]
        extras = ["reddis"]

        [tool.slim.targets.worker]
        entrypoint = "spark-worker"
        index-url = "https://u:p@example.com/simple"
    """)
    assert problems == (
        "tool.slim.platfroms: unknown key; did you mean 'platforms'?",
        "tool.slim.image: 'ghcr.io/acme/spark:latest': give the repository without a tag or "
        "digest (tags come from TAG / bslim tags)",
        "tool.slim.python: '3' must be a Python version X.Y, e.g. \"3.13\"",
        f"tool.slim.targets.api.platforms[0]: 'linux/armv7' is not a supported platform; did "
        f"you mean '{ARM}'?",
        "tool.slim.targets.api.extras[0]: 'reddis' is not an extra of the project; did you "
        "mean 'redis'?",
        # Inherited by both targets, reported once.
        f"tool.slim.apt-build[0]: {NO_CONTROL}",
        "tool.slim.targets.worker.entrypoint: must be an array, got a string",
        f"tool.slim.targets.worker.index-url: {NO_CREDENTIALS}",
        "tool.slim.targets.worker.image: 'ghcr.io/acme/spark:latest' is already the image of "
        "target 'api'; give each target its own image",
    )


def test_config_error_message_counts_the_problems(write_project: WriteProject) -> None:
    root = write_project(PROJECT + '[tool.slim]\npython = "3"\ndebian = "bookwork"\n')
    with pytest.raises(ConfigError) as info:
        load(root)
    assert info.value.exit_code == 2
    assert info.value.message.splitlines()[0] == "2 configuration problems:"
    assert info.value.message.splitlines()[1:] == list(info.value.problems)


def test_no_pyproject_is_a_usage_error(write_project: WriteProject) -> None:
    root = write_project(PROJECT)
    (root / "pyproject.toml").unlink()
    with pytest.raises(UsageError) as info:
        load(root)
    assert info.value.message == f"--project: no pyproject.toml in {root}"
    assert info.value.hint == "pass --project DIR pointing at a Python project"


def test_invalid_toml_is_a_usage_error(write_project: WriteProject) -> None:
    root = write_project("[project\n")
    with pytest.raises(UsageError, match=r"pyproject\.toml: not valid TOML: ") as info:
        load(root)
    assert not isinstance(info.value, ConfigError)
    assert "\n" not in info.value.message


# --- defaults -----------------------------------------------------------------------------------

def test_defaults(write_project: WriteProject) -> None:
    cfg = load(write_project(PROJECT + "[tool.slim]\n"))
    assert cfg.output_dir == "bake"
    assert [t.name for t in cfg.targets] == ["spark"]
    target = cfg.targets[0]
    assert {k: getattr(target, k) for k in DEFAULTS} == DEFAULTS
    assert dict(target.sources) == {
        **{spec.name: "default" for spec in KEYS if not spec.top_only},
        "image": "derived",
        "entrypoint": "derived",
    }


def test_the_defaults_table_is_the_list_of_keys() -> None:
    fields = {f.name for f in dataclasses.fields(TargetConfig)} - {"name", "sources"}
    assert {spec.attr for spec in KEYS if not spec.top_only} == fields
    assert [spec.name for spec in KEYS if spec.top_only] == ["output-dir", "tags",
                                                             "reproducible"]
    assert KEY_SPECS["platforms"].default == ("linux/amd64", "linux/arm/v7")


def test_default_image_and_target_name_come_from_the_project_name(
    write_project: WriteProject
) -> None:
    target = target_of(write_project, "[tool.slim]\nentrypoint = [\"x\"]\n",
                       project='[project]\nname = "Spark_Plug.io"\n')
    assert (target.name, target.image) == ("spark-plug-io", "spark-plug-io")


def test_values_are_normalized(write_project: WriteProject) -> None:
    target = target_of(write_project, """
        [tool.slim]
        expose = [8080, "53/udp", "8080/tcp", "0443"]
        apt-runtime = ["libpq5", "ca-certificates", "libpq5"]
        extras = ["Redis", "postgres", "redis"]
        env = { B = "2", A = 1 }
        find-links = ["./wheels/"]
        python = "3.12"
        debian = "bookworm"
    """, files={"wheels/a.whl": ""})
    assert target.expose == ("8080/tcp", "53/udp", "443/tcp")
    assert target.apt_runtime == ("ca-certificates", "libpq5")
    assert target.extras == ("postgres", "redis")
    assert target.env == (("A", "1"), ("B", "2"))
    assert target.find_links == ("wheels",)
    assert (target.builder_base, target.runtime_base) == (
        "python:3.12-bookworm", "python:3.12-slim-bookworm")


def test_values_that_look_dangerous_but_are_fine_pass(write_project: WriteProject) -> None:
    # Quotes, `$` and `${` are allowed in env, labels and args: the renderers escape them.
    target = target_of(write_project, """
        [tool.slim]
        env = { GREETING = "it's \\"$HOME\\" ${X} \\\\" }
        labels = { "com.example.note" = "100% ${safe} %{also}" }
        args = { CFLAGS = "-O2 -DX='$Y'" }
        user = "root"
        index-url = "https://pypi.example.com/simple"
        apt-build = ["libffi-dev=3.4.4-1", "g++"]
    """)
    assert target.env == (("GREETING", 'it\'s "$HOME" ${X} \\'),)
    assert target.labels == (("com.example.note", "100% ${safe} %{also}"),)
    assert target.args == (("CFLAGS", "-O2 -DX='$Y'"),)
    assert target.user == "root"
    assert target.apt_build == ("g++", "libffi-dev=3.4.4-1")


def test_an_unknown_debian_release_far_from_any_known_is_accepted(
    write_project: WriteProject
) -> None:
    # Newer releases than bslim knows keep working; only near misses are flagged.
    target = target_of(write_project, '[tool.slim]\ndebian = "duke"\n')
    assert target.runtime_base == "python:3.13-slim-duke"


# --- targets inherit the top level --------------------------------------------------------------

def test_targets_inherit_the_top_level_and_override_what_they_name(
    write_project: WriteProject
) -> None:
    cfg = load(write_project(PROJECT + """
        [tool.slim]
        image = "ghcr.io/acme/spark"
        python = "3.12"
        apt-runtime = ["libpq5"]
        env = { MODE = "top" }
        output-dir = "docker"

        [tool.slim.targets.api]
        expose = [8080]

        [tool.slim.targets.worker]
        image = "ghcr.io/acme/spark-worker"
        platforms = ["linux/amd64"]
        entrypoint = ["spark", "worker"]
        env = { QUEUE = "default" }
    """))
    assert cfg.output_dir == "docker"
    api, worker = cfg.targets
    assert (api.name, worker.name) == ("api", "worker")
    assert api.image == "ghcr.io/acme/spark"
    assert worker.image == "ghcr.io/acme/spark-worker"
    # Inherited by both.
    assert api.python == worker.python == "3.12"
    assert api.apt_runtime == worker.apt_runtime == ("libpq5",)
    assert api.runtime_base == worker.runtime_base == "python:3.12-slim-trixie"
    # A table is replaced, not merged: the target names the whole value.
    assert api.env == (("MODE", "top"),)
    assert worker.env == (("QUEUE", "default"),)
    assert api.platforms == ("linux/amd64", "linux/arm/v7")
    assert worker.platforms == ("linux/amd64",)
    assert api.entrypoint == ("spark",)
    assert worker.entrypoint == ("spark", "worker")
    assert api.expose == ("8080/tcp",)
    assert worker.expose == ()

    api_sources, worker_sources = dict(api.sources), dict(worker.sources)
    assert api_sources["python"] == worker_sources["python"] == "tool.slim"
    assert api_sources["image"] == "tool.slim"
    assert worker_sources["image"] == "tool.slim.targets.worker"
    assert api_sources["expose"] == "tool.slim.targets.api"
    assert worker_sources["expose"] == "default"
    assert api_sources["entrypoint"] == "derived"
    assert worker_sources["entrypoint"] == "tool.slim.targets.worker"
    assert api_sources["builder-base"] == "default"


def test_a_target_inheriting_a_bad_value_reports_the_key_it_came_from(
    write_project: WriteProject
) -> None:
    problems = errors_of(write_project, PROJECT + """
        [tool.slim]
        image = "ghcr.io/acme/spark"
        debian = "bookwork"

        [tool.slim.targets.api]
        [tool.slim.targets.worker]
        image = "ghcr.io/acme/worker"
        debian = "bookworm"
    """)
    assert problems == (
        "tool.slim.debian: 'bookwork' is not a Debian release; did you mean 'bookworm'?",
    )


def test_empty_targets_table_means_one_default_target(write_project: WriteProject) -> None:
    cfg = load(write_project(PROJECT + "[tool.slim]\ntargets = {}\n"))
    assert [t.name for t in cfg.targets] == ["spark"]


def test_own_dockerfile_needs_no_entrypoint(write_project: WriteProject) -> None:
    target = target_of(write_project, '[tool.slim]\ndockerfile = "ops/Dockerfile"\n',
                       files={"ops/Dockerfile": "FROM scratch\n"},
                       project='[project]\nname = "spark"\n')
    assert target.dockerfile == "ops/Dockerfile"
    assert target.entrypoint == ()
    assert dict(target.sources)["dockerfile"] == "tool.slim"


# --- entrypoint derivation ----------------------------------------------------------------------

def test_entrypoint_is_the_single_script(write_project: WriteProject) -> None:
    target = target_of(write_project, "[tool.slim]\n",
                       project='[project]\nname = "spark"\nscripts = { sparkle = "spark:run" }\n')
    assert target.entrypoint == ("sparkle",)
    assert dict(target.sources)["entrypoint"] == "derived"


def test_entrypoint_is_python_m_package_with_main(write_project: WriteProject) -> None:
    target = target_of(write_project, "[tool.slim]\n", files={
        "spark_plug/__init__.py": "", "spark_plug/__main__.py": "", "other/__main__.py": ""},
        project='[project]\nname = "Spark-Plug"\n')
    # The package named like the project wins over another with a __main__.py.
    assert target.entrypoint == ("python", "-m", "spark_plug")


def test_entrypoint_in_src_layout(write_project: WriteProject) -> None:
    target = target_of(write_project, "[tool.slim]\n", files={"src/sparky/__main__.py": ""},
                       project='[project]\nname = "spark"\n')
    # The only package with a __main__.py, even when named differently from the project.
    assert target.entrypoint == ("python", "-m", "sparky")


def test_an_explicit_entrypoint_wins_over_scripts(write_project: WriteProject) -> None:
    target = target_of(write_project, '[tool.slim]\nentrypoint = ["python", "-m", "spark"]\n'
                       'cmd = ["--port", "8080"]\n')
    assert target.entrypoint == ("python", "-m", "spark")
    assert target.cmd == ("--port", "8080")
    assert dict(target.sources)["entrypoint"] == "tool.slim"


# --- [project] ----------------------------------------------------------------------------------

def test_project_metadata(write_project: WriteProject) -> None:
    cfg = load(write_project("""
        [project]
        name = "Spark"
        version = "2.0"
        description = "Fast"
        license = { text = "Apache-2.0" }
        dependencies = ["requests >= 2", "tomli; python_version < '3.11'"]
        urls = { Source = "https://github.com/acme/spark", Docs = "https://docs" }
        scripts = { spark = "spark:main" }

        [project.optional-dependencies]
        Redis_Cache = ["redis"]

        [tool.slim]
    """))
    meta = cfg.project
    assert meta.name == "Spark"
    assert meta.distribution == "spark"
    assert (meta.version, meta.description, meta.license) == ("2.0", "Fast", "Apache-2.0")
    assert meta.dependencies == ("requests>=2", 'tomli; python_version < "3.11"')
    assert meta.optional_dependencies == (("redis-cache", ("redis",)),)
    assert meta.urls == (("Docs", "https://docs"), ("Source", "https://github.com/acme/spark"))
    assert meta.scripts == ("spark",)


@pytest.mark.parametrize(("table", "expected"), [
    ('[build-system]\nrequires = ["setuptools >= 68", "cython"]\n', ("setuptools>=68", "cython")),
    ('[build-system]\nrequires = []\n', ()),
    ('[build-system]\nbuild-backend = "x"\n', ("setuptools>=40.8.0",)),  # PEP 517's default
    ("", ("setuptools>=40.8.0",)),
])
def test_build_requirements(write_project: WriteProject, table: str,
                            expected: tuple[str, ...]) -> None:
    cfg = load(write_project(table + '[project]\nname = "spark"\nscripts = { spark = "a:b" }\n'
                             "[tool.slim]\n"))
    assert cfg.project.build_requires == expected


def test_dynamic_dependencies_are_none(write_project: WriteProject) -> None:
    cfg = load(write_project("""
        [project]
        name = "spark"
        dynamic = ["dependencies", "version"]
        scripts = { spark = "spark:main" }

        [tool.slim]
    """))
    assert cfg.project.dependencies is None
    assert cfg.project.version is None


def test_a_multiline_license_text_is_left_out(write_project: WriteProject) -> None:
    cfg = load(write_project('[project]\nname = "spark"\nscripts = { spark = "a:b" }\n'
                             'license = { text = """Long\nlicense"""}\n[tool.slim]\n'))
    assert cfg.project.license is None


def test_cross_compiling_is_on_unless_turned_off_and_a_target_table_replaces_the_top(
        write_project: WriteProject) -> None:
    root = write_project(PROJECT + """
        [tool.slim.cross]
        emulate = ["NumPy", "numpy"]
        env = { UVLoop = { LIBUV_CONFIGURE_HOST = "{host}", N = 2 } }
        [tool.slim.targets.api]
        [tool.slim.targets.worker]
        image = "ghcr.io/acme/worker"
        cross = { enabled = false }
    """)
    api, worker = load(root).targets
    assert api.cross.enabled and api.cross.emulate == ("numpy",)
    assert api.cross.env == (("uvloop", (("LIBUV_CONFIGURE_HOST", "{host}"), ("N", "2"))),)
    assert not worker.cross.enabled and worker.cross.emulate == ()
    default = load(write_project(PROJECT + "[tool.slim]\n")).targets[0].cross
    assert default.enabled and default.emulate == () and not default.env
