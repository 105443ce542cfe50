"""Byte-exact SMTP dialogs from tests/dialogs/smtp/*.dlg.

Client libraries smooth over what these check: bare LF and CR, dot
smuggling, overlong lines, pipelining, BDAT chunk accounting, sequence
errors. One file is one session against a fresh ternd. The format, one
directive a line ('#' starts a comment line, blank lines are ignored):

    @conf SECTION KEY VALUE   set a tern.conf key before start (header only)
    @user ADDR                create user ADDR before start (header only;
                              user@ and other@example.test always exist)
    C: TEXT                   send TEXT then CRLF
    C= TEXT                   send TEXT exactly, nothing appended
    CHUNK TEXT                send "BDAT <len> CRLF" then TEXT
    LAST TEXT                 send "BDAT <len> LAST CRLF" then TEXT
    S: GLOB                   read one reply; its last line matches GLOB
                              (whole line; '*' any run, '?' one character)
    S~ REGEX                  read one reply; re.match on its last line
    S+ GLOB                   some line of the reply just read matches GLOB
    QUIET SECONDS             the server sends nothing for that long
    CLOSED                    the server closes the connection, saying nothing more
    SLEEP SECONDS
    MAILBOX ADDR N            ADDR's Maildir new/ holds exactly N files

TEXT escapes: \\r \\n \\t \\\\ \\xHH, and \\{N*STR} for STR repeated N times.
Everything else in TEXT is sent as UTF-8. The session starts connected with
nothing read (so a dialog begins with "S: 220 *").
"""

import glob
import os
import re
import time

import pytest

import harness

DIALOG_DIR = os.path.join(harness.SOURCE_DIR, "tests", "dialogs", "smtp")


def unescape(text):
    out = bytearray()
    i = 0
    n = len(text)
    while i < n:
        c = text[i]
        if c != "\\":
            out += c.encode("utf-8")
            i += 1
            continue
        if i + 1 >= n:
            raise ValueError("trailing backslash in %r" % text)
        e = text[i + 1]
        if e in "rnt\\":
            out += {"r": b"\r", "n": b"\n", "t": b"\t", "\\": b"\\"}[e]
            i += 2
        elif e == "x":
            out.append(int(text[i + 2:i + 4], 16))
            i += 4
        elif e == "{":
            end = text.index("}", i)
            count, _, s = text[i + 2:end].partition("*")
            out += unescape(s) * int(count)
            i = end + 1
        else:
            raise ValueError("unknown escape \\%s in %r" % (e, text))
    return bytes(out)


def glob_match(pattern, text):
    rx = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(rx, text, re.S) is not None


def parse(path):
    """(conf {section: {key: value}}, users [addr], steps [(lineno, op, arg)])."""
    conf, users, steps = {}, [], []
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    for no, line in enumerate(lines, 1):
        if line.endswith("\r"):
            line = line[:-1]
        if not line.strip() or line.startswith("#"):
            continue
        if line.startswith("@conf "):
            sec, key, value = line[6:].split(None, 2)
            conf.setdefault(sec, {})[key] = value
        elif line.startswith("@user "):
            users.append(line[6:].strip())
        elif line[:3] in ("C: ", "C= ", "S: ", "S~ ", "S+ "):
            steps.append((no, line[:2], line[3:]))
        elif line in ("C:", "C="):
            steps.append((no, line, ""))
        else:
            op, _, arg = line.partition(" ")
            if op not in ("CHUNK", "LAST", "QUIET", "CLOSED", "SLEEP", "MAILBOX"):
                raise ValueError("%s:%d: unknown directive %r" % (path, no, line))
            steps.append((no, op, arg))
    return conf, users, steps


def collect():
    params = []
    for path in sorted(glob.glob(os.path.join(DIALOG_DIR, "*.dlg"))):
        conf, users, _ = parse(path)
        mark = pytest.mark.tern(smtp=conf.get("smtp"), server=conf.get("server"),
                                users=("user@example.test", "other@example.test", *users))
        params.append(pytest.param(path, marks=mark, id=os.path.basename(path)[:-4]))
    return params


def run_dialog(tern, path):
    _, _, steps = parse(path)
    name = os.path.basename(path)
    r = harness.Raw(tern.port, timeout=5.0)
    last = None
    transcript = []

    def where(no):
        return "%s:%d\n--- transcript ---\n%s" % (name, no, "\n".join(transcript[-40:]))

    try:
        for no, op, arg in steps:
            if op in ("C:", "C=", "CHUNK", "LAST"):
                data = unescape(arg)
                if op == "C:":
                    data += b"\r\n"
                elif op == "CHUNK":
                    data = b"BDAT %d\r\n" % len(data) + data
                elif op == "LAST":
                    data = b"BDAT %d LAST\r\n" % len(data) + data
                transcript.append("C: %r" % (data if len(data) < 300 else
                                             data[:150] + b"..." + data[-100:]))
                r.send(data)
            elif op in ("S:", "S~"):
                try:
                    last = r.reply()
                except harness.DialogError as e:
                    raise AssertionError("%s: %s" % (where(no), e))
                transcript.append("S: %s" % last)
                ok = glob_match(arg, last.last) if op == "S:" else re.match(arg, last.last)
                assert ok, "%s\nwant %s %r, got %r" % (where(no), op, arg, str(last))
            elif op == "S+":
                assert last is not None, where(no)
                assert any(glob_match(arg, l.decode("utf-8", "replace"))
                           for l in last.raw_lines), \
                    "%s\nno line of %r matches %r" % (where(no), str(last), arg)
            elif op == "QUIET":
                try:
                    r.quiet(float(arg))
                except harness.DialogError as e:
                    raise AssertionError("%s: %s" % (where(no), e))
            elif op == "CLOSED":
                try:
                    r.expect_closed(5.0)
                except harness.DialogError as e:
                    raise AssertionError("%s: %s" % (where(no), e))
                transcript.append("(closed)")
            elif op == "SLEEP":
                time.sleep(float(arg))
            elif op == "MAILBOX":
                addr, count = arg.split()
                files = tern.maildir(addr)
                assert len(files) == int(count), \
                    "%s\n%s has %d messages, want %s: %r" % (where(no), addr, len(files),
                                                              count, files)
    finally:
        r.close()


@pytest.mark.parametrize("path", collect())
def test_dialog(tern, path):
    run_dialog(tern, path)


def test_dialogs_exist():
    assert collect(), "no dialogs in %s" % DIALOG_DIR


@pytest.mark.parametrize("text,want", [
    ("a\\r\\nb", b"a\r\nb"),
    ("\\x00\\x7f\\\\", b"\x00\x7f\\"),
    ("\\{3*ab}c", b"abababc"),
    ("jörg", "jörg".encode()),
])
def test_unescape(text, want):
    assert unescape(text) == want
