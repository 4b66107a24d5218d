"""Concepts: meaning units found in a request's text, whatever words the customer chose.

A concept ("an outage", "a contracted service", "a how-to question") is a list of terms written
in the policy file. A term is one or more words; a word matches a token of the text when they
share a stem (Spanish or English Snowball), when the word ends in "*" and the token starts with
it, when it is written "=word" and the token is that very word, or when the token is one typo
away from it ("servidro", "funsiona"). Words the language settings ignore ("el", "de", "the")
are dropped from both sides, and `term_gap` extra tokens may sit between a term's words.

Negation: a concept marked `negatable` does not count where one of the `negators` stands a few
tokens before the term in the same clause ("el sitio ya no está caído" is not an outage); a term
that itself starts with a negator ("no funciona", "no sé cómo") is taken as written.

Pure: no I/O; the stemmers are plain Python.
"""

from __future__ import annotations

import functools
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from functools import cached_property

import snowballstemmer

from .text import fold, normalize, plain_text

# Addresses name people and systems, not what happened: "billing@supplier.com" is no invoice.
_ADDRESSES = re.compile(r"\S+@\S+|\b(?:https?|ftp)://\S+|\bwww\.\S+", re.IGNORECASE)
_CLAUSE = re.compile(r"[.!?;,:\n\r\u00a1\u00bf()\[\]]+|\s-\s|\bpero\b|\bbut\b", re.IGNORECASE)
STEMMERS = ("spanish", "english")


@dataclass(frozen=True)
class Language:
    """How text is cut into tokens and how loosely terms match (the policy's [classification])."""

    stemmers: tuple[str, ...] = STEMMERS
    ignore: frozenset[str] = frozenset()  # normalized words dropped before matching
    negators: frozenset[str] = frozenset()  # normalized words that negate what follows
    negation_window: int = 3  # tokens looked back for a negator
    typo_min_length: int = 6  # words shorter than this must match exactly
    term_gap: int = 0  # extra tokens allowed between a term's words
    description_chars: int = 3000  # the request is at the top; quoted history is not read
    # A later line of the description starting so ends the request: quoted history ("On ...
    # wrote:"), a sign-off ("Saludos"), a confidentiality footer. "*" stands for any text.
    end_markers: tuple[str, ...] = ()


@dataclass(frozen=True)
class TermWord:
    """One position of a term: alternatives written "a|b", each a stem, a prefix ("a*") or an
    exact word ("=a": no stemming, for words whose stem is shared by others, such as
    "programar" and "programador")."""

    stems: frozenset[str]
    prefixes: tuple[str, ...]
    exact: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Term:
    text: str
    words: tuple[TermWord, ...]
    negatable: bool


@dataclass(frozen=True)
class Concept:
    name: str
    description: str
    terms: tuple[Term, ...]
    negatable: bool = False


@dataclass(frozen=True)
class Hit:
    """Where a concept was found: the term, the words of the text that matched it, and where."""

    concept: str
    term: str
    words: str
    where: str
    typo: bool = False
    # Every clause the concept was found in, as (where, clause number): rules whose concepts
    # must be found together ("agregar" and "botón" in one sentence) read this.
    places: frozenset[tuple[str, int]] = frozenset()

    def __str__(self) -> str:
        plain = self.words == normalize(self.term) or "|" in self.term or "=" in self.term
        shown = f'"{self.words}"' if plain else f'"{self.words}" (as "{self.term}")'
        return f"{self.concept}: {shown} in the {self.where}" + (" (typo tolerated)" * self.typo)


@dataclass
class _Token:
    word: str
    keys: frozenset[str]
    typo: bool = False


@dataclass
class Stemmer:
    """Stems of a word in every configured language, cached (Snowball in Python is ~40 us/word)."""

    languages: tuple[str, ...]
    _cache: dict[str, frozenset[str]] = field(default_factory=dict)

    @cached_property
    def _stemmers(self) -> list[snowballstemmer.stemmer]:
        return [snowballstemmer.stemmer(name) for name in self.languages]

    def keys(self, word: str) -> frozenset[str]:
        found = self._cache.get(word)
        if found is None:
            found = frozenset({word, *(s.stemWord(word) for s in self._stemmers)})
            if len(self._cache) < 200_000:
                self._cache[word] = found
        return found


