"""Sanitizing and capping scenario output for reports."""

from __future__ import annotations

from pathlib import Path

from sparkrig.report.text import OutputCap, clean_text, excerpt_of_text, read_head_tail


def test_clean_text_removes_colour_codes_whole() -> None:
    cleaned = clean_text("\x1b[31mFAIL\x1b[0m \x1b[1;32mok\x1b[m")

    assert cleaned == "FAIL ok"


def test_clean_text_shows_control_characters() -> None:
    cleaned = clean_text("\x1b[31mFAIL\x1b[0m\x00\x07done")

    assert cleaned == "FAIL\u2400\u2407done"


def test_clean_text_keeps_tabs_and_newlines() -> None:
    assert clean_text("a\tb\nc") == "a\tb\nc"


def test_clean_text_turns_carriage_returns_into_newlines() -> None:
    assert clean_text("10%\r50%\r\ndone") == "10%\n50%\ndone"


def test_clean_text_removes_osc_titles_and_hyperlinks() -> None:
    text = "\x1b]0;title\x07x \x1b]8;;http://127.0.0.1/\x1b\\link\x1b]8;;\x1b\\"

    assert clean_text(text) == "x link"


def test_clean_text_replaces_delete_and_noncharacters() -> None:
    assert clean_text("a\x7fb\ufffec") == "a\u2421b\ufffdc"


def test_read_head_tail_reads_small_file_whole(tmp_path: Path) -> None:
    log = tmp_path / "output.log"
    log.write_bytes(b"line 1\nline 2\n")

    excerpt = read_head_tail(log, OutputCap(head_bytes=100, tail_bytes=100))

    assert excerpt.render("output.log") == "line 1\nline 2\n"
    assert not excerpt.truncated


def test_read_head_tail_caps_a_50_mb_log(tmp_path: Path) -> None:
    log = tmp_path / "output.log"
    line = b"x" * 99 + b"\n"
    with log.open("wb") as handle:
        handle.write(b"FIRST LINE\n")
        for _ in range(50 * 1024 * 1024 // len(line)):
            handle.write(line)
        handle.write(b"LAST LINE\n")

    excerpt = read_head_tail(log, OutputCap(head_bytes=1024, tail_bytes=4096))
    text = excerpt.render("scenarios/big/output.log")

    assert len(text) < 6000
    assert text.startswith("FIRST LINE\n")
    assert text.endswith("LAST LINE\n")
    assert "omitted; full log: scenarios/big/output.log" in text
    assert excerpt.total_bytes == log.stat().st_size


def test_read_head_tail_starts_tail_at_a_line(tmp_path: Path) -> None:
    log = tmp_path / "output.log"
    log.write_bytes(b"".join(b"line %04d\n" % number for number in range(1000)))

    excerpt = read_head_tail(log, OutputCap(head_bytes=20, tail_bytes=25))

    assert excerpt.tail.startswith("line ")
    assert excerpt.tail.endswith("line 0999\n")


def test_read_head_tail_replaces_invalid_utf8(tmp_path: Path) -> None:
    log = tmp_path / "output.log"
    log.write_bytes(b"ok \xff\xfe done\n")

    excerpt = read_head_tail(log, OutputCap(head_bytes=100, tail_bytes=100))

    assert excerpt.head == "ok \ufffd\ufffd done\n"


def test_excerpt_of_text_caps_output_tail() -> None:
    excerpt = excerpt_of_text("a" * 10_000, OutputCap(head_bytes=10, tail_bytes=10))

    assert excerpt.head == "a" * 10
    assert excerpt.tail == "a" * 10
    assert excerpt.omitted_bytes == 9980
