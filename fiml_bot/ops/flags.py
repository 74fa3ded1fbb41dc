"""Feature flags: flagd's flag-file format, evaluated in process through the OpenFeature SDK.

The provider is our own small `FlagFileProvider` around `openfeature-flagd-core`, flagd's evaluator
(JSON Logic with `fractional`, `sem_ver`, `starts_with`, ...): the flagd provider package would bring
gRPC and protobuf into every start-up for a file we only read. `fractional` buckets hash
(flag key, targeting key) with MurmurHash3, as flagd does, so a learner's bucket is the same across
restarts, replicas and releases, each flag draws its own cohort, and a larger "on" share only adds
learners. The targeting key is the learner id (`telegram:123`).

A file is checked (`check_text`) before it replaces the flags in use: an invalid file keeps the last
good flags.
"""

from __future__ import annotations

import difflib
import hashlib
import itertools
import json
import logging
import threading
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, NoReturn

from openfeature import api
from openfeature.contrib.tools.flagd.core import FlagdCore
from openfeature.evaluation_context import EvaluationContext
from openfeature.event import ProviderEventDetails
from openfeature.exception import OpenFeatureError
from openfeature.flag_evaluation import FlagResolutionDetails, FlagValueType, Reason
from openfeature.provider import AbstractProvider
from openfeature.provider.metadata import Metadata

from fiml_cms import flagfile, versions
from fiml_cms.errors import ConfigError
from fiml_cms.findings import format_json_path
from fiml_cms.flagfile import CANARY_PREFIX, Canary
from fiml_cms.yamlfile import locate

from ..tutor.features import ATTRIBUTES, ContextSource, LearnerContext

log = logging.getLogger("fiml_bot.flags")

DOMAIN = "fiml"
_instances = itertools.count(1)
MAX_FILE = 1024 * 1024
# JSON Logic's forms its evaluator handles itself (not in its operator table), and flagd's `$ref`.
SPECIAL_FORMS = ("if", "?:", "and", "or", "filter", "reduce", "map", "all", "some", "none", "$ref")
MAX_DEPTH = 64  # nesting levels of the whole file; a targeting rule needs a handful

# The parts of flagd's flag-file schema (https://flagd.dev/schema/v0/flags.json) this bot relies on.
SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["flags"],
    "properties": {
        "$schema": {"type": "string"},
        "flags": {"type": "object", "additionalProperties": {"$ref": "#/$defs/flag"}},
        "$evaluators": {"type": "object"},
        "metadata": {"type": "object", "additionalProperties": {"type": ["string", "number", "boolean"]}},
    },
    "additionalProperties": False,
    "$defs": {
        "flag": {
            "type": "object",
            "required": ["state", "variants"],
            "properties": {
                "state": {"enum": ["ENABLED", "DISABLED"]},
                "variants": {"type": "object", "minProperties": 1},
                "defaultVariant": {"type": ["string", "null"]},
                "targeting": {"type": "object"},
                "metadata": {
                    "type": "object",
                    "additionalProperties": {"type": ["string", "number", "boolean"]},
                },
            },
            "additionalProperties": False,
        }
    },
}


@dataclass(frozen=True)
class FlagSet:
    """A checked flag file: the data flagd's evaluator loads, and a digest to notice changes."""

    data: Mapping[str, Any]
    digest: str
    source: str

    @property
    def flags(self) -> Mapping[str, Any]:
        return self.data.get("flags", {})

    def canaries(self) -> dict[str, Canary]:
        found = {}
        for key, flag in self.flags.items():
            canary = flagfile.canary_of(key, flag)
            if canary is not None:
                found[canary.lesson] = canary
        return found


EMPTY = FlagSet({"flags": {}}, "", "(no flag file)")


