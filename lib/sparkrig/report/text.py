"""Scenario output made safe and small for reports.

Scenario output is arbitrary bytes: colour codes, NUL bytes, bells, invalid
UTF-8 and, for a chatty scenario, tens of megabytes. Reports show it through
two helpers:

- `clean_text` removes ANSI escape sequences whole and replaces every other
  character that XML 1.0 forbids with a visible stand-in (U+2400 + code, e.g.
  NUL becomes U+2400 and BEL becomes U+2407), so the text parses under strict
  XML parsers and nothing the scenario printed disappears silently.
- `read_head_tail` reads the first and last bytes of a log file by seeking,
  so a 50 MB log costs two small reads, not 50 MB of memory.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

__all__ = ["OutputCap", "OutputExcerpt", "clean_text", "read_head_tail", "excerpt_of_text"]

# CSI (colours, cursor moves), OSC (window titles, hyperlinks; ended by BEL or
# ESC \), character set selection, and the remaining two-byte escapes.
_ANSI_ESCAPE = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"
    r"|\x1b[()*+][0-9A-Za-z]"
    r"|\x1b[@-Z\\-_]"
    r"|\x9b[0-?]*[ -/]*[@-~]"
)

# Characters that XML 1.0 rejects, besides tab, line feed and carriage return:
# the other C0 controls, DEL (allowed but invisible), surrogates, U+FFFE, U+FFFF.
_NOT_XML_SAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")

_CONTROL_PICTURES = 0x2400
_DELETE_PICTURE = "\u2421"
_REPLACEMENT = "\ufffd"


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x20:
        return chr(_CONTROL_PICTURES + code)
    if code == 0x7F:
        return _DELETE_PICTURE
    return _REPLACEMENT


def clean_text(text: str) -> str:
    """Strip ANSI escape sequences and make the other control characters visible.

    Line endings become `\\n` (a lone `\\r`, as progress bars print, too), so
    the result is valid XML character data and reads the same in HTML.
    """
    text = _ANSI_ESCAPE.sub("", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _NOT_XML_SAFE.sub(_visible, text)


@dataclass(frozen=True)
class OutputCap:
    """How many bytes of a log's start and end a report keeps."""

    head_bytes: int
    tail_bytes: int


@dataclass(frozen=True)
class OutputExcerpt:
    """The start and end of a scenario's output; `omitted_bytes` were cut between them."""

    head: str
    tail: str
    total_bytes: int
    omitted_bytes: int

    @property
    def truncated(self) -> bool:
        return self.omitted_bytes > 0

    def render(self, full_log: str | None) -> str:
        """Join head and tail with a note that names the full log when bytes were cut."""
        if not self.truncated:
            return self.head + self.tail
        where = f"; full log: {full_log}" if full_log else ""
        note = f"\n[... {self.omitted_bytes} bytes of {self.total_bytes} omitted{where} ...]\n"
        return self.head + note + self.tail


def _decode(data: bytes) -> str:
    return clean_text(data.decode("utf-8", errors="replace"))


def read_head_tail(path: Path, cap: OutputCap) -> OutputExcerpt:
    """Read at most `cap.head_bytes` from the start and `cap.tail_bytes` from the end of `path`.

    A tail that starts inside a line begins at the next line, so no half line
    is shown. Raises `OSError` when the file cannot be read.
    """
    with path.open("rb") as handle:
        total = os.fstat(handle.fileno()).st_size
        if total <= cap.head_bytes + cap.tail_bytes:
            return OutputExcerpt(_decode(handle.read()), "", total, 0)

        head = handle.read(cap.head_bytes)
        handle.seek(total - cap.tail_bytes)
        tail = handle.read(cap.tail_bytes)

    newline = tail.find(b"\n")
    if 0 <= newline < len(tail) - 1:
        tail = tail[newline + 1 :]
    omitted = total - len(head) - len(tail)
    return OutputExcerpt(_decode(head), _decode(tail), total, omitted)


def excerpt_of_text(text: str, cap: OutputCap) -> OutputExcerpt:
    """Cut an in-memory output (e.g. `ScenarioResult.output_tail`) like `read_head_tail`."""
    data = text.encode("utf-8", errors="replace")
    total = len(data)
    if total <= cap.head_bytes + cap.tail_bytes:
        return OutputExcerpt(clean_text(text), "", total, 0)
    head = data[: cap.head_bytes]
    tail = data[total - cap.tail_bytes :]
    return OutputExcerpt(_decode(head), _decode(tail), total, total - len(head) - len(tail))
