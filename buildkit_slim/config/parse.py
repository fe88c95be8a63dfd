"""Parse `[tool.slim]` into the model (pure): every key by its declaration, then the rules that
tie keys together (base images, derived values, overlapping directories).

`parse` reports every problem at once, each under its full dotted key, as one ConfigError.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from pathlib import PurePosixPath
from typing import Any, cast

from packaging.utils import canonicalize_name

from buildkit_slim.config.checks import DEBIAN_RELEASES, IMAGE_REF_RE, REPOSITORY_RE, Context
from buildkit_slim.config.model import KEY_TABLE, Config, KeyTable, TargetConfig
from buildkit_slim.config.problems import (
    NO_CONTROL,
    NO_CREDENTIALS,
    Problems,
    control_characters,
    credentials,
    describe,
    dotted,
    suggest,
)
from buildkit_slim.config.project import ProjectMeta, ProjectSource, parse_project
from buildkit_slim.errors import ConfigError
from buildkit_slim.keys import KINDS, REFUSED, Key, keys_of

# A target name begins its Dockerfile stage names (`<name>-fetch`), which BuildKit lowercases and
# then requires to match ^[a-z][a-z0-9-_.]*$ (moby/buildkit frontend/dockerfile/instructions/
# parse.go) and, looking each up as a named context, to be an image name (distribution/
# reference: letters and digits separated by one '_', two '_' or a run of '-'); it also names
# a bake target, which buildx allows [a-zA-Z0-9_-] in. Long enough for any name, short enough
# for the 255 characters of a reference with bslim's suffixes and docker.io/library/.
TARGET_NAME_RE = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:(?:__?|-+)[A-Za-z0-9]+)*-*")
TARGET_NAME_MAX = 128
TARGET_NAME_RULE = (
    "a target name is a letter, then letters and digits, which one '_', two '_' or a run of "
    f"'-' may separate, at most {TARGET_NAME_MAX} characters (it begins Dockerfile stage "
    "names, which BuildKit requires to start with a letter and reads as image names)")
# Bake targets bslim adds beside a target: its wheel image (publish-wheels; blueprint.WHEELS_SUFFIX)
# and, per run, `bake --export-wheels` and `bslim plan` (apply.EXPORT_SUFFIX, PLAN_SUFFIX).
DERIVED_TARGETS = (("-wheels", "its wheel image, publish-wheels"),
                   ("-export-wheels", "bake --export-wheels"), ("-plan", "bslim plan"))
_PLACEHOLDER_RE = re.compile(r"\{([^{}]*)\}")
_TYPES: dict[str, type | tuple[type, ...]] = {
    "str": str, "bool": bool, "int": int, "list": (list, tuple), "table": dict,
    "str-or-false": (str, bool)}


def parse(source: ProjectSource, table: KeyTable = KEY_TABLE) -> Config:
    """Pure: the whole configuration, or a ConfigError listing every problem at once."""
    problems = Problems()
    project = parse_project(source.pyproject, problems)
    tool = source.pyproject.get("tool", {})
    slim = tool.get("slim") if isinstance(tool, dict) else None
    if slim is None:
        raise ConfigError(["tool.slim: no [tool.slim] table in pyproject.toml; "
                           "run `bslim init` to add one"])
    if not isinstance(slim, dict):
        raise ConfigError([f"tool.slim: must be a table, got {describe(slim)}"])
    ctx = Context(problems, project, source)

    allowed = [*(k.name for k in table.keys), "targets"]
    for name in slim:
        if name not in allowed:
            problems.add(f"tool.slim.{dotted(name)}", "unknown key" + suggest(name, allowed))
    top_only = {k.attr: _value(k, slim, f"tool.slim.{k.name}", ctx) for k in table.top_only}
    target_tables = _target_tables(slim, project, table, problems)
    targets = [_parse_target(name, slim, own, table, ctx) for name, own in target_tables]
    seen: dict[str, str] = {}
    for target in targets:
        if target.image in seen:
            problems.add(f"tool.slim.targets.{target.name}.image",
                         f"{target.image!r} is already the image of target "
                         f"'{seen[target.image]}'; give each target its own image")
        seen.setdefault(target.image, target.name)
    config = table.config(project=project, targets=tuple(targets), **top_only)
    _check_target_names(config.targets, problems)
    _check_output_dir(config, table, problems)
    _check_cache_dirs(config, source, problems)
    if problems.items:
        raise ConfigError(problems.items)
    return config


def check_value(decl: Key, raw: Any, key: str, ctx: Context) -> Any:
    """Type-check and validate one value; returns it parsed (tuples for arrays)."""
    if raw is None:  # a default that means "unset" or "derived"
        return None
    # A sub-table's own keys are checked one by one, so that each problem in it is reported.
    whole = decl.table is None or not isinstance(raw, dict)
    # The fences every [tool.slim] string passes, keys of tables included: a newline would
    # start a new Dockerfile instruction; every value reaches a generated file or the image,
    # where a URL's credentials must not. The checks are the second.
    bad = [(k, NO_CONTROL) for k in control_characters(raw, key)] if whole else []
    bad = bad or ([(k, NO_CREDENTIALS) for k in credentials(raw, key)] if whole else [])
    if bad:
        for item_key, message in bad:
            ctx.add(item_key, message)
        return _fallback(decl, ctx)
    # `type(...) is bool`: a boolean is an int to isinstance (sha-length = true).
    if not isinstance(raw, _TYPES[decl.kind]) or (
            decl.kind not in ("bool", "str-or-false") and type(raw) is bool) or (raw is True and \
            decl.kind == "str-or-false"):
        ctx.add(key, f"must be {KINDS[decl.kind]}, got {describe(raw)}")
        # Carry on with the (valid) default so that later checks see a well-typed value.
        return _fallback(decl, ctx)
    if decl.table is not None:
        return _parse_table(decl, cast("dict[str, Any]", raw), key, ctx)
    value = decl.check(raw, key, ctx) if decl.check else raw
    if value is REFUSED:
        return _fallback(decl, ctx)
    return tuple(value) if isinstance(value, list) else value


def default_value(decl: Key, key: str, ctx: Context) -> Any:
    """A key's default, parsed: checked too, for what it names in the project (output-dir)."""
    return decl.default if decl.table is not None else check_value(decl, decl.default, key, ctx)


