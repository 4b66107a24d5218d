"""The policy file (TOML): loaded, validated, and turned into plain objects.

Errors name the key and the bad value, e.g. `priorities.High.response: "1 dya" is not a duration`.
"""

from __future__ import annotations

import difflib
import hashlib
import itertools
import json
import tomllib
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .calendar import (
    BusinessCalendar,
    CalendarError,
    DateRule,
    DayOff,
    PartialClosure,
    parse_clock,
    parse_window,
)
from .concepts import STEMMERS, Concept, ConceptMatcher, Language, Stemmer, Term, parse_term
from .durations import Duration, DurationError, parse_duration, parse_range
from .text import normalize

KINDS = ("standard", "third_party", "operations", "billable")
PRIORITY_CHANGE_MODES = ("restart_at_change", "from_creation")
DEADLINE_NAMES = ("response_due", "resolution_target", "resolution_due")
DAY_KEYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MATCH_FIELDS = (
    "category",
    "subCategory",
    "classification",
    "product",
    "channel",
    "department",
    "account",
)


class PolicyError(ValueError):
    """The policy file is wrong; the message names the key and the value."""


@dataclass(frozen=True)
class Targets:
    calendar: str
    response: Duration
    resolution_target: Duration
    resolution_due: Duration


@dataclass(frozen=True)
class Priority:
    key: str
    names: tuple[str, ...]
    rank: int  # 1 = most urgent
    zoho_value: str
    targets: Targets


@dataclass(frozen=True)
class Readings:
    priority_change: str = "restart_at_change"
    escalation_never_later: tuple[str, ...] = ("resolution_due",)
    pause_status_types: tuple[str, ...] = ("On Hold",)
    pause_statuses: tuple[str, ...] = ()
    never_pause_statuses: tuple[str, ...] = ()
    warning_fraction: float = 0.75

    def pauses(self, status: str | None, status_type: str | None) -> bool:
        """Whether a ticket in this status (and Zoho status type) has its clocks stopped."""
        never, always, types = self._normalized
        name = normalize(status or "")
        if name and name in never:
            return False
        if name and name in always:
            return True
        return normalize(status_type or "") in types

    @cached_property
    def _normalized(self) -> tuple[set[str], set[str], set[str]]:
        return (
            {normalize(s) for s in self.never_pause_statuses},
            {normalize(s) for s in self.pause_statuses},
            {normalize(s) for s in self.pause_status_types},
        )


@dataclass(frozen=True)
class Rule:
    id: str
    priority: str
    kind: str = "standard"
    vendor: str = ""
    description: str = ""
    fields: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (field, normalized accepted values)
    # The rule holds when one group of `when` holds (every concept of the group found) or, for
    # rules written with plain keywords, one keyword appears; a concept of `unless` vetoes it.
    # Keywords are kept as the concepts "<rule id>" and "<rule id>.exclude".
    when: tuple[tuple[str, ...], ...] = ()
    unless: tuple[str, ...] = ()
    together: bool = False  # the concepts of a group must be found in one clause


@dataclass(frozen=True)
class DedicatedPlan:
    id: str
    name: str
    accounts: tuple[str, ...]
    account_field: tuple[str, tuple[str, ...]] | None
    valid_from: date | None
    valid_to: date | None
    targets: dict[str, Targets]

    def covers(self, day: date) -> bool:
        return (self.valid_from is None or self.valid_from <= day) and (
            self.valid_to is None or day <= self.valid_to
        )