class FlagFileError(ConfigError):
    """A flag file that cannot be used; the message lists each problem as file:line:column."""

    def __init__(self, source: str, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__(
            f"{source}: {len(problems)} problem(s) in the flag file:\n" + "\n".join(self.problems)
        )


@lru_cache(maxsize=1)
def _flag_validator() -> Any:
    """The flag file's schema, compiled once per process rather than on every reload."""
    from fiml_cms.schema_errors import compile_validator

    return compile_validator(SCHEMA, validate_formats=False)


def check_text(text: str, source: str) -> FlagSet:
    """Schema and semantics of a flag file; FlagFileError names every problem's line and column."""
    try:
        data = flagfile.parse(text, source)
    except ConfigError as exc:  # a syntax error: one located problem, like any other (a reload counts it)
        raise FlagFileError(source, [str(exc)]) from None
    problems: list[tuple[tuple[Any, ...], str]] = _depth_problems(data)
    if problems:  # too deep to walk (or for flagd to evaluate): nothing else is checked
        return _raise_located(text, source, problems)
    from fiml_cms.schema_errors import schema_errors

    for error in schema_errors(_flag_validator(), SCHEMA, data):
        problems.extend(_schema_problems(error))
    if not problems:
        for name, rule in (data.get("$evaluators") or {}).items():
            problems.extend(_rule_problems(f"$evaluators.{name}", rule, ("$evaluators", name)))
        for key, flag in data["flags"].items():
            problems.extend(_rule_problems(repr(key), flag.get("targeting"), ("flags", key, "targeting")))
    if not problems:
        for key, flag in data["flags"].items():
            problems.extend(((("flags", key, *path), message) for path, message in _flag_problems(key, flag)))
    if not problems:
        try:
            FlagdCore().set_flags(
                json.loads(json.dumps(data))
            )  # flagd's own parse (it edits what it is given)
        except Exception as exc:
            problems.append(((), f"flagd cannot load the file: {exc}"))
    if problems:
        _raise_located(text, source, problems)
    return FlagSet(data, hashlib.sha256(text.encode("utf-8")).hexdigest(), source)


def _schema_problems(error: Any) -> list[tuple[tuple[Any, ...], str]]:
    """A schema error as problems; an unknown field at its own key, with the likely one (difflib)."""
    if error.kind != "AdditionalProperties" or not error.unexpected:
        return [(error.path, error.message)]
    from fiml_cms.suggest import suggest

    known = sorted((error.node or {}).get("properties", {}))
    return [
        ((*error.path, name), f"unknown field {name!r}{suggest(name, known)}") for name in error.unexpected
    ]


def _raise_located(text: str, source: str, problems: list[tuple[tuple[Any, ...], str]]) -> NoReturn:
    positions = locate(text, [(path, True) for path, _ in problems])
    lines = []
    for path, message in problems:
        line, column = positions[(path, True)]
        lines.append(f"{source}:{line}:{column}: {message} [{format_json_path(path)}]")
    raise FlagFileError(source, lines)


def _depth_problems(data: Any) -> list[tuple[tuple[Any, ...], str]]:
    """The first place nested deeper than MAX_DEPTH, found without recursion (a hostile file cannot
    exhaust the stack here, in the checks below or in flagd's evaluator, which recurses per level)."""
    stack: list[tuple[Any, tuple[Any, ...]]] = [(data, ())]
    while stack:
        node, path = stack.pop()
        if len(path) > MAX_DEPTH:
            return [(path[:MAX_DEPTH], f"nested deeper than {MAX_DEPTH} levels; flatten the rule")]
        if isinstance(node, dict):
            stack.extend((value, (*path, key)) for key, value in node.items())
        elif isinstance(node, list):
            stack.extend((value, (*path, i)) for i, value in enumerate(node))
    return []


def _rule_problems(name: str, node: Any, path: tuple[Any, ...]) -> list[tuple[tuple[Any, ...], str]]:
    """JSON Logic operators flagd knows, and `fractional` given an array: flagd would answer ERROR or
    the default for every learner instead."""
    from openfeature.contrib.tools.flagd.core.targeting.targeting import OPERATORS

    problems: list[tuple[tuple[Any, ...], str]] = []
    stack: list[tuple[Any, tuple[Any, ...]]] = [(node, path)]
    while stack:
        item, where = stack.pop()
        if isinstance(item, list):
            stack.extend((value, (*where, i)) for i, value in enumerate(item))
        elif isinstance(item, dict):
            if len(item) == 1:  # JSON Logic: a one-key object is an operation
                ((op, args),) = item.items()
                if op not in OPERATORS and op not in SPECIAL_FORMS:
                    known = ", ".join(sorted({*OPERATORS, *SPECIAL_FORMS}))
                    problems.append(((*where, op), f"{name}: unknown operator {op!r} (flagd knows: {known})"))
                elif op == "fractional" and not isinstance(args, list):
                    problems.append(
                        (
                            (*where, op),
                            f'{name}: fractional takes an array of [variant, weight] buckets, e.g. "fractional": [["on", 10], ["off", 90]], not {json.dumps(args)[:40]}',
                        )
                    )
            stack.extend((value, (*where, key)) for key, value in item.items())
    problems.reverse()  # in the file's order
    return problems


def _flag_problems(key: str, flag: dict[str, Any]) -> list[tuple[tuple[Any, ...], str]]:
    variants = flag["variants"]
    problems: list[tuple[tuple[Any, ...], str]] = []
    default = flag.get("defaultVariant")
    if default is not None and default not in variants:
        problems.append(
            (
                ("defaultVariant",),
                f"flag {key!r}: defaultVariant {default!r} is not one of its variants ({', '.join(variants)})",
            )
        )
    kinds = {_value_kind(v) for v in variants.values()}
    if len(kinds) > 1:
        problems.append(
            (
                ("variants",),
                f"flag {key!r}: variants mix value types ({', '.join(sorted(kinds))}); a flag has one type",
            )
        )
    problems.extend(_fractional_problems(key, flag.get("targeting"), variants, ("targeting",)))
    problems.extend(_attribute_problems(key, flag.get("targeting"), ("targeting",)))
    if key.startswith(CANARY_PREFIX):
        problems.extend(_canary_problems(key, flag))
    return problems


def _value_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return "string" if isinstance(value, str) else "object"


def _fractional_problems(
    key: str, node: Any, variants: Mapping[str, Any], path: tuple[Any, ...]
) -> list[tuple[tuple[Any, ...], str]]:
    """Every `fractional` inside the targeting names known variants with whole, non-negative weights."""
    problems: list[tuple[tuple[Any, ...], str]] = []
    if isinstance(node, list):
        for i, item in enumerate(node):
            problems.extend(_fractional_problems(key, item, variants, (*path, i)))
        return problems
    if not isinstance(node, dict):
        return problems
    for op, args in node.items():
        here = (*path, op)
        if op == "fractional" and isinstance(args, list):
            buckets = args[1:] if args and not isinstance(args[0], list) else args
            offset = len(args) - len(buckets)
            if not buckets:
                problems.append((here, f"flag {key!r}: fractional needs at least one [variant, weight]"))
            for i, bucket in enumerate(buckets):
                where = (*here, i + offset)
                if not isinstance(bucket, list) or not 1 <= len(bucket) <= 2:
                    problems.append((where, f"flag {key!r}: a fractional bucket is [variant, weight]"))
                    continue
                if bucket[0] not in variants:
                    problems.append(
                        (
                            where,
                            f"flag {key!r}: fractional names variant {bucket[0]!r}, which the flag does not have",
                        )
                    )
                weight = bucket[1] if len(bucket) == 2 else 1
                if isinstance(weight, bool) or not isinstance(weight, int) or weight < 0:
                    problems.append(
                        (where, f"flag {key!r}: a fractional weight is a whole number >= 0, not {weight!r}")
                    )
        problems.extend(_fractional_problems(key, args, variants, here))
    return problems


KNOWN_VARIABLES = ("targetingKey", *ATTRIBUTES)
_FLAGD_VARIABLES = "$flagd."  # flagd adds $flagd.flagKey and $flagd.timestamp itself


def _attribute_problems(key: str, node: Any, path: tuple[Any, ...]) -> list[tuple[tuple[Any, ...], str]]:
    """Every `{"var": NAME}` in the targeting names an attribute the bot sends: a rule on any other
    one would pass flagd and never match."""
    problems: list[tuple[tuple[Any, ...], str]] = []
    if isinstance(node, list):
        for i, item in enumerate(node):
            problems.extend(_attribute_problems(key, item, (*path, i)))
        return problems
    if not isinstance(node, dict):
        return problems
    for op, args in node.items():
        here = (*path, op)
        if op == "var":
            name = args[0] if isinstance(args, list) and args else args
            if isinstance(name, str) and not _known_variable(name):
                close = difflib.get_close_matches(name, KNOWN_VARIABLES, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                problems.append(
                    (
                        here,
                        f"flag {key!r}: a rule on {name!r}, which the bot does not send (it sends {', '.join(KNOWN_VARIABLES)}){hint}",
                    )
                )
            continue
        problems.extend(_attribute_problems(key, args, here))
    return problems


def _known_variable(name: str) -> bool:
    return name in KNOWN_VARIABLES or name.startswith(_FLAGD_VARIABLES)


def _canary_problems(key: str, flag: dict[str, Any]) -> list[tuple[tuple[Any, ...], str]]:
    canary = flagfile.canary_of(key, flag)
    if canary is None:
        return [
            (
                ("metadata",),
                f"flag {key!r}: a content canary needs metadata kind={flagfile.CANARY_KIND!r}, lesson, version and stable, and a fractional on/off targeting (as `fiml-cms tag --canary` writes)",
            )
        ]
    problems: list[tuple[tuple[Any, ...], str]] = []
    if key != flagfile.canary_key(canary.lesson):
        problems.append(
            (
                ("metadata", "lesson"),
                f"flag {key!r} is for lesson {canary.lesson!r}: its key must be {flagfile.canary_key(canary.lesson)!r}",
            )
        )
    parsed = {}
    for field_ in ("version", "stable"):
        try:
            parsed[field_] = versions.parse(getattr(canary, field_))
        except ValueError:
            problems.append(
                (
                    ("metadata", field_),
                    f"flag {key!r}: {field_} {getattr(canary, field_)!r} is not a semantic version",
                )
            )
    if len(parsed) == 2 and not parsed["stable"] < parsed["version"]:
        problems.append(
            (
                ("metadata", "stable"),
                f"flag {key!r}: the stable version {canary.stable} must be older than the canary {canary.version}",
            )
        )
    if set(flag["variants"]) != {"on", "off"}:
        problems.append((("variants",), f"flag {key!r}: a content canary has the variants on and off"))
    return problems


def read_file(path: Path) -> FlagSet:
    """The checked flag file at `path`; an absent file is no flags (every feature off, no canary)."""
    if not path.exists():
        return EMPTY
    try:
        if path.stat().st_size > MAX_FILE:
            raise FlagFileError(str(path), [f"{path}: larger than {MAX_FILE // 1024} KiB"])
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise FlagFileError(str(path), [f"{path}: cannot read: {exc}"]) from None
    return check_text(text, str(path))


# ---------------------------------------------------------------------------------------------- provider


class FlagFileProvider(AbstractProvider):
    """An OpenFeature provider that evaluates a flag file with flagd's in-process evaluator."""

    def __init__(self, flags: FlagSet = EMPTY) -> None:
        super().__init__()
        self._core = FlagdCore()
        self._lock = threading.Lock()
        self.flags = EMPTY
        self.replace(flags)

    def replace(self, flags: FlagSet) -> list[str]:
        """Swap in a checked flag set; the keys that changed."""
        with self._lock:
            changed = self._core.set_flags_and_get_changed_keys(json.loads(json.dumps(dict(flags.data))))
            self.flags = flags
        if changed:
            self.emit_provider_configuration_changed(
                ProviderEventDetails(flags_changed=changed, message=f"flags reloaded from {flags.source}")
            )
        return changed

    def get_metadata(self) -> Metadata:
        return Metadata(name="fiml-flag-file")

    def resolve_boolean_details(
        self, flag_key: str, default_value: bool, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[bool]:
        return self._core.resolve_boolean_value(flag_key, default_value, evaluation_context)

    def resolve_string_details(
        self, flag_key: str, default_value: str, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[str]:
        return self._core.resolve_string_value(flag_key, default_value, evaluation_context)

    def resolve_integer_details(
        self, flag_key: str, default_value: int, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[int]:
        return self._core.resolve_integer_value(flag_key, default_value, evaluation_context)

    def resolve_float_details(
        self, flag_key: str, default_value: float, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[float]:
        return self._core.resolve_float_value(flag_key, default_value, evaluation_context)

    def resolve_object_details(
        self,
        flag_key: str,
        default_value: Sequence[FlagValueType] | Mapping[str, FlagValueType],
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[Sequence[FlagValueType] | Mapping[str, FlagValueType]]:
        return self._core.resolve_object_value(flag_key, default_value, evaluation_context)


@dataclass(frozen=True)
class Explanation:
    """Why a learner gets what they get from a flag."""

    flag: str
    learner: str
    variant: str | None
    value: Any
    reason: str
    error: str | None = None
    bucket: int | None = (
        None  # the learner's fractional bucket, 0-99 (when the targeting is a plain fractional)
    )
    shares: tuple[tuple[str, int], ...] = ()  # (variant, percent) in bucket order
    canary: Canary | None = None
    context: Mapping[str, Any] = field(default_factory=dict)  # the evaluation context's attributes

    def render(self, served: str | None = None) -> str:
        lines = [f"flag: {self.flag}", f"learner: {self.learner}"]
        if self.context:
            lines.append(
                "context: "
                + ", ".join(
                    f"{k}={json.dumps(v) if v != '' else '(unknown)'}" for k, v in self.context.items()
                )
            )
        if self.shares:
            ranges, start = [], 0
            for variant, percent in self.shares:
                ranges.append(f"{variant} {start}-{start + percent - 1}" if percent else f"{variant} (none)")
                start += percent
            lines.append(f"fractional: buckets 0-99 by murmur3 of (flag, learner): {', '.join(ranges)}")
        if self.bucket is not None:
            lines.append(f"bucket: {self.bucket}")
        lines.append(
            f"variant: {self.variant if self.variant is not None else '(default value)'} = {json.dumps(self.value)}"
        )
        lines.append(f"reason: {self.reason}" + (f" ({self.error})" if self.error else ""))
        if self.canary is not None:
            c = self.canary
            lines.append(
                f"canary: lesson {c.lesson} {c.version} for {c.percent} % of new starts, else {c.stable}"
            )
        if served:
            lines.append(f"learner sees: {served}")
        return "\n".join(lines)

    def as_json(self, served: str | None = None) -> dict[str, Any]:
        """`flags explain --json`'s payload: the same facts as `render`, each in a field of its own."""
        return {
            "flag": self.flag,
            "learner": self.learner,
            "context": dict(self.context),
            "shares": [{"variant": variant, "percent": percent} for variant, percent in self.shares],
            "bucket": self.bucket,
            "variant": self.variant,
            "value": self.value,
            "reason": self.reason,
            "error": self.error,
            "canary": asdict(self.canary) if self.canary is not None else None,
            "served": served,
        }


@dataclass
class FeatureFlags:
    """The bot's flags: an OpenFeature client on our provider. Implements the tutor's `Features`."""

    provider: FlagFileProvider = field(default_factory=FlagFileProvider)
    domain: str = ""

    def __post_init__(self) -> None:
        # OpenFeature keeps providers in a global registry: a domain of its own per instance keeps two
        # bots in one process (tests, a blue and a green in one interpreter) from sharing flags.
        self.domain = self.domain or f"{DOMAIN}-{next(_instances)}"
        # Waiting matters: the SDK initializes providers in a background thread, and until then it
        # answers every evaluation with the default (a cohort learner would get the stable version).
        api.set_provider_and_wait(self.provider, domain=self.domain)
        self.client = api.get_client(self.domain)

    @property
    def flags(self) -> FlagSet:
        return self.provider.flags

    def enabled(self, flag: str, learner_id: str, context: ContextSource | None = None) -> bool:
        if flag not in self.provider.flags.flags:  # the common case for a dark feature: skip the SDK's hooks
            return False
        return self.client.get_boolean_value(flag, False, evaluation_context(learner_id, context))

    def canaries(self) -> dict[str, Canary]:
        return self.provider.flags.canaries()

    def explain(self, flag: str, learner_id: str, context: LearnerContext | None = None) -> Explanation:
        """Why `learner_id` gets what they get; `context` is what the bot knows of them (defaults if None)."""
        context = context or LearnerContext()
        definition = self.provider.flags.flags.get(flag)
        if definition is None:
            from fiml_cms.suggest import suggest

            known = sorted(self.provider.flags.flags)
            raise ConfigError(
                f"no flag {flag!r} in {self.provider.flags.source}{suggest(flag, known)} (known: {', '.join(known) or 'none'})"
            )
        default = _default_for(definition)
        try:
            details = (
                self.client.get_object_details(flag, default, evaluation_context(learner_id, lambda: context))
                if isinstance(default, (dict, list))
                else _typed_details(
                    self.client, flag, default, evaluation_context(learner_id, lambda: context)
                )
            )
        except OpenFeatureError as exc:  # pragma: no cover - the client reports errors in the details
            raise ConfigError(f"flag {flag!r}: {exc}") from None
        shares = _shares(definition)
        return Explanation(
            flag,
            learner_id,
            details.variant,
            details.value,
            str(details.reason.value if isinstance(details.reason, Reason) else details.reason),
            details.error_message,
            bucket(flag, learner_id) if shares else None,
            shares,
            flagfile.canary_of(flag, definition),
            context.attributes(),
        )


def _default_for(definition: Mapping[str, Any]) -> Any:
    variants = definition["variants"]
    sample = (
        variants.get(definition.get("defaultVariant"))
        if definition.get("defaultVariant") in variants
        else next(iter(variants.values()))
    )
    return {"boolean": False, "number": 0.0, "string": ""}.get(_value_kind(sample), {})


def evaluation_context(learner_id: str, context: ContextSource | None) -> EvaluationContext:
    """The targeting key (sticky buckets) and, when given, what the bot knows of the learner."""
    if context is None:
        return EvaluationContext(targeting_key=learner_id)
    return EvaluationContext(targeting_key=learner_id, attributes=context().attributes())


def _typed_details(client: Any, flag: str, default: Any, context: EvaluationContext) -> Any:
    if isinstance(default, bool):
        return client.get_boolean_details(flag, default, context)
    if isinstance(default, float):
        return client.get_float_details(flag, default, context)
    return client.get_string_details(flag, default, context)


def _shares(definition: Mapping[str, Any]) -> tuple[tuple[str, int], ...]:
    """(variant, percent) of a targeting that is exactly one shorthand `fractional`."""
    targeting = definition.get("targeting")
    if (
        not isinstance(targeting, dict)
        or list(targeting) != ["fractional"]
        or definition.get("state") == "DISABLED"
    ):
        return ()
    buckets = targeting["fractional"]
    if not buckets or not all(isinstance(b, list) for b in buckets):
        return ()
    weights = [(str(b[0]), b[1] if len(b) == 2 else 1) for b in buckets]
    total = sum(w for _, w in weights)
    return tuple((v, round(100 * w / total)) for v, w in weights) if total else ()


def bucket(flag: str, learner_id: str, total: int = 100) -> int:
    """The learner's bucket in a shorthand `fractional`, as flagd computes it (for `flags explain`):
    MurmurHash3 (x86, 32 bit) of the canonical CBOR of [flag key, targeting key], scaled to `total`."""
    import cbor2
    import mmh3

    return (mmh3.hash(cbor2.dumps([flag, learner_id], canonical=True), signed=False) * total) >> 32