def _fallback(decl: Key, ctx: Context) -> Any:
    """The default in place of a value already reported: its own problems are no news."""
    return default_value(decl, decl.name, replace(ctx, problems=Problems()))


def _value(decl: Key, table: Mapping[str, Any], key: str, ctx: Context) -> Any:
    if decl.name in table:
        return check_value(decl, table[decl.name], key, ctx)
    return default_value(decl, key, ctx)


def _parse_table(decl: Key, raw: dict[str, Any], key: str, ctx: Context) -> Any:
    """A sub-table: its model built from its keys' values, checked in the order of the file."""
    assert decl.table is not None
    keys = {k.name: k for k in keys_of(decl.table)}
    values: dict[str, Any] = {}
    for name, value in raw.items():
        if name in keys:
            values[keys[name].attr] = check_value(keys[name], value, f"{key}.{name}", ctx)
        else:
            ctx.add(f"{key}.{dotted(name)}", "unknown key" + suggest(name, list(keys)))
    # A model may refuse values itself with a ValueError, one problem a line, each starting
    # with its dotted key, as TagRules does. One value at a time first, then those fine alone
    # all together (a bad value does not hide that two others do not go together).
    fine: dict[str, Any] = {}
    for attr, value in values.items():
        try:
            decl.table(**{attr: value})
        except ValueError as exc:
            _report(exc, ctx)
        else:
            fine[attr] = value
    try:
        together = decl.table(**fine)
    except ValueError as exc:  # values that are fine alone but not together
        _report(exc, ctx)
        return decl.default
    return together if len(fine) == len(values) else decl.default


def _report(refused: ValueError, ctx: Context) -> None:
    for line in str(refused).splitlines():
        item_key, _, message = line.partition(": ")
        ctx.add(item_key, message)