@dataclass(frozen=True)
class KindSettings:
    third_party_follow_up: Duration = Duration(days=1)
    vendors: tuple[str, ...] = ()
    third_party_wait_statuses: tuple[str, ...] = ("Waiting on third party",)
    eta_reminder: Duration = Duration(seconds=4 * 3600)
    quote_pending_statuses: tuple[str, ...] = ()
    quote_pending_values: tuple[str, ...] = ()

    def quote_pending(self, status: str, quote_status: str) -> bool:
        """Whether the ticket waits for the customer to authorise a quote."""
        statuses, values, _ = self._normalized
        return normalize(status) in statuses or bool(
            quote_status and normalize(quote_status) in values
        )

    def waits_on_vendor(self, status: str) -> bool:
        return normalize(status) in self._normalized[2]

    @cached_property
    def _normalized(self) -> tuple[set[str], set[str], set[str]]:
        return (
            {normalize(s) for s in self.quote_pending_statuses},
            {normalize(v) for v in self.quote_pending_values},
            {normalize(s) for s in self.third_party_wait_statuses},
        )


@dataclass(frozen=True)
class FieldNames:
    response_due: str = "cf_sla_response_due"
    resolution_target: str = "cf_sla_resolution_target"
    resolution_due: str = "cf_sla_resolution_due"
    status: str = "cf_sla_status"
    rule: str = "cf_sla_rule"
    eta: str = "cf_eta"
    quote_status: str = "cf_quote_status"
    write_due_date: bool = True
    zoho_sla_departments: tuple[str, ...] = ()

    def writes_due_date(self, department_id: str) -> bool:
        return self.write_due_date and department_id not in self.zoho_sla_departments


@dataclass(frozen=True)
class Policy:
    name: str
    version: str
    timezone: str
    language: str
    default_priority: str
    readings: Readings
    calendars: dict[str, BusinessCalendar]
    priorities: dict[str, Priority]
    rules: tuple[Rule, ...]
    plans: tuple[DedicatedPlan, ...] = ()
    kinds: KindSettings = field(default_factory=KindSettings)
    fields: FieldNames = field(default_factory=FieldNames)
    language_settings: Language = field(default_factory=Language)
    concepts: tuple[Concept, ...] = ()
    subject_first: bool = True
    # What was loaded: the TOML text (kept so a later version can say what changed) and a digest
    # of its content, so an edit that forgets to bump `version` is still a new revision.
    source: str = field(default="", repr=False, compare=False)
    fingerprint: str = ""

    @property
    def revision(self) -> str:
        """The version tickets record: the declared `version` and the content's digest."""
        return f"{self.version[:40]}+{self.fingerprint}" if self.fingerprint else self.version

    @cached_property
    def matcher(self) -> ConceptMatcher:
        """The compiled concepts (built once per loaded policy)."""
        return ConceptMatcher(self.language_settings, self.concepts)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def priority(self, name: str) -> Priority:
        """The priority called `name` in English or Spanish, any case, with or without accents."""
        priority = self.priorities.get(name) or self._aliases.get(normalize(name))
        if priority is not None:
            return priority
        known = ", ".join(self.priorities)
        raise PolicyError(f'unknown priority "{name}" (known: {known})')

    @cached_property
    def _aliases(self) -> dict[str, Priority]:
        return priority_aliases(self.priorities)

    def find_priority(self, name: str | None) -> Priority | None:
        if not name:
            return None
        try:
            return self.priority(name)
        except PolicyError:
            return None


# ------------------------------------------------------------------------------------------------
# Loading


def shipped_policy_path() -> Path:
    return Path(str(resources.files("integration.rules") / "ignus.toml"))


def load_policy(path: str | Path | None = None) -> Policy:
    """Load and validate a policy file; the shipped Ignus policy when `path` is empty."""
    source = Path(path) if path else shipped_policy_path()
    try:
        text = source.read_text(encoding="utf-8")
        data = tomllib.loads(text)
    except FileNotFoundError:
        raise PolicyError(f"{source}: no such file") from None
    except IsADirectoryError:
        raise PolicyError(f"{source}: is a folder, not a policy file") from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise PolicyError(f"{source}: cannot be read ({reason})") from None
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"{source}: not valid TOML: {exc}") from None
    return parse_policy(data, source=text)