def end_marker_pattern(markers: Iterable[str]) -> re.Pattern[str] | None:
    return _end_marker_pattern(tuple(markers))


@functools.lru_cache(maxsize=64)  # built once per policy's markers, not once per ticket
def _end_marker_pattern(markers: tuple[str, ...]) -> re.Pattern[str] | None:
    parts = [
        ".*".join(re.escape(fold(p).strip()) for p in m.split("*")) for m in markers if m.strip()
    ]
    return re.compile("|".join(f"(?:{p})" for p in parts)) if parts else None


def request_body(description: str, language: Language) -> tuple[str, bool]:
    """The part of a description that is the request, and whether it was cut at the length cap.

    The first line is always read; from the second on, a line that starts with an end marker
    ends the request (what follows is history, a signature or a legal footer)."""
    text = plain_text(description)
    pattern = end_marker_pattern(language.end_markers)
    if pattern is not None:
        kept: list[str] = []
        for line in text.splitlines():
            folded = fold(line).strip()
            if kept and folded and pattern.match(folded):
                break
            if folded or kept:
                kept.append(line)
        text = "\n".join(kept)
    limit = language.description_chars
    return (text[:limit], True) if len(text) > limit else (text, False)


def parse_term(text: str, language: Language, stemmer: Stemmer) -> Term | None:
    """A term as written in the policy file; None when nothing but ignored words remains."""
    words: list[TermWord] = []
    for chunk in text.split():
        stems: set[str] = set()
        prefixes: list[str] = []
        exact: set[str] = set()
        for alternative in chunk.split("|"):
            word = normalize(alternative.rstrip("*"))
            if alternative.startswith("=") and word:
                exact.add(word)
                continue
            if not word or " " in word:
                if word:  # "e-mail" normalizes to two words: keep them as one prefix-free stem
                    stems.update(stemmer.keys(word.replace(" ", "")))
                continue
            if alternative.endswith("*"):
                prefixes.append(word)
            else:
                stems.update(stemmer.keys(word))
        if not stems and not prefixes and not exact:
            continue
        if not prefixes and "|" not in chunk and normalize(chunk) in language.ignore:
            continue
        words.append(TermWord(frozenset(stems), tuple(prefixes), frozenset(exact)))
    if not words:
        return None
    if len(words) == 1 and len(text.split()) > 1:
        raise ValueError(
            f'"{text}" is one word once the ignored words are dropped; write that word alone'
        )
    first = normalize(text.split()[0].split("|")[0].strip("=*"))
    return Term(text=text, words=tuple(words), negatable=first not in language.negators)


def _within_one_edit(a: str, b: str) -> bool:
    """Damerau-Levenshtein distance <= 1 (one insertion, deletion, substitution or swap)."""
    if a == b:
        return True
    la, lb = len(a), len(b)
    if abs(la - lb) > 1:
        return False
    i = 0
    while i < min(la, lb) and a[i] == b[i]:
        i += 1
    if la == lb:
        if a[i + 1 :] == b[i + 1 :]:
            return True
        return i + 1 < la and a[i] == b[i + 1] and a[i + 1] == b[i] and a[i + 2 :] == b[i + 2 :]
    if la > lb:
        return a[i + 1 :] == b[i:]
    return a[i:] == b[i + 1 :]