def _target_tables(slim: Mapping[str, Any], project: ProjectMeta, table: KeyTable,
                   problems: Problems) -> list[tuple[str, dict[str, Any]]]:
    """(name, own table) of each target, and what is wrong with their names and keys."""
    raw_targets = slim.get("targets", {})
    if not isinstance(raw_targets, dict):
        problems.add("tool.slim.targets",
                     f"must be a table of tables, got {describe(raw_targets)}")
        raw_targets = {}
    per_target = {k.name for k in table.per_target}
    top_only = {k.name: k for k in table.top_only}
    names = [k.name for k in table.keys]
    out: list[tuple[str, dict[str, Any]]] = []
    for name, own in raw_targets.items():
        prefix = f"tool.slim.targets.{dotted(name)}"
        if not TARGET_NAME_RE.fullmatch(name) or len(name) > TARGET_NAME_MAX:
            problems.add(prefix, TARGET_NAME_RULE)
            continue
        if not isinstance(own, dict):
            problems.add(prefix, f"must be a table, got {describe(own)}")
            continue
        for key in own:
            if key in top_only:  # `tags`: one set of rules per project, `bslim tags` has no target
                where = f"tool.slim.{key}" if top_only[key].table else "tool.slim"
                problems.add(f"{prefix}.{key}", f"can only be set at the top level ({where})")
            elif key not in per_target:
                problems.add(f"{prefix}.{dotted(key)}", "unknown key" + suggest(key, names))
        out.append((name, {k: v for k, v in own.items() if k in per_target}))
    if not raw_targets:
        out.append((_default_target_name(project.name), {}))
    return out


def _parse_target(name: str, top: Mapping[str, Any], own: Mapping[str, Any], table: KeyTable,
                  ctx: Context) -> TargetConfig:
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    keys: dict[str, str] = {}
    for decl in table.per_target:
        origin, values_from = (f"tool.slim.targets.{name}", own) if decl.name in own else \
            ("tool.slim", top) if decl.name in top else ("default", {})
        keys[decl.attr] = f"{origin if values_from else 'tool.slim'}.{decl.name}"
        values[decl.attr] = _value(decl, values_from, keys[decl.attr], ctx)
        sources[decl.name] = origin
    _derive(values, sources, keys, ctx)
    return table.target(name=name, sources=tuple(sorted(sources.items())), **values)


def _derive(values: dict[str, Any], sources: dict[str, str], keys: dict[str, str],
            ctx: Context) -> None:
    """The rules between keys: base images filled in and matched, image and entrypoint
    derived from the project when not set."""
    python, debian = values["python"], values["debian"]
    for attr in ("builder_base", "runtime_base"):
        values[attr] = _fill_base(values[attr], python, debian, keys[attr], ctx.problems)
    _check_bases_match(values["builder_base"], values["runtime_base"], keys["runtime_base"],
                       ctx.problems)
    if values["image"] is None:
        image = values["image"] = str(canonicalize_name(ctx.project.name))
        sources["image"] = "derived"
        if not REPOSITORY_RE.fullmatch(image):
            ctx.add(keys["image"], f"project name {ctx.project.name!r} is not a valid image "
                    "repository; set image = \"registry/owner/name\"")
    _derive_lock(values, sources, keys, ctx)
    if values["entrypoint"] is None and values["dockerfile"] is None:
        values["entrypoint"] = default_entrypoint(ctx.project, ctx.source, keys["entrypoint"],
                                                  ctx.problems)
        sources["entrypoint"] = "derived"
    values["entrypoint"] = tuple(values["entrypoint"] or ())


