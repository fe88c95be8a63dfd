"""The parsed configuration: frozen dataclasses whose fields declare the `[tool.slim]` keys.

Each key is one `key(...)` field below (see `buildkit_slim.keys`): TargetConfig holds what every
target has (set at the top level, or per target under `[tool.slim.targets.<name>]`), Config what
only the top level sets, CacheConfig the `cache` sub-table, CrossConfig `cross`, TagRules the
`tags` sub-table (what `bslim tags` and `bslim release` compute from it is buildkit_slim.tags).
Adding a key is adding a field here and its test.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property

from buildkit_slim.config import checks, tag_checks
from buildkit_slim.config.checks import ENV_KEY_RE, LABEL_KEY_RE
from buildkit_slim.config.problems import Problems
from buildkit_slim.config.project import ProjectMeta
from buildkit_slim.keys import Key, key, keys_of
from buildkit_slim.platforms import PLATFORMS
from buildkit_slim.tag_grammar import DEFAULT_PATTERNS, Pattern, TagError, parse_pattern

DEFAULT_PLATFORMS = ("linux/amd64", "linux/arm/v7")
_NATIVE_SPEED = "[arm/v7 at native speed](#armv7-at-native-speed)"
_CROSS = "[cross-compiling](#cross-compiling)"


@dataclass(frozen=True, kw_only=True)
class CacheConfig:
    """`[tool.slim.cache]` (or a target's): where builds read and write their cache."""

    registry: str | None = key(
        None, "Image repository for cache images, e.g. `\"ghcr.io/acme/spark-cache\"` (not the "
        "image's own): one ref per target and platform set, `mode=max`.", kind="str",
        check=checks.cache_repository)
    local: str | None = key(
        None, "Directory in the project, e.g. `\".cache/buildkit\"`, replaced after each "
        "build.", kind="str", check=checks.cache_dir, path=True)
    gha: bool = key(False, "GitHub Actions' cache, scoped per target and platform set.")

    @property
    def enabled(self) -> bool:
        return bool(self.registry or self.local or self.gha)


NO_CACHE = CacheConfig()


@dataclass(frozen=True, kw_only=True)
class CrossConfig:
    """`[tool.slim.cross]` (or a target's): compiling for a foreign platform on the build
    platform, with a cross compiler, instead of under emulation."""

    enabled: bool = key(
        True, "Cross-compile on the build platform (Debian's cross gcc, the target's own "
        "headers and libraries) what has no wheel for a foreign platform; each wheel must "
        f"pass the gate ({_CROSS}) or is compiled under emulation. `false`: compile under "
        "emulation.")
    emulate: tuple[str, ...] = key(
        (), "Distributions compiled under emulation, never cross-compiled, e.g. "
        "`[\"numpy\"]`.", check=checks.distribution_names,
        schema={"type": "array", "items": {"type": "string"}, "uniqueItems": True})
    env: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = key(
        {}, "Environment of one distribution's cross build, e.g. `{ uvloop = { "
        "LIBUV_CONFIGURE_HOST = \"{host}\" } }` (`{host}`: the target's GNU type, "
        "`arm-linux-gnueabihf`); bslim knows uvloop's.", check=checks.distribution_env,
        schema={"type": "object", "additionalProperties": {
            "type": "object", "additionalProperties": {"type": ["string", "number"]}}})


NO_CROSS_SETTINGS = CrossConfig()
# bslim writes this file into every local cache directory it creates; it deletes no directory
# without it (or without the look of BuildKit's own local cache layout, from older versions).
CACHE_MARKER = ".bslim-cache"
_BUILDKIT_CACHE_NAMES = frozenset(("index.json", "ingest", "blobs", "oci-layout"))


def is_cache_dir(names: Sequence[str]) -> bool:
    """Whether a directory holding these entries is a local cache bslim may replace: one it
    marked, or one holding nothing but BuildKit's cache layout (nothing else is lost)."""
    return CACHE_MARKER in names or set(names) <= _BUILDKIT_CACHE_NAMES


@dataclass(frozen=True, kw_only=True)
class TagRules:
    """`[tool.slim.tags]`: which tags `bslim tags` and `bslim release` compute (see
    buildkit_slim.tags); the validators are config.tag_checks'."""

    default_branch: str = key("main", "The branch tagged with `edge`.",
                              check=tag_checks.default_branch)
    latest: bool = key(True, "Whether a final release also gets `latest`.")
    major: bool = key(
        True, "Whether a final release also gets its major version (`1`): `false` drops "
        "`{{major}}` from the default patterns (not with other `patterns`).")
    minor: bool = key(
        True, "Whether a final release also gets its minor version (`1.4`): `false` drops "
        "`{{major}}.{{minor}}` from the default patterns (not with other `patterns`).")
    patterns: tuple[str, ...] = key(
        DEFAULT_PATTERNS, "The version tags, made of `{{version}}`, `{{major}}`, `{{minor}}`, "
        "`{{patch}}`, `{{raw}}` and tag characters, e.g. `v{{version}}`.",
        check=tag_checks.patterns,
        schema={"type": "array", "items": {"type": "string"}, "minItems": 1,
                "uniqueItems": True})
    extra: tuple[str, ...] = key(
        (), "Fixed tags a final release also gets (they move like `latest`), e.g. "
        "`[\"stable\"]`.", check=tag_checks.extra,
        schema={"type": "array", "items": {"type": "string"}, "uniqueItems": True})
    edge: str = key("edge", "The default branch's tag; `\"\"` for none.", check=tag_checks.edge)
    branch: bool = key(True, "Tag other branches and pull requests.")
    sha: bool = key(True, "Tag `sha-<hex>`.")
    sha_length: int = key(
        7, "Hex digits of the sha tag (7 to 40).", check=tag_checks.sha_length,
        schema={"type": "integer", "minimum": tag_checks.SHA_LENGTH[0],
                "maximum": tag_checks.SHA_LENGTH[1]})
    prefix: str = key("", "Put before every tag, e.g. `\"py3.13-\"`.", check=tag_checks.prefix)
    suffix: str = key("", "Put after every tag, e.g. `\"-slim\"`.", check=tag_checks.suffix)
    prefix_on_latest: bool = key(True, "Whether `latest` gets the prefix too.")
    suffix_on_latest: bool = key(True, "Whether `latest` gets the suffix too.")
    git_tag_prefix: str = key(
        "", "A git tag is `<prefix><version>`, e.g. `\"p1/\"` for `p1/v1.0.0`.",
        check=tag_checks.git_tag_prefix)
    git_tag_regex: str = key(
        "", "Or: a regular expression whose one group is the version, e.g. "
        "`\"^p1/v(.+)$\"`.", check=tag_checks.git_tag_regex)
    non_version: str = key(
        "refuse", "A git tag that is no version: `\"refuse\"` it, or `\"publish\"` it as "
        "itself.", check=tag_checks.non_version,
        schema={"enum": list(tag_checks.NON_VERSION)})

    def __post_init__(self) -> None:
        # The keys' own validators, then the rules between keys: rules built in code are held
        # to what a pyproject.toml is, and parsing learns what is wrong together (one problem
        # a line, each starting with its dotted key).
        found = Problems()
        for decl in keys_of(type(self)):
            if decl.check is not None:
                decl.check(getattr(self, decl.attr), f"{tag_checks.KEY}.{decl.name}", found)
        for item_key, message in tag_checks.between(self):
            found.add(item_key, message)
        if found.items:
            raise TagError("\n".join(found.items))

    def version_patterns(self) -> tuple[Pattern, ...]:
        """The patterns, less what `major = false` / `minor = false` drop from the defaults."""
        dropped = {"{{major}}": not self.major, "{{major}}.{{minor}}": not self.minor}
        return tuple(parse_pattern(p) for p in self.patterns if not dropped.get(p))

    def affix(self, tag: str) -> str:
        return f"{self.prefix}{tag}{self.suffix}"

    def latest_tag(self) -> str:
        return (f"{self.prefix if self.prefix_on_latest else ''}latest"
                f"{self.suffix if self.suffix_on_latest else ''}")


DEFAULT_RULES = TagRules()


@dataclass(frozen=True, kw_only=True)
class TargetConfig:
    """One image to build: the top-level `[tool.slim]` values overridden by its target table."""

    name: str
    image: str = key(
        None, "Repository without tag, e.g. `ghcr.io/acme/spark` (OCI reference grammar); two "
        "targets may not share one.", kind="str", check=checks.image_repository,
        shown="the project name")
    python: str = key("3.13", "Python version X.Y of the base images.",
                      check=checks.python_version)
    debian: str = key("trixie", "Debian release of the base images.",
                      check=checks.debian_release)
    # Checked against the image grammar once its placeholders are filled in (parse.py).
    builder_base: str = key(
        "python:{python}-{debian}",
        "Image the wheel stage starts from; `{python}` and `{debian}` are filled in.")
    runtime_base: str = key(
        "python:{python}-slim-{debian}",
        "Image the runtime stage starts from, same placeholders; it must match the builder's "
        "Debian release (glibc) and Python where the tags say which.")
    platforms: tuple[str, ...] = key(
        DEFAULT_PLATFORMS,
        "Platforms to build, from " + ", ".join(f"`{p}`" for p in PLATFORMS) + ".",
        check=checks.platform_list,
        schema={"type": "array", "items": {"enum": list(PLATFORMS)}, "minItems": 1,
                "uniqueItems": True})
    entrypoint: tuple[str, ...] = key(
        None, "Exec-form entrypoint.", kind="list", check=checks.entrypoint,
        shown="the single `[project.scripts]` entry, else `[\"python\", \"-m\", <package>]` "
              "when the package has `__main__.py`")
    cmd: tuple[str, ...] = key((), "Exec-form CMD (arguments to the entrypoint).",
                               check=checks.exec_form)
    workdir: str = key(
        "/app", "Absolute working directory of letters, digits and `. _ + ~ -`, owned by the "
        "user; not a system directory (`/`, `/etc`, `/usr/local`, ...) nor inside `/etc`, "
        "`/usr/lib` and the like.", check=checks.workdir)
    user: str = key(
        "app", "Non-root user created in the runtime stage with uid/gid 10001 (`USER "
        "10001:10001`, so Kubernetes' `runAsNonRoot` can verify it); `\"root\"` to run as "
        "root.", check=checks.user_name)
    env: tuple[tuple[str, str], ...] = key(
        {}, "Environment variables of the image (`PYTHONUNBUFFERED=1` is set unless you "
        "override it).", check=checks.string_table(ENV_KEY_RE, "environment variable"))
    labels: tuple[tuple[str, str], ...] = key(
        {}, "Image labels, added to (and overriding) the OCI labels taken from `[project]`.",
        check=checks.string_table(LABEL_KEY_RE, "label"))
    args: tuple[tuple[str, str], ...] = key(
        {}, "Build args, declared in both stages (e.g. `CFLAGS` for compiled wheels).",
        check=checks.string_table(ENV_KEY_RE, "build arg"))
    expose: tuple[str, ...] = key(
        (), "Ports: `8080`, `\"8080/tcp\"`, `\"53/udp\"`.", check=checks.ports,
        schema={"type": "array", "items": {"type": ["integer", "string"]}})
    extras: tuple[str, ...] = key(
        (), "Extras of the project to install (from `[project.optional-dependencies]`).",
        check=checks.extras)
    requirements: str | None = key(
        None, "Constraints or lock file (relative to the project) whose pins the wheel stage "
        "honours (`pip --constraint`): a regular file, not in a directory the build context "
        "leaves out.", kind="str", check=checks.context_file, path=True)
    lock: str | None = key(
        None, "The lock the dependencies are installed from, exactly and checked by hash: "
        "`uv.lock`, a `pylock.toml` (PEP 751) or a requirements file with `--hash`es; `false` "
        "for none (see [Locked dependencies](#locked-dependencies)).", kind="str-or-false",
        check=checks.lock_file, path=True,
        shown="`uv.lock` or `pylock.toml` when one of them is beside `pyproject.toml`")
    apt_build: tuple[str, ...] = key(
        (), "Debian packages for the wheel stage (e.g. `libffi-dev`; "
        "`--no-install-recommends`, lists removed).", check=checks.apt_packages)
    apt_runtime: tuple[str, ...] = key(
        (), "Debian packages for the runtime stage (e.g. `libopenblas0`).",
        check=checks.apt_packages)
    index_url: str | None = key(
        None, "pip index URL; credentials are refused (they would land in the image "
        "history).", kind="str", check=checks.url, shown="pip's")
    extra_index_urls: tuple[str, ...] = key(
        (), "Extra pip index URLs, same rule.", check=checks.urls)
    platform_index_urls: tuple[tuple[str, tuple[str, ...]], ...] = key(
        {}, "Extra pip index URLs for one platform only, e.g. `{ \"linux/arm/v7\" = "
        "[\"https://www.piwheels.org/simple\"] }`: opt-in, see the caveats under "
        f"{_NATIVE_SPEED}.", check=checks.platform_urls,
        schema={"type": "object", "propertyNames": {"enum": list(PLATFORMS)},
                "additionalProperties": {"type": "array", "items": {"type": "string"}}})
    runners: tuple[tuple[str, tuple[str, ...]], ...] = key(
        {}, "GitHub Actions runner per platform for `bslim matrix` (its `runs-on`), a label "
        "or an array of labels, e.g. `{ \"linux/arm/v7\" = \"ubuntu-24.04-arm\" }`; a "
        "platform not named runs on `ubuntu-24.04`. Where the runner's own architecture runs "
        "the platform, the reusable workflow sets up no QEMU (see [GitHub Actions]"
        "(#github-actions)).", check=checks.platform_runners,
        schema={"type": "object", "propertyNames": {"enum": list(PLATFORMS)},
                "additionalProperties": {"oneOf": [
                    {"type": "string"},
                    {"type": "array", "items": {"type": "string"}, "minItems": 1}]}})
    find_links: tuple[str, ...] = key(
        (), "Directories in the project holding wheels or sdists pip may use (a local "
        "wheelhouse); kept in the build context even under `dist/`.",
        check=checks.project_dirs, path=True)
    cache: CacheConfig = key(
        NO_CACHE, "Build cache (see [Caching](#caching)); a target's table replaces the "
        "top-level one.")
    fast_wheels: bool = key(
        True, "Resolve, download and install on the build platform for the target (its "
        "markers and wheel tags); compile under emulation only what has no wheel for it (see "
        f"{_NATIVE_SPEED}).")
    cross: CrossConfig = key(
        NO_CROSS_SETTINGS, f"Cross-compiling (see {_CROSS}); a target's table replaces the "
        "top-level one.")
    publish_wheels: bool = key(
        False, "Also build `<image>-wheels:<tag>`, a `FROM scratch` multi-platform image "
        "holding only the wheels.")
    wheels_from: tuple[tuple[str, str], ...] = key(
        (), "Wheel images (`\"ghcr.io/acme/base-wheels:1.4\"`) or project directories (flat, "
        "or as `--export-wheels` writes them) whose wheels the wheel stage starts from: only "
        "what is missing is built.", check=checks.wheel_sources, path=True)
    dockerfile: str | None = key(
        None, "Use this Dockerfile (relative to the project) instead of generating one; bslim "
        "then writes only the bake file.", kind="str", check=checks.project_file, path=True)
    # key -> "default" | "derived" | "tool.slim" | "tool.slim.targets.<name>"
    sources: tuple[tuple[str, str], ...] = field(default=(), compare=False)


@dataclass(frozen=True, kw_only=True)
class Config:
    project: ProjectMeta
    targets: tuple[TargetConfig, ...]
    output_dir: str = key(
        "bake", "Where generated files go, relative to the project: a directory of its own "
        "(one holding other files is refused, since it is left out of the build context).",
        check=checks.output_dir, path=True, top_only=True)
    tags: TagRules = key(DEFAULT_RULES, "Rules of `bslim tags` and `bslim release` (see "
                         "[Releasing](#releasing)).", top_only=True)
    reproducible: bool = key(
        False, "Build every image reproducibly, as `bslim bake --reproducible` does (see "
        "[Reproducible images](#reproducible-images)).", top_only=True)


@dataclass(frozen=True)
class KeyTable:
    """The keys of `[tool.slim]`, from the models that declare them. Everything that lists keys
    (parsing, reading, the schema, `bslim config`, the README) takes one; a test builds one
    with a model that declares an extra key."""

    config: type[Config] = Config
    target: type[TargetConfig] = TargetConfig

    @cached_property
    def top_only(self) -> tuple[Key, ...]:
        return tuple(k for k in keys_of(self.config) if k.top_only)

    @cached_property
    def per_target(self) -> tuple[Key, ...]:
        return keys_of(self.target)

    @cached_property
    def keys(self) -> tuple[Key, ...]:
        """Every key [tool.slim] may hold, but `targets`: those of each target, then the top
        level's own."""
        return self.per_target + self.top_only


KEY_TABLE = KeyTable()
