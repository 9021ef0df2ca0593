"""Kubernetes-safe names for a scenario's namespace, release, labels and folder.

A scenario name is free text (`Spark_3.5.7 Smoke/Connect`, unicode, 200
characters). A namespace must be a DNS-1123 label: at most 63 characters of
`[a-z0-9-]`, starting and ending with an alphanumeric. A Helm release name has
the same alphabet and at most 53 characters. A label value has at most 63
characters of `[A-Za-z0-9._-]`, starting and ending with an alphanumeric.

Every name starts from a *slug*: the name transliterated to ASCII (NFKD, accents
dropped), lowercased, with each run of other characters turned into one `-`.
When the slug does not fit, it is cut and a short hash of the full scenario name
is appended, so two long names that share a prefix still get different names.
Namespaces and releases also end in a per-attempt part (a timestamp and a random
suffix, or a random suffix), so every attempt gets fresh names; a name conflict
on create is retried with a new suffix by the lease.
"""

from __future__ import annotations

import random
import re
import string
import unicodedata
from datetime import UTC, datetime

__all__ = [
    "NAMESPACE_MAX_LENGTH",
    "RELEASE_MAX_LENGTH",
    "LABEL_VALUE_MAX_LENGTH",
    "namespace_name",
    "release_name",
    "scenario_label_value",
    "label_value",
    "safe_dir_name",
    "random_suffix",
    "is_dns1123_label",
    "is_label_value",
]

NAMESPACE_MAX_LENGTH = 63  # DNS-1123 label limit that Kubernetes enforces on namespaces
RELEASE_MAX_LENGTH = 53  # Helm's limit, so chart names built from the release stay within 63
LABEL_VALUE_MAX_LENGTH = 63
DIR_NAME_MAX_LENGTH = 100  # well below NAME_MAX (255 bytes) with room for prefixes

NAMESPACE_PREFIX = "spark-test-"
RELEASE_PREFIX = "spark-"
SUFFIX_LENGTH = 4
HASH_LENGTH = 6
TIMESTAMP_FORMAT = "%y%m%d%H%M%S"  # 12 characters, sorts by time

_SUFFIX_ALPHABET = string.ascii_lowercase + string.digits
# os.urandom, as the secrets module uses; importing secrets or hashlib loads OpenSSL, 2 ms of
# a run's start-up.
_SYSTEM_RANDOM = random.SystemRandom()
_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_NOT_SLUG = re.compile(r"[^a-z0-9]+")
_NOT_LABEL = re.compile(r"[^A-Za-z0-9_.-]+")
_NOT_DIR = re.compile(r"[^A-Za-z0-9_.-]+")


def is_dns1123_label(value: str) -> bool:
    return len(value) <= NAMESPACE_MAX_LENGTH and bool(_DNS1123_LABEL.match(value))


def is_label_value(value: str) -> bool:
    return len(value) <= LABEL_VALUE_MAX_LENGTH and bool(_LABEL_VALUE.match(value))


def random_suffix(length: int = SUFFIX_LENGTH) -> str:
    """Return `length` random lowercase letters and digits."""
    return "".join(_SYSTEM_RANDOM.choice(_SUFFIX_ALPHABET) for _ in range(length))


def _name_hash(name: str, length: int = HASH_LENGTH) -> str:
    import hashlib  # see _SYSTEM_RANDOM

    return hashlib.sha256(name.encode("utf-8")).hexdigest()[:length]


def _ascii(name: str) -> str:
    decomposed = unicodedata.normalize("NFKD", name)
    return decomposed.encode("ascii", "ignore").decode("ascii")


def _slug(name: str) -> str:
    """Return `name` as lowercase ASCII letters, digits and single dashes."""
    return _NOT_SLUG.sub("-", _ascii(name).lower()).strip("-")


def _fit(text: str, limit: int, name: str, *, separator: str = "-") -> str:
    """Cut `text` to `limit` characters, ending in a hash of `name` when cut."""
    if len(text) <= limit:
        return text
    digest = _name_hash(name)
    head = text[: max(limit - len(digest) - len(separator), 0)].rstrip("-_.")
    return f"{head}{separator}{digest}" if head else digest[:limit]


def _scenario_slug(name: str, limit: int) -> str:
    slug = _slug(name)
    if not slug:
        # Nothing survived (an all-symbol or non-Latin name): the hash keeps it distinct.
        return "s" + _name_hash(name)
    return _fit(slug, limit, name)


def namespace_name(scenario: str, *, when: datetime, suffix: str | None = None) -> str:
    """Return `spark-test-{scenario}-{timestamp}-{suffix}`, a DNS-1123 label.

    `when` is the lease's start (converted to UTC); `suffix` defaults to a random
    one, so concurrent attempts of one scenario in the same second differ.
    """
    timestamp = when.astimezone(UTC).strftime(TIMESTAMP_FORMAT)
    tail = f"-{timestamp}-{suffix or random_suffix()}"
    room = NAMESPACE_MAX_LENGTH - len(NAMESPACE_PREFIX) - len(tail)
    return f"{NAMESPACE_PREFIX}{_scenario_slug(scenario, room)}{tail}"


def release_name(scenario: str, *, suffix: str | None = None) -> str:
    """Return `spark-{scenario}-{suffix}`, a valid Helm release name of at most 53 characters."""
    tail = f"-{suffix or random_suffix(5)}"
    room = RELEASE_MAX_LENGTH - len(RELEASE_PREFIX) - len(tail)
    return f"{RELEASE_PREFIX}{_scenario_slug(scenario, room)}{tail}"


def label_value(value: str) -> str:
    """Return `value` as a valid label value, with a hash appended when it had to change.

    A value that is already valid is kept as it is. Any other value is
    sanitized and gets a hash of the original, so distinct inputs stay distinct.
    """
    if is_label_value(value):
        return value
    cleaned = _NOT_LABEL.sub("-", _ascii(value)).strip("-_.")
    digest = _name_hash(value)
    room = LABEL_VALUE_MAX_LENGTH - len(digest) - 1
    head = cleaned[:room].rstrip("-_.")
    return f"{head}-{digest}" if head else digest


def scenario_label_value(name: str) -> str:
    """Return the `sparkrig/scenario` label value of the scenario called `name`."""
    return label_value(name)


def safe_dir_name(scenario: str) -> str:
    """Return a folder name for the scenario: filesystem-safe and unique per scenario name.

    Names of `[A-Za-z0-9_.-]` that do not start with a dot are kept; any other
    name is sanitized and gets a hash of the original.
    """
    if (
        scenario
        and len(scenario) <= DIR_NAME_MAX_LENGTH
        and not _NOT_DIR.search(scenario)
        and not scenario.startswith(".")
    ):
        return scenario
    cleaned = _NOT_DIR.sub("-", _ascii(scenario)).strip("-.")
    digest = _name_hash(scenario)
    head = cleaned[: DIR_NAME_MAX_LENGTH - len(digest) - 1].rstrip("-.")
    return f"{head}-{digest}" if head else digest