def policy_from_source(text: str) -> Policy:
    """A policy recorded by `Policy.source` (TOML, or the JSON of a policy given as data)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        try:
            data = json.loads(text)
        except ValueError:
            raise PolicyError("the recorded policy is neither TOML nor JSON") from None
    return parse_policy(data, source=text)


def fingerprint_of(data: dict[str, Any]) -> str:
    """A digest of the policy's content (not of its comments or layout)."""
    canonical = json.dumps(data, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:10]


# The readers of the document being parsed: after parsing, a key no reader asked for is a mistake
# ("warning_fracton"), named with the nearest known key.
_READERS: ContextVar[list[_Reader] | None] = ContextVar("policy_readers", default=None)


class _Reader:
    """Reads one table of the TOML document, naming the key path in every error."""

    def __init__(self, data: dict[str, Any], path: str) -> None:
        if not isinstance(data, dict):
            raise PolicyError(f"{path}: expected a table")
        self.data = data
        self.path = path
        self.asked: set[str] = set()
        self.open_keys = False  # a table of names (calendars, priorities, concepts)
        readers = _READERS.get()
        if readers is not None:
            readers.append(self)

    def key(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name

    def names(self) -> list[str]:
        """The keys of a table whose keys are names the policy chooses."""
        self.open_keys = True
        return list(self.data)

    def has(self, name: str) -> bool:
        self.asked.add(name)
        return name in self.data

    def unknown_keys(self) -> list[str]:
        if self.open_keys:
            return []
        return [name for name in self.data if name not in self.asked]

    def get(self, name: str, kind: type | tuple[type, ...], default: Any = ...) -> Any:
        self.asked.add(name)
        if name not in self.data:
            if default is ...:
                raise PolicyError(f"{self.key(name)}: missing")
            return default
        value = self.data[name]
        if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
            names = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
            raise PolicyError(f"{self.key(name)}: {value!r} is not a {names}")
        return value

    def strings(self, name: str, default: list[str] | None = None) -> tuple[str, ...]:
        values = self.get(name, list, [] if default is None else default)
        for value in values:
            if not isinstance(value, str):
                raise PolicyError(f"{self.key(name)}: {value!r} is not a string")
        return tuple(values)

    def table(self, name: str, default: Any = ...) -> _Reader:
        return _Reader(self.get(name, dict, default), self.key(name))

    def duration(self, name: str) -> Duration:
        raw = self.get(name, str)
        try:
            return parse_duration(raw)
        except DurationError as exc:
            raise PolicyError(f"{self.key(name)}: {exc}") from None

    def band(self, name: str) -> tuple[Duration, Duration]:
        raw = self.get(name, (str, list))
        try:
            return parse_range(raw)
        except DurationError as exc:
            raise PolicyError(f"{self.key(name)}: {exc}") from None


def parse_policy(data: dict[str, Any], *, source: str = "") -> Policy:
    """The policy of a parsed TOML document; `source` is its text, kept for `policy_versions`
    (without it, the document's JSON is kept)."""
    readers: list[_Reader] = []
    token = _READERS.set(readers)
    try:
        policy = replace(
            _parse(data),
            source=source or json.dumps(data, default=str, ensure_ascii=False),
            fingerprint=fingerprint_of(data),
        )
    finally:
        _READERS.reset(token)
    for reader in readers:
        for name in reader.unknown_keys():
            near = difflib.get_close_matches(name, sorted(reader.asked), n=1)
            hint = f' (did you mean "{near[0]}"?)' if near else ""
            known = ", ".join(sorted(reader.asked)) or "none"
            raise PolicyError(f"{reader.key(name)}: unknown key{hint}; known keys: {known}")
    return policy


def _parse(data: dict[str, Any]) -> Policy:
    root = _Reader(data, "")
    head = root.table("policy")
    timezone = head.get("timezone", str)
    _check_timezone(timezone, head.key("timezone"))
    calendars = _calendars(root.table("calendars"), timezone)
    priorities = _priorities(root.table("priorities"), calendars)
    classification = root.table("classification", {})
    language = _language(classification)
    stemmer = Stemmer(language.stemmers)
    concepts = _concepts(root.table("concepts", {}), language, stemmer)
    rules, keyword_concepts = _rules(
        root.get("rules", list, []), priorities, {c.name for c in concepts}, language, stemmer
    )
    return Policy(
        name=head.get("name", str),
        version=head.get("version", str),
        timezone=timezone,
        language=_choice(head, "language", ("es", "en"), "es"),
        default_priority=_priority_key(priorities, head, "default_priority"),
        readings=_readings(root.table("readings", {})),
        calendars=calendars,
        priorities=priorities,
        rules=rules,
        plans=_plans(root.get("dedicated_plans", list, []), priorities, calendars),
        kinds=_kinds(root.table("kinds", {})),
        fields=_fields(root.table("fields", {})),
        language_settings=language,
        concepts=(*concepts, *keyword_concepts),
        subject_first=classification.get("subject_first", bool, True),
    )


def _check_timezone(name: str, key: str) -> None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise PolicyError(f'{key}: "{name}" is not an IANA time zone') from None


def _choice(reader: _Reader, name: str, allowed: tuple[str, ...], default: str) -> str:
    value = reader.get(name, str, default)
    if value not in allowed:
        raise PolicyError(f'{reader.key(name)}: "{value}" is not one of {", ".join(allowed)}')
    return value


def priority_aliases(priorities: dict[str, Priority]) -> dict[str, Priority]:
    """Every name of every priority (normalized) -> the priority."""
    return {
        normalize(alias): priority
        for priority in priorities.values()
        for alias in (priority.key, *priority.names)
    }


def _priority_key(
    priorities: dict[str, Priority], reader: _Reader, key: str, name: str | None = None
) -> str:
    name = reader.get(key, str) if name is None else name
    priority = priority_aliases(priorities).get(normalize(name))
    if priority is None:
        raise PolicyError(f'{reader.key(key)}: "{name}" is not a priority of this policy')
    return priority.key


def _date_rule(raw: str, key: str) -> DateRule:
    rule = DateRule(raw)
    try:
        rule.validate()
    except (CalendarError, ValueError):
        raise PolicyError(f'{key}: "{raw}" is not a date, MM-DD or easter±N') from None
    return rule


def _calendars(table: _Reader, default_tz: str) -> dict[str, BusinessCalendar]:
    calendars: dict[str, BusinessCalendar] = {}
    for name in table.names():
        cal = table.table(name)
        timezone = cal.get("timezone", str, default_tz)
        _check_timezone(timezone, cal.key("timezone"))
        always_open = cal.get("always_open", bool, False)
        week: list[tuple[tuple[int, int], ...]] = []
        if not always_open:
            for day in DAY_KEYS:
                windows = []
                for i, raw in enumerate(cal.strings(day)):
                    try:
                        windows.append(parse_window(raw))
                    except CalendarError as exc:
                        raise PolicyError(f"{cal.key(day)}[{i}]: {exc}") from None
                windows.sort()
                for before, after in itertools.pairwise(windows):
                    if after[0] < before[1]:
                        raise PolicyError(
                            f"{cal.key(day)}: opening windows overlap "
                            f"({_hhmm(before)} and {_hhmm(after)})"
                        )
                week.append(tuple(windows))
        holidays = cal.table("holidays", {})
        days_off = []
        for i, entry in enumerate(cal.get("days_off", list, [])):
            key = f"{cal.key('days_off')}[{i}]"
            if isinstance(entry, str):
                days_off.append(DayOff(_date_rule(entry, key)))
            else:
                item = _Reader(entry, key)
                days_off.append(
                    DayOff(
                        _date_rule(item.get("date", str), item.key("date")),
                        item.get("name", str, "company day off"),
                    )
                )
        closures = []
        for i, entry in enumerate(cal.get("closures", list, [])):
            item = _Reader(entry, f"{cal.key('closures')}[{i}]")
            try:
                start, end = parse_clock(item.get("from", str)), parse_clock(item.get("to", str))
            except CalendarError as exc:
                raise PolicyError(f"{item.path}: {exc}") from None
            if end <= start:
                raise PolicyError(f"{item.path}: closes at {item.data['to']} before it opens")
            closures.append(
                PartialClosure(
                    _date_rule(item.get("date", str), item.key("date")),
                    start,
                    end,
                    item.get("name", str, "partial closure"),
                )
            )
        day_length = cal.duration("day_length") if cal.has("day_length") else None
        if day_length is not None and day_length.days:
            raise PolicyError(f"{cal.key('day_length')}: give the day length in hours")
        try:
            calendars[name] = BusinessCalendar(
                name=name,
                timezone=timezone,
                week=tuple(week),
                always_open=always_open,
                holiday_country=holidays.get("country", str, ""),
                holiday_subdivision=holidays.get("subdivision", str, ""),
                holiday_language=holidays.get("language", str, ""),
                days_off=tuple(days_off),
                closures=tuple(closures),
                day_length_s=day_length.seconds if day_length else 0.0,
            )
            calendars[name].closed_reason(date(2026, 1, 1))  # the holiday source answers
        except (CalendarError, NotImplementedError, KeyError) as exc:
            raise PolicyError(f"{cal.path}: {exc}") from None
    if not calendars:
        raise PolicyError("calendars: at least one calendar is needed")
    return calendars


def _hhmm(window: tuple[int, int]) -> str:
    return "-".join(f"{m // 60:02d}:{m % 60:02d}" for m in window)


def _targets(reader: _Reader, calendars: dict[str, BusinessCalendar]) -> Targets:
    calendar = reader.get("calendar", str)
    if calendar not in calendars:
        raise PolicyError(
            f'{reader.key("calendar")}: "{calendar}" is not a calendar of this policy'
        )
    low, high = reader.band("resolution")
    response = reader.duration("response")
    for name, value in (("response", response), ("resolution", low)):
        if not value.seconds and not value.days:
            raise PolicyError(f"{reader.key(name)}: a deadline of zero time is not a deadline")
    return Targets(calendar, response, low, high)


def _priorities(table: _Reader, calendars: dict[str, BusinessCalendar]) -> dict[str, Priority]:
    priorities = {}
    for key in table.names():
        item = table.table(key)
        priorities[key] = Priority(
            key=key,
            names=item.strings("names", [key]),
            rank=item.get("rank", int),
            zoho_value=item.get("zoho_value", str, key),
            targets=_targets(item, calendars),
        )
    if not priorities:
        raise PolicyError("priorities: at least one priority is needed")
    owners: dict[str, str] = {}
    for priority in priorities.values():
        for alias in {normalize(a) for a in (priority.key, *priority.names)}:
            if alias in owners:
                raise PolicyError(
                    f'{table.key(priority.key)}.names: "{alias}" is also a name of {owners[alias]}'
                )
            owners[alias] = priority.key
    ranks = [p.rank for p in priorities.values()]
    if len(set(ranks)) != len(ranks):
        raise PolicyError("priorities: every priority needs its own rank")
    return dict(sorted(priorities.items(), key=lambda kv: kv[1].rank))


def _readings(reader: _Reader) -> Readings:
    capped = reader.strings("escalation_never_later", ["resolution_due"])
    for name in capped:
        if name not in DEADLINE_NAMES:
            raise PolicyError(
                f'{reader.key("escalation_never_later")}: "{name}" is not one of '
                + ", ".join(DEADLINE_NAMES)
            )
    fraction = reader.get("warning_fraction", (float, int), 0.75)
    if not 0 < fraction <= 1:
        raise PolicyError(f"{reader.key('warning_fraction')}: {fraction} is not in (0, 1]")
    return Readings(
        priority_change=_choice(
            reader, "priority_change", PRIORITY_CHANGE_MODES, "restart_at_change"
        ),
        escalation_never_later=capped,
        pause_status_types=reader.strings("pause_status_types", ["On Hold"]),
        pause_statuses=reader.strings("pause_statuses"),
        never_pause_statuses=reader.strings("never_pause_statuses"),
        warning_fraction=float(fraction),
    )


def _kinds(reader: _Reader) -> KindSettings:
    third = reader.table("third_party", {})
    ops = reader.table("operations", {})
    billable = reader.table("billable", {})
    return KindSettings(
        third_party_follow_up=third.duration("follow_up_every")
        if third.has("follow_up_every")
        else Duration(days=1),
        vendors=third.strings("vendors"),
        third_party_wait_statuses=third.strings("wait_statuses", ["Waiting on third party"]),
        eta_reminder=ops.duration("eta_reminder_every")
        if ops.has("eta_reminder_every")
        else Duration(seconds=4 * 3600),
        quote_pending_statuses=billable.strings("quote_pending_statuses"),
        quote_pending_values=billable.strings("quote_pending_values"),
    )


def _fields(reader: _Reader) -> FieldNames:
    defaults = FieldNames()
    values: dict[str, Any] = {}
    for name in FieldNames.__dataclass_fields__:
        default = getattr(defaults, name)
        if isinstance(default, tuple):
            values[name] = reader.strings(name)
        else:
            values[name] = reader.get(name, type(default), default)
    return FieldNames(**values)


def _language(reader: _Reader) -> Language:
    stemmers = reader.strings("stemmers", list(STEMMERS))
    for name in stemmers:
        if name not in STEMMERS:
            raise PolicyError(
                f'{reader.key("stemmers")}: "{name}" is not one of {", ".join(STEMMERS)}'
            )
    counts = {}
    for name, low in (
        ("negation_window", 0),
        ("typo_min_length", 3),
        ("term_gap", 0),
        ("description_chars", 0),
    ):
        value = reader.get(name, int, getattr(Language, name))
        if value < low:
            raise PolicyError(f"{reader.key(name)}: {value} is below {low}")
        counts[name] = value
    return Language(
        stemmers=stemmers,
        ignore=frozenset(normalize(w) for w in reader.strings("ignore")),
        negators=frozenset(normalize(w) for w in reader.strings("negators")),
        end_markers=reader.strings("end_markers"),
        **counts,
    )


def _terms(reader: _Reader, name: str, language: Language, stemmer: Stemmer) -> tuple[Term, ...]:
    terms = []
    for text in reader.strings(name):
        try:
            term = parse_term(text, language, stemmer)
        except ValueError as exc:
            raise PolicyError(f"{reader.key(name)}: {exc}") from None
        if term is None:
            raise PolicyError(f'{reader.key(name)}: "{text}" has no word to match')
        terms.append(term)
    return tuple(terms)


def _concepts(reader: _Reader, language: Language, stemmer: Stemmer) -> list[Concept]:
    concepts = []
    for name in reader.names():
        item = reader.table(name)
        terms = _terms(item, "terms", language, stemmer)
        if not terms:
            raise PolicyError(f"{item.key('terms')}: a concept needs terms")
        concepts.append(
            Concept(
                name,
                item.get("description", str, ""),
                terms,
                negatable=item.get("negatable", bool, False),
            )
        )
    return concepts


def _groups(reader: _Reader, name: str, known: set[str]) -> tuple[tuple[str, ...], ...]:
    """`when = ["a", "b"]` (one group) or `when = [["a", "b"], ["c"]]` (any of the groups)."""
    raw = reader.get(name, list, [])
    groups = [raw] if all(isinstance(v, str) for v in raw) else raw
    result = []
    for group in groups:
        if isinstance(group, str):
            group = [group]
        if not isinstance(group, list) or not all(isinstance(v, str) for v in group):
            raise PolicyError(f"{reader.key(name)}: {group!r} is not a list of concept names")
        for concept in group:
            if concept not in known:
                raise PolicyError(
                    f'{reader.key(name)}: "{concept}" is not a concept of this policy'
                )
        if group:
            result.append(tuple(group))
    return tuple(result)


def _rules(
    entries: list[Any],
    priorities: dict[str, Priority],
    known: set[str],
    language: Language,
    stemmer: Stemmer,
) -> tuple[tuple[Rule, ...], list[Concept]]:
    rules = []
    extra: list[Concept] = []
    seen: set[str] = set()
    for i, entry in enumerate(entries):
        item = _Reader(entry, f"rules[{i}]")
        rule_id = item.get("id", str)
        item.path = f"rules.{rule_id}"
        if rule_id in seen:
            raise PolicyError(f"{item.path}: duplicate rule id")
        seen.add(rule_id)
        kind = _choice(item, "kind", KINDS, "standard")
        vendor = item.get("vendor", str, "")
        if kind == "third_party" and not vendor:
            raise PolicyError(f"{item.key('vendor')}: a third_party rule names its vendor")
        match = item.table("match", {})
        conditions = []
        for name in match.names():
            if name not in MATCH_FIELDS and not name.startswith("cf_"):
                raise PolicyError(f'{match.key(name)}: "{name}" is not a field a rule can match')
            values = match.get(name, (str, list))
            values = [values] if isinstance(values, str) else values
            conditions.append((name, tuple(normalize(str(v)) for v in values)))
        when = _groups(item, "when", known)
        unless = _groups(item, "unless", known)
        keywords = _terms(item, "keywords", language, stemmer)
        if keywords:
            extra.append(Concept(rule_id, "keywords of the rule", keywords))
            when = (*when, (rule_id,))
        exclude = _terms(item, "exclude", language, stemmer)
        if exclude:
            extra.append(Concept(f"{rule_id}.exclude", "excluded keywords of the rule", exclude))
            unless = (*unless, (f"{rule_id}.exclude",))
        if not conditions and not when:
            raise PolicyError(
                f"{item.path}: a rule needs `match` fields, `when` concepts or `keywords`"
            )
        rules.append(
            Rule(
                id=rule_id,
                priority=_priority_key(priorities, item, "priority"),
                kind=kind,
                vendor=vendor,
                description=item.get("description", str, ""),
                fields=tuple(conditions),
                when=when,
                unless=tuple(c for group in unless for c in group),
                together=item.get("together", bool, False),
            )
        )
    return tuple(rules), extra


def _plans(
    entries: list[Any], priorities: dict[str, Priority], calendars: dict[str, BusinessCalendar]
) -> tuple[DedicatedPlan, ...]:
    plans = []
    for i, entry in enumerate(entries):
        item = _Reader(entry, f"dedicated_plans[{i}]")
        plan_id = item.get("id", str)
        item.path = f"dedicated_plans.{plan_id}"
        account_field = None
        if item.has("account_field"):
            af = item.table("account_field")
            account_field = (
                af.get("field", str),
                tuple(normalize(v) for v in af.strings("values")),
            )
        accounts = item.strings("accounts")
        if not accounts and account_field is None:
            raise PolicyError(f"{item.path}: a plan names `accounts` or an `account_field`")
        targets = {}
        table = item.table("priorities")
        for name in table.names():
            key = _priority_key(priorities, table, name, name)
            targets[key] = _targets(table.table(name), calendars)
        plans.append(
            DedicatedPlan(
                id=plan_id,
                name=item.get("name", str, plan_id),
                accounts=accounts,
                account_field=account_field,
                valid_from=_date(item, "valid_from"),
                valid_to=_date(item, "valid_to"),
                targets=targets,
            )
        )
        plan = plans[-1]
        if plan.valid_from and plan.valid_to and plan.valid_from > plan.valid_to:
            raise PolicyError(
                f"{item.key('valid_from')}: {plan.valid_from} is after valid_to {plan.valid_to}"
            )
    return tuple(plans)


def _date(reader: _Reader, name: str) -> date | None:
    value = reader.get(name, (str, date), None)
    if isinstance(value, datetime):
        raise PolicyError(
            f"{reader.key(name)}: {value.isoformat()} is a date and time; give a date"
        )
    if value is None or isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise PolicyError(f'{reader.key(name)}: "{value}" is not a date YYYY-MM-DD') from None