def _derive_lock(values: dict[str, Any], sources: dict[str, str], keys: dict[str, str],
                 ctx: Context) -> None:
    """`lock` unset: uv.lock or pylock.toml beside pyproject.toml (never a guess between
    both). A lock pins every dependency by hash, so what would change them is refused."""
    found = ctx.source.found_locks
    if sources["lock"] == "default" and values["dockerfile"] is None:
        if len(found) > 1:
            ctx.add(keys["lock"], f"not set, and both {' and '.join(found)} are beside "
                    "pyproject.toml: bslim does not guess which one the image is built from; "
                    f"set lock = \"{found[0]}\" (or false)")
        elif found:
            values["lock"], sources["lock"] = found[0], "derived"
    lock = values["lock"]
    if lock is None:
        return
    said = f"the lock {lock!r}" + (" (found beside pyproject.toml)"
                                   if sources["lock"] == "derived" else "")
    if values["dockerfile"] is not None:
        ctx.add(keys["lock"], f"{lock!r}: with dockerfile set, your Dockerfile installs the "
                "dependencies, not bslim; remove one of them")
    if values["requirements"] is not None:
        ctx.add(keys["requirements"], f"{values['requirements']!r}: {said} pins every "
                "dependency by hash, constraints would change nothing; remove requirements, "
                "or set lock = false")
    if values["wheels_from"]:
        ctx.add(keys["wheels_from"], f"{said} installs only files whose sha256 it records, "
                "and wheels compiled elsewhere have other hashes; remove wheels-from, or set "
                "lock = false")


def default_entrypoint(
    project: ProjectMeta, source: ProjectSource, key: str, problems: Problems
) -> tuple[str, ...] | None:
    if len(project.scripts) == 1:
        return (project.scripts[0],)
    if len(project.scripts) > 1:
        problems.add(key, f"not set, and [project.scripts] has {len(project.scripts)} entries "
                     f"({', '.join(project.scripts)}); set entrypoint = [\"{project.scripts[0]}\"]")
        return None
    module = project.name.replace("-", "_").lower()
    if module in source.main_packages:
        return ("python", "-m", module)
    if len(source.main_packages) == 1:
        return ("python", "-m", source.main_packages[0])
    problems.add(key, "not set, and there is no default: the project has no [project.scripts] "
                 f"entry and no {module}/__main__.py; set entrypoint = [\"python\", \"-m\", "
                 f"\"{module}\"] or similar")
    return None


def _fill_base(template: str, python: str, debian: str, key: str, problems: Problems) -> str:
    unknown = [p for p in _PLACEHOLDER_RE.findall(template) if p not in ("python", "debian")]
    if unknown:
        problems.add(key, f"unknown placeholder {{{unknown[0]}}}; valid: {{python}}, {{debian}}")
        return template
    filled = template.replace("{python}", python).replace("{debian}", debian)
    if not IMAGE_REF_RE.fullmatch(filled):
        problems.add(key, f"{filled!r} is not a valid image reference (e.g. python:3.13-trixie)")
    return filled


def _tag_of(image: str) -> str:
    return image.rsplit(":", 1)[1] if ":" in image.rsplit("/", 1)[-1] else ""


def _release_in(image: str) -> str | None:
    found = [r for r in DEBIAN_RELEASES if re.search(rf"(^|-){r}($|-)", _tag_of(image))]
    return found[0] if found else None


def _python_in(image: str) -> str | None:
    match = re.match(r"^(3\.[0-9]{1,2})(?:[.-]|$)", _tag_of(image))
    return match.group(1) if match else None


def _check_bases_match(builder: str, runtime: str, key: str, problems: Problems) -> None:
    """Wheels built on one glibc/Python must run on the other: flag obvious mismatches."""
    b_rel, r_rel = _release_in(builder), _release_in(runtime)
    if b_rel and r_rel and b_rel != r_rel:
        problems.add(key, f"{runtime!r} is Debian {r_rel} but builder-base {builder!r} is "
                     f"{b_rel}; wheels must be built on the runtime's Debian release (glibc)")
    b_py, r_py = _python_in(builder), _python_in(runtime)
    if b_py and r_py and b_py != r_py:
        problems.add(key, f"{runtime!r} is Python {r_py} but builder-base {builder!r} is "
                     f"Python {b_py}; both stages need the same Python")