class ConceptMatcher:
    """Finds the concepts of a text; built once per policy."""

    def __init__(self, language: Language, concepts: Iterable[Concept]) -> None:
        self.language = language
        self.stemmer = Stemmer(language.stemmers)
        self.concepts = tuple(concepts)
        self._by_key: dict[str, list[tuple[Concept, Term]]] = defaultdict(list)
        self._by_prefix: list[tuple[str, Concept, Term]] = []
        # Each term's position in the policy: a token's candidates are tried in that order, so
        # the term shown as evidence does not depend on the order of a set (the hash seed).
        self._rank: dict[int, int] = {}
        vocabulary: set[str] = set()
        for concept in self.concepts:
            for term in concept.terms:
                self._rank[id(term)] = len(self._rank)
                first = term.words[0]
                for key in first.stems | first.exact:
                    self._by_key[key].append((concept, term))
                for prefix in first.prefixes:
                    self._by_prefix.append((prefix, concept, term))
                for word in term.words:
                    vocabulary.update(word.stems | word.exact)
        self._vocabulary = frozenset(vocabulary)
        self._prefixes = tuple(
            {p for c in self.concepts for t in c.terms for w in t.words for p in w.prefixes}
        )
        self._near: dict[str, set[str]] = defaultdict(set)
        for key in vocabulary:
            if len(key) >= language.typo_min_length:
                for variant in _deletions(key):
                    self._near[variant].add(key)
        self._token_cache: dict[str, _Token] = {}

    def _token(self, word: str) -> _Token:
        token = self._token_cache.get(word)
        if token is not None:
            return token
        keys = self.stemmer.keys(word)
        typo = False
        if (
            len(word) >= self.language.typo_min_length
            and keys.isdisjoint(self._vocabulary)
            and not word.startswith(self._prefixes)
        ):
            near = {
                known
                for key in keys
                for variant in (key, *_deletions(key))
                for known in self._near.get(variant, ())
                if _within_one_edit(key, known)
            }
            if near:
                keys, typo = keys | near, True
        token = _Token(word, keys, typo)
        if len(self._token_cache) < 200_000:
            self._token_cache[word] = token
        return token

    def clauses(self, text: str) -> Iterator[list[_Token]]:
        """The tokens of each clause of a plain text (see `plain_text`)."""
        for clause in _CLAUSE.split(_ADDRESSES.sub(" ", text)):
            words = normalize(clause).split()
            tokens = [self._token(w) for w in words if w not in self.language.ignore]
            if tokens:
                yield tokens

    def find(self, text: str, where: str) -> dict[str, Hit]:
        """The first hit of each concept found in a plain `text` (not negated)."""
        hits: dict[str, Hit] = {}
        places: dict[str, set[tuple[str, int]]] = defaultdict(set)
        for number, tokens in enumerate(self.clauses(text)):
            place = (where, number)
            for start, token in enumerate(tokens):
                for concept, term in self._candidates(token):
                    name = concept.name
                    if place in places[name] or not _matches(term.words[0], token):
                        continue
                    end = self._match_rest(term, tokens, start)
                    if end is None or (concept.negatable and self._negated(term, tokens, start)):
                        continue
                    places[name].add(place)
                    if name not in hits:
                        matched = tokens[start:end]
                        hits[name] = Hit(
                            concept=name,
                            term=term.text,
                            words=" ".join(t.word for t in matched),
                            where=where,
                            typo=any(t.typo for t in matched),
                        )
        return {name: replace(hit, places=frozenset(places[name])) for name, hit in hits.items()}

    def _candidates(self, token: _Token) -> Iterator[tuple[Concept, Term]]:
        """The (concept, term) pairs whose first word may be `token`, in policy order."""
        found = {id(term): (concept, term) for key in token.keys
                 for concept, term in self._by_key.get(key, ())}  # fmt: skip
        for prefix, concept, term in self._by_prefix:
            if token.word.startswith(prefix):
                found.setdefault(id(term), (concept, term))
        for term_id in sorted(found, key=self._rank.__getitem__):
            yield found[term_id]

    def _match_rest(self, term: Term, tokens: list[_Token], start: int) -> int | None:
        """The end of the match of `term` whose first word is tokens[start], or None."""
        position = start + 1
        for word in term.words[1:]:
            found = None
            for at in range(position, min(position + self.language.term_gap + 1, len(tokens))):
                if _matches(word, tokens[at]):
                    found = at
                    break
                if tokens[at].word in self.language.negators:
                    break  # never skip a negation ("ya no funciona" is not "ya funciona")
            if found is None:
                return None
            position = found + 1
        return position

    def _negated(self, term: Term, tokens: list[_Token], start: int) -> bool:
        if not term.negatable:
            return False
        before = tokens[max(0, start - self.language.negation_window) : start]
        return any(t.word in self.language.negators for t in before)


def _matches(word: TermWord, token: _Token) -> bool:
    return (
        not word.stems.isdisjoint(token.keys)
        or token.word in word.exact
        or any(token.word.startswith(p) for p in word.prefixes)
    )


def _deletions(word: str) -> Iterator[str]:
    for i in range(len(word)):
        yield word[:i] + word[i + 1 :]