def _check_target_names(targets: tuple[TargetConfig, ...], problems: Problems) -> None:
    """Names BuildKit and buildx would see as one: the same once lowercased (stage names), or
    a bake target bslim derives from another target's name."""
    seen: dict[str, str] = {}
    for target in targets:
        folded = target.name.lower()
        if folded in seen:
            problems.add(f"tool.slim.targets.{target.name}",
                         f"is target '{seen[folded]}' but for case: BuildKit lowercases stage "
                         "names, so both would be one; give it a name of its own")
        seen.setdefault(folded, target.name)
    for target in targets:
        for other in targets:
            for suffix, what in DERIVED_TARGETS:
                if target.name.lower() == other.name.lower() + suffix:
                    problems.add(f"tool.slim.targets.{target.name}",
                                 f"'{other.name}{suffix}' is the bake target bslim adds for "
                                 f"target '{other.name}' ({what}); give this target another "
                                 "name")


def _project_paths(target: TargetConfig, table: KeyTable) -> list[tuple[str, str]]:
    """(dotted key, path) of every path in the project a target's keys name (`path=True`), but
    those of sub-tables (cache.local has rules of its own)."""
    sources = dict(target.sources)
    out: list[tuple[str, str]] = []
    for decl in table.per_target:
        value = getattr(target, decl.attr)
        if not decl.path or decl.table is not None or not value:
            continue
        key = f"{sources.get(decl.name, 'tool.slim')}.{decl.name}"
        if isinstance(value, str):
            out.append((key, value))
            continue
        for index, item in enumerate(value):
            # wheels-from: (kind, value), of which only directories are paths
            path = item if isinstance(item, str) else item[1] if item[0] == "dir" else None
            if path is not None:
                out.append((f"{key}[{index}]", path))
    return out


def _check_output_dir(config: Config, table: KeyTable, problems: Problems) -> None:
    """bslim writes (and replaces) what is in the output directory: no key may name a path
    there, or the user's file would be overwritten (or a generated one used as theirs)."""
    output = PurePosixPath(config.output_dir).parts
    for target in config.targets:
        for key, path in _project_paths(target, table):
            if PurePosixPath(path).parts[:len(output)] == output:
                problems.add(key, f"{path!r} is inside tool.slim.output-dir "
                             f"{config.output_dir!r}, where bslim writes (and replaces) the "
                             "generated files; keep it elsewhere, or give output-dir a "
                             "directory of its own")


def _check_cache_dirs(config: Config, source: ProjectSource, problems: Problems) -> None:
    """cache.local is rotated (the old directory deleted): it must not overlap anything else."""
    for target in config.targets:
        local = target.cache.local
        if local is None:
            continue
        key = ("tool.slim.cache.local" if dict(target.sources).get("cache") != f"tool.slim."
               f"targets.{target.name}" else f"tool.slim.targets.{target.name}.cache.local")
        others = [config.output_dir, *(p for p in (target.requirements, target.dockerfile)
                                       if p), *target.find_links,
                  *(p for kind, p in target.wheels_from if kind == "dir")]
        if PurePosixPath(local).parts == ():
            problems.add(key, f"{local!r} is the project itself; use a directory of its own, "
                         "e.g. \".cache/buildkit\"")
            continue
        for other in others:
            if _overlap(local, other):
                problems.add(key, f"{local!r} overlaps {other!r}; the cache is replaced after "
                             "every build: use a directory of its own, e.g. \".cache/buildkit\"")
        base = f"{local}/{target.name}"
        for path in sorted(source.not_caches):
            if path == base or path.startswith((f"{base}-", f"{base}.")):
                problems.add(key, f"{path!r} is not a build cache (bslim replaces "
                             f"{base!r} after every build); use a directory of its own, e.g. "
                             "\".cache/buildkit\"")


def _overlap(a: str, b: str) -> bool:
    pa, pb = PurePosixPath(a).parts, PurePosixPath(b).parts
    return pa[:len(pb)] == pb or pb[:len(pa)] == pa


def _default_target_name(project_name: str) -> str:
    name = re.sub(r"[^a-zA-Z0-9_-]+", "-", str(canonicalize_name(project_name))).strip("-")
    return name or "app"
