"""End-to-end tests of the IMAP server (RFC 9051/3501 and the extensions it
advertises) against a real ternd.

Mail goes in over SMTP (smtplib) or APPEND and comes out over IMAP: Python's
imaplib for the ordinary client paths (LOGIN, AUTHENTICATE, STARTTLS,
implicit TLS) and harness.ImapRaw, a raw socket, wherever the exact bytes of
the server's responses matter. Bytes a client receives are compared with the
files in the Maildir.
"""

import base64
import datetime
import imaplib
import os
import re
import shutil
import socket
import ssl
import subprocess
import time

import pytest

import harness
from scram import ScramClient
from harness import HOSTNAME

USER = "user@example.test"
OTHER = "other@example.test"
PASSWORD = "secret-password-1"
PLAIN_OK = {"allow_plaintext_loopback": "yes"}
NO_PLAIN = {"allow_plaintext_loopback": "no"}

pytestmark = pytest.mark.tern(listen=("imap",), auth=PLAIN_OK)

CAPS_PRE = {"IMAP4rev1", "IMAP4rev2", "LITERAL+", "SASL-IR", "ID", "ENABLE", "IDLE",
            "STARTTLS", "AUTH=PLAIN", "AUTH=LOGIN", "AUTH=SCRAM-SHA-256"}
CAPS_POST = {"IMAP4rev1", "IMAP4rev2", "LITERAL+", "SASL-IR", "ID", "ENABLE", "IDLE",
             "NAMESPACE", "UNSELECT", "UIDPLUS", "CHILDREN", "MOVE", "LIST-EXTENDED",
             "LIST-STATUS", "SPECIAL-USE", "CREATE-SPECIAL-USE", "CONDSTORE", "QRESYNC",
             "ESEARCH", "SEARCHRES", "BINARY", "UTF8=ACCEPT", "STATUS=SIZE", "QUOTA", "QUOTA=RES-STORAGE"}
DEFAULT_FOLDERS = ["INBOX", "Archive", "Drafts", "Junk", "Sent", "Trash"]
SPECIAL = {"Archive": "\\Archive", "Drafts": "\\Drafts", "Junk": "\\Junk", "Sent": "\\Sent",
           "Trash": "\\Trash"}


# ---------------------------------------------------------------- helpers

def deliver(t, msgid, body=b"Hello.\r\n", to=USER, subject="test", extra=b"",
            frm="sender@example.org"):
    """One message over SMTP; returns the bytes the client sent."""
    msg = harness.message(msgid, frm=frm, to=to, subject=subject, body=body, extra=extra)
    s = t.smtp()
    s.sendmail(frm, [to], msg)
    s.quit()
    return msg


def maildir_root(t, addr=USER):
    return os.path.dirname(t.maildir_path(addr, "new"))


def stored(t, addr=USER, folder=""):
    return harness.stored_messages(t, addr, folder)


def cur_files(t, addr=USER, folder=""):
    root = maildir_root(t, addr)
    d = os.path.join(root, folder, "cur") if folder else os.path.join(root, "cur")
    try:
        return sorted(os.listdir(d), key=harness.maildir_key)
    except FileNotFoundError:
        return []


def status_of(tagged):
    """b"OK", b"NO", b"BAD" of a tagged line."""
    return tagged.split(b" ", 2)[1]


def check(r, text, want):
    """Send text; the tagged reply must start (after the tag) with want."""
    untagged, tagged = r.cmd(text)
    rest = tagged.split(b" ", 1)[1]
    assert rest.startswith(want.encode() if isinstance(want, str) else want), \
        "%r: want %r, got %r (untagged %r)" % (text if isinstance(text, str) else text[:100],
                                               want, tagged, untagged[-4:])
    return untagged


def quoted(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def literal_after(resp, name):
    """The value of FETCH item name (bytes) in resp: literal bytes, quoted
    string (unescaped) or None for NIL."""
    i = resp.find(name + b" ")
    assert i != -1, "%r not in %r" % (name, resp[:300])
    j = i + len(name) + 1
    m = re.match(rb"~?\{(\d+)\}\r\n", resp[j:])
    if m:
        start = j + m.end()
        return resp[start:start + int(m.group(1))]
    if resp[j:j + 3] == b"NIL":
        return None
    assert resp[j:j + 1] == b'"', resp[j:j + 40]
    out = b""
    k = j + 1
    while resp[k:k + 1] != b'"':
        if resp[k:k + 1] == b"\\":
            k += 1
        out += resp[k:k + 1]
        k += 1
    return out


LIST_RE = re.compile(rb'^\* (LIST|LSUB) \(([^)]*)\) (NIL|"(?:[^"\\]|\\.)") (.*)$', re.S)


def unquote(b):
    if b.startswith(b'"'):
        return re.sub(rb'\\(.)', rb'\1', b[1:-1])
    m = re.match(rb"\{(\d+)\}\r\n", b)
    if m:
        return b[m.end():]
    return b


def parse_list(untagged, kind=b"LIST"):
    """[(name str, set of attributes, delimiter)] of the LIST/LSUB responses."""
    out = []
    for line in untagged:
        if not line.startswith(b"* " + kind + b" "):
            continue
        m = LIST_RE.match(line)
        assert m, "malformed %r" % line
        attrs = set(m.group(2).decode().split()) if m.group(2) else set()
        out.append((unquote(m.group(4)).decode("utf-8"), attrs, unquote(m.group(3))))
    return out


def select(r, name="INBOX", cmd="SELECT", params=""):
    """SELECT/EXAMINE; a dict of what the server said."""
    untagged = r.ok("%s %s%s" % (cmd, quoted(name), params))
    info = {"untagged": untagged, "tagged": r.last_tagged}
    for line in untagged:
        m = re.match(rb"^\* (\d+) EXISTS$", line)
        if m:
            info["exists"] = int(m.group(1))
        m = re.match(rb"^\* OK \[(UIDVALIDITY|UIDNEXT|HIGHESTMODSEQ|UNSEEN) (\d+)\]", line)
        if m:
            info[m.group(1).decode().lower()] = int(m.group(2))
        m = re.match(rb"^\* FLAGS \((.*)\)$", line)
        if m:
            info["flags"] = m.group(1).decode().split()
        m = re.match(rb"^\* OK \[PERMANENTFLAGS \((.*)\)\]", line)
        if m:
            info["permanentflags"] = m.group(1).decode().split()
    return info


def append(r, mailbox, msg, flags=None, date=None, nonsync=False):
    """APPEND with a synchronising (or LITERAL+) literal: (untagged, tagged)."""
    tag = r.tag()
    head = "%s APPEND %s" % (tag, quoted(mailbox))
    if flags is not None:
        head += " (%s)" % flags
    if date is not None:
        head += ' "%s"' % date
    head += " {%d%s}\r\n" % (len(msg), "+" if nonsync else "")
    r.send(head)
    if not nonsync:
        cont = r.response()
        assert cont.startswith(b"+"), "APPEND: want '+', got %r" % cont
    r.send(msg + b"\r\n")
    return r.until_tagged(tag)


def appenduid(tagged):
    m = re.search(rb"\[APPENDUID (\d+) (\d+)\]", tagged)
    assert m, tagged
    return int(m.group(1)), int(m.group(2))


def fetches(untagged):
    """{seq: response} of the FETCH responses."""
    out = {}
    for line in untagged:
        m = re.match(rb"^\* (\d+) FETCH \(", line)
        if m:
            out[int(m.group(1))] = line
    return out


def flags_in(resp):
    m = re.search(rb"FLAGS \(([^)]*)\)", resp)
    assert m, resp
    return set(m.group(1).decode().split())


def search_hits(untagged):
    lines = [l for l in untagged if l.startswith(b"* SEARCH")]
    assert len(lines) == 1, untagged
    return [int(x) for x in lines[0].split()[2:] if x.isdigit()]


def simple(msgid, subject="hello", body="Body.\r\n", frm="alice@example.org",
           date="Thu, 01 Jan 2026 00:00:00 +0000", extra=""):
    return ("From: %s\r\nTo: user@example.test\r\nSubject: %s\r\nDate: %s\r\n"
            "Message-ID: <%s>\r\n%s\r\n%s" % (frm, subject, date, msgid, extra, body)
            ).encode("utf-8")


def dirs_under(top):
    out = set()
    for dirpath, dirnames, _ in os.walk(top):
        for d in dirnames:
            out.add(os.path.join(dirpath, d))
    return out


# ---------------------------------------------------------------- greeting, capabilities

def test_greeting_and_capability(tern):
    r = tern.imap_raw()
    m = re.match(rb"^\* OK \[CAPABILITY ([^\]]*)\] (.*)$", r.greeting)
    assert m, r.greeting
    assert set(m.group(1).decode().split()) == CAPS_PRE
    assert HOSTNAME.encode() in m.group(2)
    untagged = r.ok("CAPABILITY")
    assert len(untagged) == 1 and untagged[0].startswith(b"* CAPABILITY ")
    assert set(untagged[0].decode().split()[2:]) == CAPS_PRE
    r.login()
    m = re.match(rb"^a\d+ OK \[CAPABILITY ([^\]]*)\] ", r.last_tagged)
    assert m, r.last_tagged
    assert set(m.group(1).decode().split()) == CAPS_POST
    untagged = r.ok("capability")                       # verbs are case-insensitive
    assert set(untagged[0].decode().split()[2:]) == CAPS_POST
    untagged = r.ok("NOOP")
    assert untagged == []
    untagged, tagged = r.cmd("LOGOUT")
    assert untagged == [b"* BYE Logging out"] and status_of(tagged) == b"OK"
    r.raw.expect_closed()
    r.close()
    # imaplib agrees
    m = tern.imap(login=False)
    assert set(m.capabilities) == {c.upper() for c in CAPS_PRE}   # imaplib upper-cases
    m.logout()


# ---------------------------------------------------------------- LOGIN

def test_login_ok_and_failures(tern):
    m = tern.imap(login=False)
    typ, data = m.login(USER, PASSWORD)
    assert typ == "OK" and b"Logged in" in data[0]
    assert m.state == "AUTH"
    m.logout()
    # the address in any case
    m = tern.imap(user="USER@Example.TEST")
    m.logout()
    r = tern.imap_raw()
    check(r, 'LOGIN "%s" "wrong"' % USER, "NO [AUTHENTICATIONFAILED] ")
    check(r, 'LOGIN "nobody@example.test" "%s"' % PASSWORD, "NO [AUTHENTICATIONFAILED] ")
    check(r, "LOGIN %s %s" % (USER, PASSWORD), "OK ")     # atoms are fine too
    check(r, "LOGIN %s %s" % (USER, PASSWORD), "BAD ")    # not in the authenticated state
    r.close()
    m = tern.imap(login=False)
    with pytest.raises(imaplib.IMAP4.error, match=r"AUTHENTICATIONFAILED"):
        m.login(USER, "wrong-password")
    m.logout()
    log = tern.log
    assert PASSWORD not in log and "wrong-password" not in log


def test_wrong_password_delay_grows(tern):
    r = tern.imap_raw(timeout=20)
    times = []
    for _ in range(3):
        start = time.monotonic()
        check(r, 'LOGIN "%s" "bad-pass"' % USER, "NO [AUTHENTICATIONFAILED]")
        times.append(time.monotonic() - start)
    # 250 ms, doubling (docs/limits.md); the password check adds its own time,
    # so these are lower bounds, and the growth is well above that noise
    assert times[0] >= 0.25 and times[1] >= 0.5 and times[2] >= 1.0, times
    assert times[2] >= times[0] + 0.5 and max(times) < 10, times
    check(r, 'LOGIN "%s" "%s"' % (USER, PASSWORD), "OK")
    r.close()


@pytest.mark.tern(listen=("imap", "imaps"), auth=NO_PLAIN)
def test_login_needs_tls_then_starttls_and_imaps(tern):
    sent = deliver(tern, "tls@test")
    r = tern.imap_raw()
    caps = set(re.match(rb"^\* OK \[CAPABILITY ([^\]]*)\]", r.greeting).group(1).decode().split())
    assert caps == (CAPS_PRE - {"AUTH=PLAIN", "AUTH=LOGIN", "AUTH=SCRAM-SHA-256"}) | \
        {"LOGINDISABLED"}
    check(r, 'LOGIN "%s" "%s"' % (USER, PASSWORD), "NO [PRIVACYREQUIRED]")
    cred = base64.b64encode(b"\0" + USER.encode() + b"\0" + PASSWORD.encode()).decode()
    check(r, "AUTHENTICATE PLAIN " + cred, "NO [PRIVACYREQUIRED]")
    check(r, "SELECT INBOX", "BAD")
    # STARTTLS with commands pipelined behind it: they must be thrown away
    r.send(b"t1 STARTTLS\r\nt2 CAPABILITY\r\n")
    assert r.response() == b"t1 OK Begin TLS negotiation now"
    r.raw.sock = harness.tls_client_context(tern).wrap_socket(r.raw.sock,
                                                              server_hostname=HOSTNAME)
    r.send(b"t3 NOOP\r\n")                             # the injected t2 is never answered
    assert r.response() == b"t3 OK NOOP completed"
    untagged = r.ok("CAPABILITY")
    caps = set(untagged[0].decode().split()[2:])
    assert caps == CAPS_PRE - {"STARTTLS"}
    r.login()
    r.close()
    # imaplib: STARTTLS verifying the certificate for the host name
    m = tern.imap(login=False)
    assert "LOGINDISABLED" in m.capabilities and "STARTTLS" in m.capabilities
    m.starttls(ssl_context=harness.tls_client_context(tern))
    assert "STARTTLS" not in m.capabilities and "AUTH=PLAIN" in m.capabilities
    assert "LOGINDISABLED" not in m.capabilities
    m.login(USER, PASSWORD)
    typ, data = m.select("INBOX")
    assert (typ, data) == ("OK", [b"1"])
    typ, data = m.fetch("1", "(BODY.PEEK[])")
    assert typ == "OK" and data[0][1].endswith(sent) and data[0][1] == stored(tern)[0]
    m.logout()
    # the certificate is really verified: the system CAs do not know it
    m = tern.imap(login=False)
    with pytest.raises(ssl.SSLCertVerificationError):
        m.starttls(ssl_context=ssl.create_default_context())
    try:
        m.shutdown()
    except OSError:
        pass                                            # the failed handshake closed it
    # implicit TLS (RFC 8314): verified, and LOGIN allowed at once
    m = tern.imap(listener="imaps", login=False)
    assert "STARTTLS" not in m.capabilities and "AUTH=PLAIN" in m.capabilities
    m.login(USER, PASSWORD)
    typ, data = m.select("INBOX", readonly=True)
    typ, data = m.fetch("1", "(RFC822.SIZE)")
    assert data == [b"1 (RFC822.SIZE %d)" % len(stored(tern)[0])]
    m.logout()
    with pytest.raises(ssl.SSLCertVerificationError):
        sock = socket.create_connection(("127.0.0.1", tern.ports["imaps"]), timeout=10)
        try:
            harness.tls_client_context(tern).wrap_socket(sock, server_hostname="wrong.example")
        finally:
            sock.close()


@pytest.mark.tern(listen=("imap", "imaps"), auth=NO_PLAIN)
@pytest.mark.parametrize("version,ok", [("-tls1", False), ("-tls1_1", False),
                                        ("-tls1_2", True), ("-tls1_3", True)])
def test_tls_versions_openssl_s_client(tern, version, ok):
    """TLS 1.2 is the minimum, over STARTTLS (143) and implicit TLS (993)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl missing")
    for listener, extra in (("imap", ["-starttls", "imap"]), ("imaps", [])):
        r = subprocess.run(["openssl", "s_client", version] + extra +
                           ["-connect", "127.0.0.1:%d" % tern.ports[listener],
                            "-servername", HOSTNAME],
                           input=b"a LOGOUT\r\n", capture_output=True, timeout=20)
        out = r.stdout.decode(errors="replace")
        established = "New, TLSv1" in out or \
            ("Cipher is (NONE)" not in out and "Protocol  :" in out)
        assert established == ok, (listener, out[-2000:])


@pytest.mark.tern(listen=("imap", "imaps"), auth=NO_PLAIN)
def test_starttls_refused_when_tls_is_active_keeps_session_in_step(tern):
    """STARTTLS under TLS is a BAD; the next command must be answered normally."""
    for listener in ("imap", "imaps"):
        r = tern.imap_raw(listener=listener)
        if listener == "imap":
            r.starttls(harness.tls_client_context(tern))
        check(r, "STARTTLS", "BAD")
        untagged, tagged = r.cmd("NOOP", timeout=3)
        assert untagged == [] and re.match(rb"^a\d+ OK ", tagged), (listener, untagged, tagged)
        r.login()
        r.close()


@pytest.mark.tern(listen=("imap",), auth=PLAIN_OK, start=False)
def test_starttls_without_tls_configured_keeps_session_in_step(tern):
    """No certificate: STARTTLS is not offered, is refused with NO, and the
    session goes on."""
    conf = harness.ini_read(tern.conf)
    conf.pop("tls", None)
    harness.ini_write(tern.conf, conf)
    tern.start()
    r = tern.imap_raw()
    assert b"STARTTLS" not in r.greeting
    check(r, "STARTTLS", "NO")
    untagged, tagged = r.cmd("NOOP", timeout=3)
    assert untagged == [] and re.match(rb"^a\d+ OK ", tagged), (untagged, tagged)
    r.close()


# ---------------------------------------------------------------- AUTHENTICATE

def test_authenticate_plain_and_login(tern):
    cred = base64.b64encode(b"\0" + USER.encode() + b"\0" + PASSWORD.encode()).decode()
    # SASL-IR (RFC 4959)
    r = tern.imap_raw()
    untagged, tagged = r.cmd("AUTHENTICATE PLAIN " + cred)
    assert untagged == [] and re.match(rb"^a\d+ OK \[CAPABILITY [^\]]*\] ", tagged), tagged
    r.ok("SELECT INBOX")
    r.close()
    # no initial response: an empty continuation first
    r = tern.imap_raw()
    r.send("x1 AUTHENTICATE PLAIN\r\n")
    assert r.response() == b"+ "
    r.send(cred + "\r\n")
    assert status_of(r.until_tagged("x1")[1]) == b"OK"
    r.close()
    # cancelled, wrong, malformed, unknown mechanism; then the right one
    r = tern.imap_raw()
    r.send("x1 AUTHENTICATE PLAIN\r\n")
    assert r.response() == b"+ "
    r.send("*\r\n")
    assert r.until_tagged("x1")[1] == b"x1 BAD Authentication cancelled"
    bad = base64.b64encode(b"\0" + USER.encode() + b"\0nope").decode()
    check(r, "AUTHENTICATE PLAIN " + bad, "NO [AUTHENTICATIONFAILED]")
    check(r, "AUTHENTICATE PLAIN !!notbase64", "BAD")
    check(r, "AUTHENTICATE CRAM-MD5", "NO")
    # AUTH=LOGIN: user name and password as two responses
    r.send("x2 AUTHENTICATE LOGIN\r\n")
    c1 = r.response()
    assert c1.startswith(b"+ "), c1
    r.send(base64.b64encode(USER.encode()) + b"\r\n")
    c2 = r.response()
    assert c2.startswith(b"+ "), c2
    r.send(base64.b64encode(PASSWORD.encode()) + b"\r\n")
    assert status_of(r.until_tagged("x2")[1]) == b"OK"
    r.close()
    # imaplib's AUTHENTICATE
    m = tern.imap(login=False)
    typ, _ = m.authenticate("PLAIN", lambda _c: b"\0" + USER.encode() + b"\0" +
                            PASSWORD.encode())
    assert typ == "OK" and m.state == "AUTH"
    m.logout()


def test_authenticate_scram_sha256(tern):
    m = tern.imap(login=False)
    sc = ScramClient(USER, PASSWORD)
    typ, data = m.authenticate("SCRAM-SHA-256", sc)
    assert typ == "OK" and sc.verified and sc.step == 3
    typ, data = m.select("Sent")
    assert typ == "OK"
    m.logout()
    m = tern.imap(login=False)
    with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
        m.authenticate("SCRAM-SHA-256", ScramClient(USER, "wrong-password"))
    m.logout()
    # SASL-IR: client-first in the command
    r = tern.imap_raw()
    sc = ScramClient(USER, PASSWORD)
    r.send(b"s1 AUTHENTICATE SCRAM-SHA-256 " + sc.first().encode() + b"\r\n")
    c = r.response()
    assert c.startswith(b"+ "), c
    r.send(sc.final(c[2:]).encode() + b"\r\n")
    c = r.response()
    assert c.startswith(b"+ "), c
    sc.verify(c[2:])
    r.send(b"\r\n")
    assert status_of(r.until_tagged("s1")[1]) == b"OK"
    r.ok("SELECT INBOX")
    r.close()


# ---------------------------------------------------------------- ID ENABLE NAMESPACE

def test_id_enable_namespace(tern):
    r = tern.imap_raw()
    untagged = r.ok('ID ("name" "pytest" "version" "1.0")')
    assert untagged == [b'* ID ("name" "tern")']
    check(r, "ENABLE CONDSTORE", "BAD")                 # not before login
    check(r, "NAMESPACE", "BAD")
    r.login()
    assert r.ok("ID NIL") == [b'* ID ("name" "tern")']
    assert r.ok("NAMESPACE") == [b'* NAMESPACE (("" "/")) NIL NIL']
    assert r.ok("ENABLE UTF8=ACCEPT CONDSTORE QRESYNC") == \
        [b"* ENABLED UTF8=ACCEPT CONDSTORE QRESYNC"]
    assert r.ok("ENABLE CONDSTORE X-UNKNOWN") == [b"* ENABLED"]
    r.close()
    r = tern.imap_raw(login=True)
    assert r.ok("ENABLE QRESYNC") == [b"* ENABLED QRESYNC"]
    info = select(r)
    assert "highestmodseq" in info
    # QRESYNC implies CONDSTORE: flag changes carry MODSEQ
    append(r, "INBOX", simple("e1@test"))
    untagged = r.ok("STORE 1 +FLAGS (\\Flagged)")
    assert re.match(rb"^\* 1 FETCH \(.*MODSEQ \(\d+\)", untagged[-1]), untagged
    r.close()
    assert 'event=client-id name="pytest" version="1.0"' in tern.log


# ---------------------------------------------------------------- LIST LSUB

def test_list_default_folders_and_extended(tern):
    deliver(tern, "l1@test")
    deliver(tern, "l2@test")
    r = tern.imap_raw(login=True)
    got = parse_list(r.ok('LIST "" "*"'))
    assert [g[0] for g in got] == DEFAULT_FOLDERS
    for name, attrs, delim in got:
        want = {"\\HasNoChildren"} | ({SPECIAL[name]} if name in SPECIAL else set())
        assert attrs == want and delim == b"/", (name, attrs, delim)
    assert r.ok('LIST "" ""') == [b'* LIST (\\Noselect) "/" ""']
    assert [g[0] for g in parse_list(r.ok('LIST "" "%"'))] == DEFAULT_FOLDERS
    assert [g[0] for g in parse_list(r.ok('LIST "" "inbox"'))] == ["INBOX"]
    assert [g[0] for g in parse_list(r.ok('LIST "" "*a*"'))] == ["Drafts", "Trash"]
    assert parse_list(r.ok('LIST "" "nothing*"')) == []
    # LIST-EXTENDED (RFC 5258)
    got = parse_list(r.ok('LIST (SUBSCRIBED) "" "*"'))
    assert [g[0] for g in got] == DEFAULT_FOLDERS
    assert all("\\Subscribed" in g[1] for g in got), got
    got = parse_list(r.ok('LIST "" ("INBOX" "Sent") RETURN (SUBSCRIBED)'))
    assert [(g[0], g[1]) for g in got] == [("INBOX", {"\\HasNoChildren", "\\Subscribed"}),
                                           ("Sent", {"\\HasNoChildren", "\\Subscribed",
                                                     "\\Sent"})]
    got = parse_list(r.ok('LIST (SPECIAL-USE) "" "*"'))
    assert [g[0] for g in got] == DEFAULT_FOLDERS[1:]
    # LIST-STATUS (RFC 5819): each LIST followed by its STATUS
    untagged = r.ok('LIST "" "*" RETURN (SPECIAL-USE STATUS (MESSAGES UNSEEN))')
    assert len(untagged) == 12, untagged
    for i, name in enumerate(DEFAULT_FOLDERS):
        assert parse_list([untagged[2 * i]])[0][0] == name
        n = 2 if name == "INBOX" else 0
        assert untagged[2 * i + 1] == b'* STATUS "%s" (MESSAGES %d UNSEEN %d)' % (
            name.encode(), n, n)
    check(r, 'LIST (BOGUS) "" "*"', "BAD")
    # LSUB (RFC 3501)
    got = parse_list(r.ok('LSUB "" "*"'), b"LSUB")
    assert [g[0] for g in got] == DEFAULT_FOLDERS and all(g[1] == set() for g in got), got
    # RECURSIVEMATCH (RFC 5258 3.5): an unsubscribed parent of a subscribed
    # mailbox is listed with CHILDINFO, and only with RECURSIVEMATCH
    r.ok("CREATE Lists/tern")
    r.ok("SUBSCRIBE Lists/tern")
    untagged = r.ok('LIST (SUBSCRIBED RECURSIVEMATCH) "" "%"')
    assert b'* LIST (\\HasChildren) "/" "Lists" ("CHILDINFO" ("SUBSCRIBED"))' in untagged, \
        untagged
    assert [g[0] for g in parse_list(r.ok('LIST (SUBSCRIBED) "" "%"'))] == DEFAULT_FOLDERS
    r.close()


# ---------------------------------------------------------------- CREATE DELETE RENAME

def test_create_delete_nested(tern):
    r = tern.imap_raw(login=True)
    root = maildir_root(tern)
    r.ok('CREATE "a/b/c"')
    got = parse_list(r.ok('LIST "" "a*"'))
    assert [(g[0], g[1]) for g in got] == [("a", {"\\HasChildren"}),
                                           ("a/b", {"\\HasChildren"}),
                                           ("a/b/c", {"\\HasNoChildren"})]
    assert [g[0] for g in parse_list(r.ok('LIST "" "a/%"'))] == ["a/b"]
    assert [g[0] for g in parse_list(r.ok('LIST "a/" "%"'))] == ["a/b"]
    for d in (".a", ".a.b", ".a.b.c"):
        for sub in ("cur", "new", "tmp"):
            assert os.path.isdir(os.path.join(root, d, sub)), (d, sub)
    check(r, 'CREATE "a/b/c"', "NO [ALREADYEXISTS]")
    check(r, 'CREATE "a/"', "NO [ALREADYEXISTS]")        # trailing delimiter dropped
    check(r, 'CREATE "inbox"', "NO [ALREADYEXISTS]")
    check(r, 'CREATE "x*y"', "NO [CANNOT]")
    r.ok('CREATE "new/"')
    assert [g[0] for g in parse_list(r.ok('LIST "" "new"'))] == ["new"]
    # CREATE with a special use (RFC 6154 CREATE-SPECIAL-USE)
    r.ok('CREATE "Saved" (USE (\\Flagged))')
    got = parse_list(r.ok('LIST "" "Saved"'))
    assert got[0][1] == {"\\HasNoChildren", "\\Flagged"}
    # DELETE
    check(r, 'DELETE "a"', "NO [HASCHILDREN]")
    check(r, 'DELETE "INBOX"', "NO")
    check(r, 'DELETE "nothere"', "NO [NONEXISTENT]")
    r.ok('DELETE "a/b/c"')
    got = parse_list(r.ok('LIST "" "a*"'))
    assert [(g[0], g[1]) for g in got] == [("a", {"\\HasChildren"}),
                                           ("a/b", {"\\HasNoChildren"})]
    r.ok('DELETE "a/b"')
    r.ok('DELETE "a"')
    assert parse_list(r.ok('LIST "" "a*"')) == []
    assert not os.path.exists(os.path.join(root, ".a"))
    assert not os.path.exists(os.path.join(root, ".a.b.c"))
    # a mailbox with mail goes with its mail
    r.ok('CREATE "full"')
    append(r, "full", simple("d1@test"))
    r.ok('DELETE "full"')
    check(r, 'STATUS "full" (MESSAGES)', "NO [NONEXISTENT]")
    assert not os.path.exists(os.path.join(root, ".full"))
    r.close()


def test_rename_with_children_and_inbox(tern):
    sent = [deliver(tern, "r%d@test" % i) for i in range(2)]
    files = stored(tern)
    r = tern.imap_raw(login=True)
    r.ok('CREATE "p/q"')
    tagged = append(r, "p/q", simple("pq@test"))[1]
    assert status_of(tagged) == b"OK"
    r.ok('RENAME "p" "r/s"')
    names = [g[0] for g in parse_list(r.ok('LIST "" "*"'))]
    assert "p" not in names and "p/q" not in names
    assert {"r", "r/s", "r/s/q"} <= set(names)
    assert r.ok('STATUS "r/s/q" (MESSAGES)') == [b'* STATUS "r/s/q" (MESSAGES 1)']
    check(r, 'RENAME "nothere" "x"', "NO [NONEXISTENT]")
    check(r, 'RENAME "r/s" "Sent"', "NO [ALREADYEXISTS]")
    untagged, tagged = r.cmd('RENAME "Trash" "INBOX"')
    assert status_of(tagged) == b"NO", tagged
    # RENAME INBOX: the messages move, INBOX stays, empty
    r.ok('RENAME "INBOX" "Old mail"')
    assert r.ok('STATUS "Old mail" (MESSAGES)') == [b'* STATUS "Old mail" (MESSAGES 2)']
    assert r.ok('STATUS "INBOX" (MESSAGES)') == [b'* STATUS "INBOX" (MESSAGES 0)']
    assert "INBOX" in [g[0] for g in parse_list(r.ok('LIST "" "*"'))]
    select(r, "Old mail")
    got = fetches(r.ok("FETCH 1:* (BODY.PEEK[])"))
    assert [literal_after(got[i], b"BODY[]") for i in (1, 2)] == files
    assert files[0].endswith(sent[0]) and files[1].endswith(sent[1])
    deliver(tern, "after@test")
    assert r.ok('STATUS "INBOX" (MESSAGES)') == [b'* STATUS "INBOX" (MESSAGES 1)']
    r.close()


def test_subscribe_unsubscribe(tern):
    r = tern.imap_raw(login=True)
    r.ok('SUBSCRIBE "nothere"')
    r.ok('UNSUBSCRIBE "Junk"')
    lsub = parse_list(r.ok('LSUB "" "*"'), b"LSUB")
    assert [g[0] for g in lsub] == ["INBOX", "Archive", "Drafts", "Sent", "Trash", "nothere"]
    assert dict((g[0], g[1]) for g in lsub)["nothere"] == {"\\Noselect"}
    got = dict((g[0], g[1]) for g in parse_list(r.ok('LIST (SUBSCRIBED) "" "*"')))
    assert "Junk" not in got
    assert got["nothere"] == {"\\NonExistent", "\\Subscribed"}
    got = dict((g[0], g[1]) for g in parse_list(r.ok('LIST "" "*" RETURN (SUBSCRIBED)')))
    assert "nothere" not in got
    assert got["Junk"] == {"\\HasNoChildren", "\\Junk"}
    assert got["Sent"] == {"\\HasNoChildren", "\\Subscribed", "\\Sent"}
    r.ok('UNSUBSCRIBE "nothere"')
    assert "nothere" not in [g[0] for g in parse_list(r.ok('LSUB "" "*"'), b"LSUB")]
    r.close()
    # kept across sessions, in the Maildir++ subscriptions file
    r = tern.imap_raw(login=True)
    assert "Junk" not in [g[0] for g in parse_list(r.ok('LSUB "" "*"'), b"LSUB")]
    r.close()
    with open(os.path.join(maildir_root(tern), "subscriptions"), encoding="utf-8") as f:
        subs = f.read().split("\n")
    assert "Sent" in subs and "Junk" not in subs and "nothere" not in subs


def test_international_names(tern):
    r = tern.imap_raw(login=True)
    r.ok('CREATE "&ZeVnLIqe-"')                   # 日本語 in modified UTF-7
    r.ok('CREATE "Tom &- Jerry"')                 # "&" itself
    r.ok('CREATE "&ZeVnLIqe-/Gr&APwA3w-e"')       # 日本語/Grüße
    names = [g[0] for g in parse_list(r.ok('LIST "" "*"'))]
    assert {"&ZeVnLIqe-", "&ZeVnLIqe-/Gr&APwA3w-e", "Tom &- Jerry"} <= set(names), names
    root = maildir_root(tern)
    assert os.path.isdir(os.path.join(root, ".日本語"))
    assert os.path.isdir(os.path.join(root, ".日本語.Grüße"))
    assert os.path.isdir(os.path.join(root, ".Tom & Jerry"))
    check(r, 'CREATE "&Jjo"', "NO")                # not valid modified UTF-7
    check(r, 'CREATE "Gr&APw-&AN8-e"', "NO")       # adjacent shifted sequences (RFC 3501 5.1.3)
    check(r, b'CREATE "Gr\xc3\xbc\xc3\x9fe"', "BAD")  # 8-bit without UTF8=ACCEPT
    select(r, "&ZeVnLIqe-")
    r.ok("UNSELECT")
    assert r.ok("ENABLE UTF8=ACCEPT") == [b"* ENABLED UTF8=ACCEPT"]
    got = [g[0] for g in parse_list(r.ok('LIST "" "*"'))]
    assert {"日本語", "日本語/Grüße", "Tom & Jerry"} <= set(got), got
    untagged = r.ok('LIST "" "*"')
    assert '* LIST (\\HasChildren) "/" "日本語"'.encode("utf-8") in untagged, untagged
    select(r, "日本語/Grüße")
    r.ok("UNSELECT")
    r.ok('CREATE "Ünïcödé"')
    assert os.path.isdir(os.path.join(root, ".Ünïcödé"))
    assert r.ok('STATUS "Ünïcödé" (MESSAGES)') == ['* STATUS "Ünïcödé" (MESSAGES 0)'.encode()]
    r.close()
    r = tern.imap_raw(login=True)           # without UTF8=ACCEPT: modified UTF-7 again
    assert "&ANw-n&AO8-c&APY-d&AOk-" in [g[0] for g in parse_list(r.ok('LIST "" "*"'))]
    r.close()


def test_names_cannot_escape_the_maildir(tern):
    root = maildir_root(tern)
    r = tern.imap_raw(login=True)
    before = dirs_under(tern.dir)
    for bad in ("..", "../x", "a/../b", "x/..", ".", "./x", "/abs", "a//b", "../../../etc",
                "INBOX/../../x"):
        check(r, "CREATE %s" % quoted(bad), "NO")
        check(r, "RENAME Trash %s" % quoted(bad), "NO")
        check(r, "SELECT %s" % quoted(bad), "NO")
        tagged = append(r, bad, simple("esc@test"))[1]
        assert status_of(tagged) == b"NO", (bad, tagged)
    assert dirs_under(tern.dir) == before
    odd = [".hidden", "a.b", "..x", "x..", "2e.2F..", "cur", "new", "tmp", "~", "index.db",
           ".INBOX", "INBOX/..sub", "subscriptions", "dovecot-uidlist"]
    for name in odd:
        r.ok("CREATE %s" % quoted(name))
        append(r, name, simple("odd@test"))
        assert r.ok("STATUS %s (MESSAGES)" % quoted(name)) == \
            [b"* STATUS %s (MESSAGES 1)" % quoted(name).encode()]
    listed = [g[0] for g in parse_list(r.ok('LIST "" "*"'))]
    for name in odd:
        assert name in listed, (name, listed)
    # every new directory is a Maildir++ folder right under the user's root
    new = dirs_under(tern.dir) - before
    for d in new:
        rel = os.path.relpath(d, root)
        assert not rel.startswith(".."), d
        parts = rel.split(os.sep)
        assert parts[0].startswith(".") and parts[0] not in (".", "..") and \
            (len(parts) == 1 or (len(parts) == 2 and parts[1] in ("cur", "new", "tmp"))), d
    # and the original folders are untouched
    for sub in ("cur", "new", "tmp"):
        assert os.path.isdir(os.path.join(root, sub))
    assert len(stored(tern)) == 0
    r.close()


# ---------------------------------------------------------------- STATUS SELECT EXAMINE

def test_status(tern):
    for i in range(3):
        deliver(tern, "s%d@test" % i)
    r = tern.imap_raw(login=True)
    info = select(r)
    r.ok("STORE 2 +FLAGS (\\Seen)")
    r.ok("STORE 3 +FLAGS (\\Deleted)")
    untagged = r.ok("STATUS INBOX (MESSAGES UIDNEXT UIDVALIDITY UNSEEN HIGHESTMODSEQ SIZE "
                    "DELETED RECENT)")
    size = sum(len(f) for f in stored(tern))
    assert len(untagged) == 1 and untagged[0].startswith(b'* STATUS "INBOX" ('), untagged
    items = dict(zip(*[iter(untagged[0].split(b"(", 1)[1].rstrip(b")").split())] * 2))
    assert items == {b"MESSAGES": b"3", b"UIDNEXT": b"4",
                     b"UIDVALIDITY": str(info["uidvalidity"]).encode(),
                     b"UNSEEN": b"2", b"DELETED": b"1", b"RECENT": b"0",
                     b"SIZE": str(size).encode(),
                     b"HIGHESTMODSEQ": items[b"HIGHESTMODSEQ"]}, untagged
    assert int(items[b"HIGHESTMODSEQ"]) > info["highestmodseq"]
    assert r.ok('STATUS "Sent" (MESSAGES UNSEEN SIZE)') == \
        [b'* STATUS "Sent" (MESSAGES 0 UNSEEN 0 SIZE 0)']
    check(r, 'STATUS "nothere" (MESSAGES)', "NO [NONEXISTENT]")
    check(r, 'STATUS INBOX (BOGUS)', "BAD")
    r.close()


def test_select_examine(tern):
    deliver(tern, "x1@test")
    deliver(tern, "x2@test")
    r = tern.imap_raw(login=True)
    info = select(r)
    assert info["tagged"].split(b" ", 1)[1].startswith(b"OK [READ-WRITE]")
    assert info["flags"] == ["\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft"]
    assert info["permanentflags"] == info["flags"] + ["\\*"]
    assert info["exists"] == 2 and info["uidnext"] == 3 and info["unseen"] == 1
    assert info["uidvalidity"] > 0 and info["highestmodseq"] > 0
    assert b"* 0 RECENT" in info["untagged"]
    # EXAMINE: read-only, BODY[] does not set \Seen, STORE refused
    ex = select(r, cmd="EXAMINE")
    assert ex["tagged"].split(b" ", 1)[1].startswith(b"OK [READ-ONLY]")
    assert ex["permanentflags"] == []
    assert ex["uidvalidity"] == info["uidvalidity"]
    got = fetches(r.ok("FETCH 1 (BODY[])"))
    assert b"FLAGS" not in got[1]
    check(r, "STORE 1 +FLAGS (\\Seen)", "NO [READ-ONLY]")
    check(r, "EXPUNGE", "NO [READ-ONLY]")
    assert flags_in(fetches(r.ok("FETCH 1 FLAGS"))[1]) == set()
    # a failed SELECT leaves no mailbox selected
    check(r, 'SELECT "nothere"', "NO [NONEXISTENT]")
    check(r, "FETCH 1 FLAGS", "BAD")
    # the keywords in use show in FLAGS and PERMANENTFLAGS
    select(r)
    r.ok("STORE 1 +FLAGS ($Label1 Work)")
    info = select(r)
    assert {"$Label1", "Work"} <= set(info["flags"])
    assert {"$Label1", "Work", "\\*"} <= set(info["permanentflags"])
    r.close()


# ---------------------------------------------------------------- APPEND

def test_append_flags_date_uid(tern):
    r = tern.imap_raw(login=True)
    info = select(r)
    msg = simple("ap1@test", subject="appended", body="Line one.\r\nLine two.\r\n")
    untagged, tagged = append(r, "INBOX", msg, flags="\\Flagged $Custom",
                              date="14-Jul-2025 10:20:30 +0200")
    assert status_of(tagged) == b"OK" and tagged.endswith(b"APPEND completed")
    uidvalidity, uid = appenduid(tagged)
    assert uidvalidity == info["uidvalidity"] and uid == info["uidnext"]
    assert b"* 1 EXISTS" in untagged                     # the selected mailbox grew
    got = fetches(r.ok("UID FETCH %d (FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[])" % uid))
    resp = got[1]
    assert flags_in(resp) == {"\\Flagged", "$Custom"}
    m = re.search(rb'INTERNALDATE "([^"]+)"', resp)
    when = datetime.datetime.strptime(m.group(1).decode(), "%d-%b-%Y %H:%M:%S %z")
    assert when == datetime.datetime(2025, 7, 14, 8, 20, 30, tzinfo=datetime.timezone.utc)
    assert b"RFC822.SIZE %d" % len(msg) in resp
    assert literal_after(resp, b"BODY[]") == msg
    # on disk: cur/, Maildir flag F
    names = cur_files(tern)
    assert len(names) == 1 and names[0].endswith(":2,F"), names
    assert stored(tern) == [msg]
    # a day of one digit with a leading space, no flags, LITERAL+
    untagged, tagged = append(r, "INBOX", simple("ap2@test"), date=" 5-Feb-2024 23:59:59 -0500",
                              nonsync=True)
    assert appenduid(tagged) == (uidvalidity, uid + 1)
    got = fetches(r.ok("FETCH 2 (INTERNALDATE FLAGS)"))
    m = re.search(rb'INTERNALDATE "([^"]+)"', got[2])
    when = datetime.datetime.strptime(m.group(1).decode().strip(), "%d-%b-%Y %H:%M:%S %z")
    assert when == datetime.datetime(2024, 2, 6, 4, 59, 59, tzinfo=datetime.timezone.utc)
    assert flags_in(got[2]) == set()
    # to another mailbox, without a date: internal date is now
    untagged, tagged = append(r, "Drafts", simple("ap3@test"), flags="\\Draft \\Seen")
    assert status_of(tagged) == b"OK"
    assert b"EXISTS" not in b"".join(untagged)
    assert cur_files(tern, folder=".Drafts")[0].endswith(":2,DS")
    # errors
    untagged, tagged = append(r, "nothere", simple("ap4@test"))
    assert tagged.split(b" ", 1)[1].startswith(b"NO [TRYCREATE]"), tagged
    untagged, tagged = append(r, "INBOX", simple("ap5@test"), flags="\\Recent")
    assert status_of(tagged) == b"BAD", tagged
    untagged, tagged = append(r, "INBOX", simple("ap6@test"), date="31-Feb-2024 00:00:00 +0000")
    assert status_of(tagged) == b"BAD", tagged
    r.ok("NOOP")
    r.close()
    # imaplib's APPEND
    m = tern.imap()
    typ, data = m.append("INBOX", "(\\Seen)", imaplib.Time2Internaldate(time.time()),
                         simple("ap7@test"))
    assert typ == "OK" and b"[APPENDUID %d %d]" % (uidvalidity, uid + 2) in data[0]
    m.logout()
    assert len(stored(tern)) == 3


@pytest.mark.tern(listen=("imap",), auth=PLAIN_OK, smtp={"max_message_size": "4K"})
def test_append_too_big(tern):
    r = tern.imap_raw(login=True)
    big = simple("big@test", body="x" * 5000 + "\r\n")
    # synchronising: refused at once, the client never sends the literal
    r.send("b1 APPEND INBOX {%d}\r\n" % len(big))
    resp = r.response()
    assert resp == b"b1 NO [TOOBIG] Message is larger than 4096 octets", resp
    r.ok("NOOP")
    # LITERAL+: the literal comes anyway; it is read and thrown away
    untagged, tagged = append(r, "INBOX", big, nonsync=True)
    assert tagged.split(b" ", 1)[1].startswith(b"NO [TOOBIG]"), tagged
    r.ok("NOOP")
    small = simple("small@test", body="y" * 3000 + "\r\n")
    assert status_of(append(r, "INBOX", small)[1]) == b"OK"
    assert stored(tern) == [small]
    r.close()


@pytest.mark.tern(listen=("imap",), auth=PLAIN_OK, users=(), start=False)
def test_append_over_quota_and_quota_commands(tern):
    tern.add_user(USER, quota="20K")
    tern.add_user(OTHER)
    tern.start()
    r = tern.imap_raw(login=True)
    assert r.ok("GETQUOTAROOT INBOX") == [b'* QUOTAROOT "INBOX" ""',
                                         b'* QUOTA "" (STORAGE 0 20)']
    m1 = simple("q1@test", body="a" * 10000 + "\r\n")
    assert status_of(append(r, "INBOX", m1)[1]) == b"OK"
    kib = (len(m1) + 1023) // 1024
    assert r.ok('GETQUOTA ""') == [b'* QUOTA "" (STORAGE %d 20)' % kib]
    assert r.ok("GETQUOTAROOT Sent") == [b'* QUOTAROOT "Sent" ""',
                                        b'* QUOTA "" (STORAGE %d 20)' % kib]
    m2 = simple("q2@test", body="b" * 12000 + "\r\n")
    untagged, tagged = append(r, "Sent", m2)
    assert tagged.split(b" ", 1)[1].startswith(b"NO [OVERQUOTA]"), tagged
    m3 = simple("q3@test", body="c" * 5000 + "\r\n")
    assert status_of(append(r, "Sent", m3)[1]) == b"OK"
    select(r)
    check(r, "COPY 1 Archive", "NO [OVERQUOTA]")
    check(r, 'SETQUOTA "" (STORAGE 100)', "NO")
    check(r, 'GETQUOTA "nothere"', "NO")
    check(r, "GETQUOTAROOT nothere", "NO [NONEXISTENT]")
    r.close()
    assert stored(tern) == [m1]
    # a user without a quota has no quota root
    r = tern.imap_raw(login=True, user=OTHER)
    assert r.ok("GETQUOTAROOT INBOX") == [b'* QUOTAROOT "INBOX"']
    r.close()


# ---------------------------------------------------------------- FETCH

BLOB = bytes(range(256)) * 2
MIME_MSG = (b"From: Alice Example <alice@example.org>\r\n"
            b"To: Bob <user@example.test>, other@example.test\r\n"
            b"Cc: carol@example.org\r\n"
            b"Subject: Fetch test\r\n"
            b"Date: Thu, 01 Jan 2026 00:00:00 +0000\r\n"
            b"Message-ID: <fetch@test>\r\n"
            b"MIME-Version: 1.0\r\n"
            b'Content-Type: multipart/mixed; boundary="XYZ"\r\n'
            b"\r\n"
            b"preamble\r\n"
            b"--XYZ\r\n"
            b"Content-Type: text/plain; charset=utf-8\r\n"
            b"Content-Transfer-Encoding: 7bit\r\n"
            b"\r\n"
            b"Hello part one.\r\n"
            b"--XYZ\r\n"
            b'Content-Type: application/octet-stream; name="b.bin"\r\n'
            b"Content-Transfer-Encoding: base64\r\n"
            b"\r\n" +
            base64.encodebytes(BLOB).replace(b"\n", b"\r\n") +
            b"--XYZ--\r\n")


def test_fetch_items(tern):
    s = tern.smtp()
    s.sendmail("alice@example.org", [USER], MIME_MSG)
    s.quit()
    r = tern.imap_raw(login=True)
    select(r)
    f = stored(tern)[0]
    assert f.endswith(MIME_MSG)
    head = f[:f.index(b"\r\n\r\n") + 4]
    body = f[len(head):]
    got = fetches(r.ok("FETCH 1 (FLAGS UID RFC822.SIZE INTERNALDATE)"))[1]
    m = re.match(rb'^\* 1 FETCH \(FLAGS \(\) UID 1 RFC822.SIZE (\d+) INTERNALDATE "([^"]+)"\)$',
                 got)
    assert m, got
    assert int(m.group(1)) == len(f)
    when = datetime.datetime.strptime(m.group(2).decode(), "%d-%b-%Y %H:%M:%S %z")
    assert abs((datetime.datetime.now(datetime.timezone.utc) - when).total_seconds()) < 300
    got = fetches(r.ok("FETCH 1 ENVELOPE"))[1]
    assert got == (b'* 1 FETCH (ENVELOPE ("Thu, 01 Jan 2026 00:00:00 +0000" "Fetch test" '
                   b'(("Alice Example" NIL "alice" "example.org")) '
                   b'(("Alice Example" NIL "alice" "example.org")) '
                   b'(("Alice Example" NIL "alice" "example.org")) '
                   b'(("Bob" NIL "user" "example.test")(NIL NIL "other" "example.test")) '
                   b'((NIL NIL "carol" "example.org")) NIL NIL "<fetch@test>"))'), got
    got = fetches(r.ok("FETCH 1 BODYSTRUCTURE"))[1]
    # the CRLF before "--XYZ--" belongs to the boundary, not to the part
    b64len = len(base64.encodebytes(BLOB).replace(b"\n", b"\r\n")) - 2
    b64lines = base64.encodebytes(BLOB).count(b"\n")
    # the text part has no line end of its own (the CRLF before "--XYZ" is
    # the boundary's): 15 octets; its line count is 0 or 1 depending on how
    # a last line without CRLF is counted
    want = (rb'^\* 1 FETCH \(BODYSTRUCTURE \(\("TEXT" "PLAIN" \("CHARSET" "utf-8"\) NIL NIL '
            rb'"7BIT" 15 [01] NIL NIL NIL NIL\)\("APPLICATION" "OCTET-STREAM" \("NAME" "b.bin"\) '
            rb'NIL NIL "BASE64" %d NIL NIL NIL NIL\) "MIXED" \("BOUNDARY" "XYZ"\) NIL NIL NIL\)\)$'
            % b64len)
    assert re.match(want, got, re.I), (got, want, b64lines)
    got = fetches(r.ok("FETCH 1 (BODY.PEEK[] RFC822.HEADER BODY.PEEK[HEADER.FIELDS (SUBJECT)] "
                       "BODY.PEEK[1] BODY.PEEK[TEXT]<0.10> BODY.PEEK[2.MIME] "
                       "BODY.PEEK[TEXT]<100000.10>)"))[1]
    assert literal_after(got, b"BODY[]") == f
    assert literal_after(got, b"RFC822.HEADER") == head
    assert literal_after(got, b"BODY[HEADER.FIELDS (SUBJECT)]") == b"Subject: Fetch test\r\n\r\n"
    assert literal_after(got, b"BODY[1]") == b"Hello part one."
    assert literal_after(got, b"BODY[TEXT]<0>") == body[:10] == b"preamble\r\n"
    assert literal_after(got, b"BODY[2.MIME]") == (b'Content-Type: application/octet-stream; '
                                                   b'name="b.bin"\r\nContent-Transfer-Encoding: '
                                                   b'base64\r\n\r\n')
    assert literal_after(got, b"BODY[TEXT]<100000>") == b""
    assert b"FLAGS" not in got                           # PEEK: \Seen not set
    # BINARY (RFC 3516): the decoded part; NUL bytes need literal8
    got = fetches(r.ok("FETCH 1 (BINARY.PEEK[2] BINARY.SIZE[2] BINARY.PEEK[1])"))[1]
    assert b"BINARY[2] ~{%d}\r\n" % len(BLOB) in got
    assert literal_after(got, b"BINARY[2]") == BLOB
    assert b"BINARY.SIZE[2] %d" % len(BLOB) in got
    assert literal_after(got, b"BINARY[1]") == b"Hello part one."
    got = fetches(r.ok("FETCH 1 (BINARY.PEEK[2]<256.4>)"))[1]
    assert literal_after(got, b"BINARY[2]<256>") == BLOB[256:260]
    assert flags_in(fetches(r.ok("FETCH 1 FLAGS"))[1]) == set()
    # BODY[] without PEEK sets \Seen and says so
    got = fetches(r.ok("FETCH 1 BODY[1]"))[1]
    assert flags_in(got) == {"\\Seen"}
    assert literal_after(got, b"BODY[1]") == b"Hello part one."
    assert flags_in(fetches(r.ok("FETCH 1 FLAGS"))[1]) == {"\\Seen"}
    assert cur_files(tern)[0].endswith(":2,S")
    # macros, UID FETCH adds UID, out of range
    got = fetches(r.ok("FETCH 1 FAST"))[1]
    assert re.match(rb'^\* 1 FETCH \(FLAGS \(\\Seen\) INTERNALDATE "[^"]+" RFC822.SIZE %d\)$'
                    % len(f), got), got
    got = fetches(r.ok("UID FETCH 1 RFC822.SIZE"))[1]
    assert got == b"* 1 FETCH (UID 1 RFC822.SIZE %d)" % len(f)
    assert r.ok("UID FETCH 5:9 FLAGS") == []
    check(r, "FETCH 2 FLAGS", "BAD")
    check(r, "FETCH 1 (BOGUS)", "BAD")
    check(r, "FETCH 0 FLAGS", "BAD")
    r.close()


def test_fetch_large_mailbox_streams(tern):
    """A FETCH whose answer is far above the output high-water mark."""
    r = tern.imap_raw(login=True, timeout=30)
    msgs = [simple("big%d@test" % i, body=("%03d " % i) * 20000 + "\r\n") for i in range(12)]
    for m in msgs:
        assert status_of(append(r, "INBOX", m, nonsync=True)[1]) == b"OK"
    select(r)
    got = fetches(r.ok("FETCH 1:* (BODY.PEEK[])", timeout=30))
    assert [literal_after(got[i + 1], b"BODY[]") for i in range(12)] == msgs
    r.close()


# ---------------------------------------------------------------- STORE

def test_store_flags_and_keywords(tern):
    for i in range(3):
        deliver(tern, "st%d@test" % i)
    r = tern.imap_raw(login=True)
    select(r)
    assert r.ok("STORE 1 +FLAGS (\\Flagged)") == [b"* 1 FETCH (FLAGS (\\Flagged))"]
    assert r.ok("STORE 1 +FLAGS (\\Seen \\Answered)") == \
        [b"* 1 FETCH (FLAGS (\\Answered \\Flagged \\Seen))"]
    assert r.ok("STORE 1 -FLAGS (\\Flagged)") == [b"* 1 FETCH (FLAGS (\\Answered \\Seen))"]
    assert r.ok("STORE 2 FLAGS (\\Draft)") == [b"* 2 FETCH (FLAGS (\\Draft))"]
    assert r.ok("STORE 2 FLAGS ()") == [b"* 2 FETCH (FLAGS ())"]
    assert r.ok("STORE 1:3 +FLAGS.SILENT (\\Deleted)") == []
    assert r.ok("STORE 1:3 -FLAGS.SILENT (\\Deleted)") == []
    assert r.ok("UID STORE 3 +FLAGS ($Work)") == [b"* 3 FETCH (UID 3 FLAGS ($Work))"]
    untagged = r.ok("STORE 2:3 +FLAGS (NonJunk \\Flagged)")
    got = fetches(untagged)
    assert flags_in(got[2]) == {"NonJunk", "\\Flagged"}
    assert flags_in(got[3]) == {"$Work", "NonJunk", "\\Flagged"}
    assert flags_in(r.ok("STORE 3 -FLAGS ($Work)")[0]) == {"NonJunk", "\\Flagged"}
    check(r, "STORE 1 +FLAGS (\\Recent)", "BAD")
    check(r, "STORE 4 +FLAGS (\\Seen)", "BAD")
    assert r.ok("UID STORE 9 +FLAGS (\\Seen)") == []
    # the Maildir file names carry the system flags
    names = cur_files(tern)
    assert [n.rsplit(":2,", 1)[1] for n in names] == ["RS", "F", "F"], names
    # another session sees the same flags
    r2 = tern.imap_raw(login=True)
    select(r2)
    got = fetches(r2.ok("FETCH 1:3 FLAGS"))
    assert [flags_in(got[i]) for i in (1, 2, 3)] == [{"\\Answered", "\\Seen"},
                                                     {"NonJunk", "\\Flagged"},
                                                     {"NonJunk", "\\Flagged"}]
    r2.close()
    r.close()


def test_condstore_changedsince_unchangedsince(tern):
    for i in range(3):
        deliver(tern, "c%d@test" % i)
    r = tern.imap_raw(login=True)
    info = select(r, params=" (CONDSTORE)")
    m0 = info["highestmodseq"]
    got = fetches(r.ok("FETCH 1:* (UID FLAGS MODSEQ)"))
    modseqs = {}
    for seq, resp in got.items():
        mm = re.match(rb"^\* %d FETCH \(UID %d FLAGS \(\) MODSEQ \((\d+)\)\)$" % (seq, seq), resp)
        assert mm, resp
        modseqs[seq] = int(mm.group(1))
        assert 0 < modseqs[seq] <= m0
    untagged = r.ok("STORE 2 +FLAGS (\\Flagged)")
    mm = re.match(rb"^\* 2 FETCH \(FLAGS \(\\Flagged\) MODSEQ \((\d+)\)\)$", untagged[0])
    assert mm, untagged
    m1 = int(mm.group(1))
    assert m1 > m0
    # CHANGEDSINCE: only message 2
    got = fetches(r.ok("FETCH 1:* (FLAGS) (CHANGEDSINCE %d)" % m0))
    assert list(got) == [2] and b"MODSEQ (%d)" % m1 in got[2], got
    assert fetches(r.ok("FETCH 1:* (FLAGS) (CHANGEDSINCE %d)" % m1)) == {}
    # UNCHANGEDSINCE: message 2 changed after m0, so it is left alone
    untagged = r.ok("STORE 1:2 (UNCHANGEDSINCE %d) +FLAGS (\\Answered)" % m0)
    assert r.last_tagged.split(b" ", 1)[1].startswith(b"OK [MODIFIED 2]"), r.last_tagged
    got = fetches(untagged)
    assert list(got) == [1] and flags_in(got[1]) == {"\\Answered"}
    assert flags_in(fetches(r.ok("FETCH 2 FLAGS"))[2]) == {"\\Flagged"}
    # UID STORE: MODIFIED lists UIDs
    r.ok("UID STORE 3 +FLAGS (\\Seen)")
    untagged = r.ok("UID STORE 1:3 (UNCHANGEDSINCE %d) +FLAGS ($Done)" % m0)
    assert r.last_tagged.split(b" ", 1)[1].startswith(b"OK [MODIFIED 1:3]") or \
        r.last_tagged.split(b" ", 1)[1].startswith(b"OK [MODIFIED 1,2,3]"), r.last_tagged
    assert fetches(untagged) == {}
    # HIGHESTMODSEQ moved: STATUS and SELECT agree
    status = r.ok("STATUS INBOX (HIGHESTMODSEQ)")[0]
    hms = int(re.search(rb"HIGHESTMODSEQ (\d+)", status).group(1))
    info = select(r, params=" (CONDSTORE)")
    assert info["highestmodseq"] == hms > m1
    # SEARCH MODSEQ
    untagged = r.ok("SEARCH MODSEQ %d" % (m0 + 1))
    assert re.match(rb"^\* SEARCH 1 2 3 \(MODSEQ %d\)$" % hms, untagged[0]), untagged
    r.close()


def test_qresync(tern):
    for i in range(4):
        deliver(tern, "q%d@test" % i)
    r = tern.imap_raw(login=True)
    r.ok("ENABLE QRESYNC")
    info = select(r)
    v, m0 = info["uidvalidity"], info["highestmodseq"]
    r.ok("LOGOUT")
    r.close()
    # meanwhile another client expunges UID 2 and flags UID 3
    r = tern.imap_raw(login=True)
    select(r)
    r.ok("UID STORE 2 +FLAGS.SILENT (\\Deleted)")
    r.ok("UID STORE 3 +FLAGS.SILENT (\\Flagged)")
    untagged = r.ok("EXPUNGE")
    assert untagged == [b"* 2 EXPUNGE"], untagged
    r.close()
    # SELECT (QRESYNC) without ENABLE is refused
    r = tern.imap_raw(login=True)
    check(r, "SELECT INBOX (QRESYNC (%d %d))" % (v, m0), "BAD")
    r.ok("ENABLE QRESYNC")
    info = select(r, params=" (QRESYNC (%d %d))" % (v, m0))
    un = info["untagged"]
    assert b"* VANISHED (EARLIER) 2" in un, un
    got = fetches(un)
    assert list(got) == [2], un                          # UID 3 is now message 2
    assert re.match(rb"^\* 2 FETCH \(UID 3 FLAGS \(\\Flagged\) MODSEQ \(\d+\)\)$", got[2]), got
    assert info["exists"] == 3
    # VANISHED replaces EXPUNGE in this session
    r.ok("UID STORE 4 +FLAGS.SILENT (\\Deleted)")
    assert r.ok("EXPUNGE") == [b"* VANISHED 4"]
    # UID FETCH ... (CHANGEDSINCE m VANISHED)
    untagged = r.ok("UID FETCH 1:* (FLAGS) (CHANGEDSINCE %d VANISHED)" % m0)
    assert untagged[0] == b"* VANISHED (EARLIER) 2,4", untagged
    assert list(fetches(untagged)) == [2]
    # a wrong UIDVALIDITY: no VANISHED, no FETCH
    r.ok("UNSELECT")
    info = select(r, params=" (QRESYNC (%d %d))" % (v + 1, m0))
    assert not any(l.startswith(b"* VANISHED") or b"FETCH" in l for l in info["untagged"])
    # selecting another mailbox while one is selected says CLOSED
    untagged = r.ok("SELECT Sent")
    assert untagged[0].startswith(b"* OK [CLOSED]"), untagged
    r.close()


# ---------------------------------------------------------------- SEARCH

def search_mailbox(r):
    """Four messages with known dates, sizes, headers, flags (APPEND)."""
    msgs = [
        (simple("s1@test", subject="apple pie", body="crust\r\n", frm="Alice <alice@example.org>",
                date="Wed, 01 Jan 2020 10:00:00 +0000"),
         "\\Flagged", "01-Jan-2020 12:00:00 +0000"),
        (simple("s2@test", subject="banana split", body="ice cream unique-word\r\n",
                frm="bob@example.org", date="Tue, 15 Jun 2021 10:00:00 +0000"),
         "\\Seen", "15-Jun-2021 12:00:00 +0000"),
        (simple("s3@test", subject="=?UTF-8?Q?Gr=C3=BC=C3=9Fe?= aus K=?UTF-8?Q?=C3=B6?=ln",
                body="Gr=C3=BC=C3=9Fe aus K=C3=B6ln, sch=C3=B6n\r\n",
                frm="carol@example.org", date="Sat, 31 Dec 2022 10:00:00 +0000",
                extra="MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
                      "Content-Transfer-Encoding: quoted-printable\r\n"),
         "", "31-Dec-2022 12:00:00 +0000"),
        (simple("s4@test", subject="large one", body="z" * 8000 + "\r\n", frm="dave@example.org",
                date="Sun, 01 Jan 2023 10:00:00 +0000", extra="X-Custom: hello-header\r\n"),
         "", "01-Jan-2023 12:00:00 +0000"),
    ]
    for msg, flags, date in msgs:
        assert status_of(append(r, "INBOX", msg, flags=flags, date=date)[1]) == b"OK"
    select(r)
    return msgs


def test_search(tern):
    r = tern.imap_raw(login=True)
    search_mailbox(r)

    def s(crit, uid=False):
        return search_hits(r.ok(("UID SEARCH " if uid else "SEARCH ") + crit))

    assert s("ALL") == [1, 2, 3, 4]
    assert s("FLAGGED") == [1]
    assert s("UNSEEN") == [1, 3, 4]
    assert s("SEEN") == [2]
    assert s("FROM alice") == [1]
    assert s('FROM "ALICE"') == [1]
    assert s("SUBJECT banana") == [2]
    assert s('BODY "unique-word"') == [2]
    assert s("BODY apple") == []                      # only in the header
    assert s("TEXT apple") == [1]
    assert s("TEXT crust") == [1]
    assert s('HEADER X-Custom "hello"') == [4]
    assert s('HEADER X-Custom ""') == [4]
    assert s('HEADER Message-ID "<s2@test>"') == [2]
    assert s("LARGER 5000") == [4]
    assert s("SMALLER 5000") == [1, 2, 3]
    assert s("SINCE 15-Jun-2021") == [2, 3, 4]
    assert s("BEFORE 15-Jun-2021") == [1]
    assert s("ON 15-Jun-2021") == [2]
    assert s("ON 14-Jun-2021") == []
    assert s("SENTSINCE 31-Dec-2022") == [3, 4]
    assert s("SENTBEFORE 01-Jan-2021") == [1]
    assert s("SENTON 01-Jan-2023") == [4]
    assert s("OR FROM alice FROM bob") == [1, 2]
    assert s("NOT FROM alice") == [2, 3, 4]
    assert s("NOT (OR SEEN FLAGGED)") == [3, 4]
    assert s("UNSEEN SMALLER 5000") == [1, 3]
    assert s("2,4") == [2, 4]
    assert s("3:*") == [3, 4]
    assert s("*") == [4]
    assert s("UID 2:3") == [2, 3]
    assert s("UID 3:*") == [3, 4]
    assert s("FLAGGED", uid=True) == [1]
    assert s("UID 2:* UNSEEN", uid=True) == [3, 4]
    assert s("KEYWORD $Junk") == []
    # CHARSET UTF-8 with a literal; the quoted-printable body is decoded
    untagged, tagged = r.cmd(b"SEARCH CHARSET UTF-8 BODY {5+}\r\nK\xc3\xb6ln")
    assert status_of(tagged) == b"OK" and search_hits(untagged) == [3], (untagged, tagged)
    untagged, tagged = r.cmd(b"SEARCH CHARSET US-ASCII SUBJECT apple")
    assert search_hits(untagged) == [1]
    check(r, "SEARCH CHARSET ISO-8859-1 SUBJECT apple", "NO [BADCHARSET")
    untagged, tagged = r.cmd("SEARCH CHARSET KOI8-R ALL")
    assert re.match(rb"^a\d+ NO \[BADCHARSET \(([^)]*)\)\]", tagged), tagged
    assert b"UTF-8" in re.match(rb"^a\d+ NO \[BADCHARSET \(([^)]*)\)\]", tagged).group(1)
    check(r, "SEARCH BOGUS", "BAD")
    check(r, "SEARCH SINCE 32-Jan-2020", "BAD")
    r.close()


def test_search_mime_encoded_header(tern):
    """RFC 9051 6.4.4 / RFC 3501: MIME encoded-words in headers are decoded
    before comparing (Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?= ...)."""
    r = tern.imap_raw(login=True)
    search_mailbox(r)
    untagged, tagged = r.cmd(b"SEARCH CHARSET UTF-8 SUBJECT {7+}\r\nGr\xc3\xbc\xc3\x9fe")
    assert status_of(tagged) == b"OK" and search_hits(untagged) == [3], (untagged, tagged)
    r.close()


def test_esearch(tern):
    r = tern.imap_raw(login=True)
    search_mailbox(r)
    untagged, tagged = r.cmd("SEARCH RETURN (MIN MAX COUNT ALL) UNSEEN", tag="e1")
    assert untagged == [b'* ESEARCH (TAG "e1") MIN 1 MAX 4 COUNT 3 ALL 1,3:4'], untagged
    untagged, tagged = r.cmd("SEARCH RETURN () ALL", tag="e2")
    assert untagged == [b'* ESEARCH (TAG "e2") ALL 1:4'], untagged
    untagged, tagged = r.cmd("UID SEARCH RETURN (COUNT) ALL", tag="e3")
    assert untagged == [b'* ESEARCH (TAG "e3") UID COUNT 4'], untagged
    untagged, tagged = r.cmd("SEARCH RETURN (MIN MAX COUNT) KEYWORD nothing", tag="e4")
    assert untagged == [b'* ESEARCH (TAG "e4") COUNT 0'], untagged
    untagged, tagged = r.cmd("UID SEARCH RETURN (MAX) SEEN", tag="e5")
    assert untagged == [b'* ESEARCH (TAG "e5") UID MAX 2'], untagged
    check(r, "SEARCH RETURN (BOGUS) ALL", "BAD")
    r.close()


def test_searchres_saved_result(tern):
    """RFC 5182: RETURN (SAVE) keeps the result for "$", which is per mailbox."""
    r = tern.imap_raw(login=True)
    search_mailbox(r)
    assert b"SEARCHRES" in b" ".join(r.cmd("CAPABILITY")[0])
    # SAVE alone: no ESEARCH response, only the tagged OK.
    untagged, tagged = r.cmd("SEARCH RETURN (SAVE) UNSEEN", tag="s1")
    assert untagged == [] and status_of(tagged) == b"OK", (untagged, tagged)
    untagged, tagged = r.cmd("FETCH $ (UID)")
    assert [m for m in untagged] == [b"* 1 FETCH (UID 1)", b"* 3 FETCH (UID 3)",
                                      b"* 4 FETCH (UID 4)"], untagged
    # "$" inside a search program, and with UID commands.
    untagged, tagged = r.cmd("UID SEARCH $ LARGER 4000")
    assert search_hits(untagged) == [4], untagged
    untagged, tagged = r.cmd("UID STORE $ +FLAGS.SILENT (\\Answered)")
    assert status_of(tagged) == b"OK" and untagged == [], untagged
    untagged, tagged = r.cmd("SEARCH ANSWERED")
    assert search_hits(untagged) == [1, 3, 4], untagged
    # SAVE with MIN and MAX only keeps those two (RFC 5182 2.4), and answers.
    untagged, tagged = r.cmd("SEARCH RETURN (MIN MAX SAVE) ALL", tag="s2")
    assert untagged == [b'* ESEARCH (TAG "s2") MIN 1 MAX 4'], untagged
    untagged, tagged = r.cmd("UID FETCH $ (UID)")
    assert len(untagged) == 2, untagged
    # A new SELECT forgets it.
    select(r)
    untagged, tagged = r.cmd("FETCH $ (UID)")
    assert untagged == [] and status_of(tagged) == b"OK", untagged
    check(r, "FETCH $,1 (UID)", "BAD")
    r.close()


# ---------------------------------------------------------------- COPY MOVE EXPUNGE

def test_copy_and_move(tern):
    for i in range(4):
        deliver(tern, "cm%d@test" % i)
    files = stored(tern)
    r = tern.imap_raw(login=True)
    r.ok('CREATE "Dest"')
    dest = select(r, "Dest", cmd="EXAMINE")
    info = select(r)
    r.ok("STORE 2 +FLAGS (\\Flagged $Tag)")
    untagged = r.ok("COPY 1:2 Dest")
    assert untagged == []
    assert re.match(rb"^a\d+ OK \[COPYUID %d 1:2 1:2\] " % dest["uidvalidity"],
                    r.last_tagged), r.last_tagged
    check(r, "COPY 1 nothere", "NO [TRYCREATE]")
    assert r.ok('STATUS "Dest" (MESSAGES)') == [b'* STATUS "Dest" (MESSAGES 2)']
    # MOVE (RFC 6851): COPYUID, then EXPUNGE, then OK
    untagged = r.ok("MOVE 3 Dest")
    assert untagged == [b"* OK [COPYUID %d 3 3] Moved" % dest["uidvalidity"], b"* 3 EXPUNGE"], \
        untagged
    untagged = r.ok("UID MOVE 4 Dest")
    assert untagged == [b"* OK [COPYUID %d 4 4] Moved" % dest["uidvalidity"], b"* 3 EXPUNGE"], \
        untagged
    untagged = r.ok("UID MOVE 1 Dest")
    assert untagged == [b"* OK [COPYUID %d 1 5] Moved" % dest["uidvalidity"], b"* 1 EXPUNGE"], \
        untagged
    check(r, "MOVE 1 nothere", "NO [TRYCREATE]")
    assert r.ok("UID MOVE 99 Dest") == []
    assert select(r)["exists"] == 1 and info["exists"] == 4
    # the copies: same bytes, flags and keywords kept
    select(r, "Dest")
    got = fetches(r.ok("FETCH 1:* (UID FLAGS BODY.PEEK[])"))
    assert len(got) == 5
    assert [literal_after(got[i], b"BODY[]") for i in range(1, 6)] == \
        [files[0], files[1], files[2], files[3], files[0]]
    assert flags_in(got[2]) == {"\\Flagged", "$Tag"}
    r.close()


def test_expunge_close_unselect(tern):
    for i in range(5):
        deliver(tern, "ex%d@test" % i)
    r = tern.imap_raw(login=True)
    select(r)
    r.ok("STORE 1,3,5 +FLAGS.SILENT (\\Deleted)")
    # UID EXPUNGE (UIDPLUS): only the given UIDs
    assert r.ok("UID EXPUNGE 3:4") == [b"* 3 EXPUNGE"]
    assert r.ok("EXPUNGE") == [b"* 4 EXPUNGE", b"* 1 EXPUNGE"]
    got = fetches(r.ok("FETCH 1:* UID"))
    assert got == {1: b"* 1 FETCH (UID 2)", 2: b"* 2 FETCH (UID 4)"}
    assert len(stored(tern)) == 2
    assert r.ok("CHECK") == []
    assert r.ok("NOOP") == []
    # CLOSE expunges silently, UNSELECT does not
    r.ok("STORE 1 +FLAGS.SILENT (\\Deleted)")
    assert r.ok("UNSELECT") == []
    check(r, "FETCH 1 FLAGS", "BAD")
    info = select(r)
    assert info["exists"] == 2
    assert r.ok("CLOSE") == []
    info = select(r)
    assert info["exists"] == 1
    r.ok("STORE 1 +FLAGS.SILENT (\\Deleted)")
    select(r, cmd="EXAMINE")
    assert r.ok("CLOSE") == []                       # read-only: nothing expunged
    assert select(r)["exists"] == 1
    check(r, "CLOSE", "OK")
    check(r, "CLOSE", "BAD")                        # nothing selected any more
    untagged, tagged = r.cmd("LOGOUT")
    assert untagged == [b"* BYE Logging out"] and status_of(tagged) == b"OK"
    r.raw.expect_closed()
    r.close()
    assert len(stored(tern)) == 0                   # that CLOSE expunged the last one


# ---------------------------------------------------------------- literals, bad input

def test_literals(tern):
    r = tern.imap_raw()
    # synchronising literals: a "+" for each
    r.send("l1 LOGIN {%d}\r\n" % len(USER))
    assert r.response().startswith(b"+ ")
    r.send("%s {%d}\r\n" % (USER, len(PASSWORD)))
    assert r.response().startswith(b"+ ")
    r.send(PASSWORD + "\r\n")
    assert status_of(r.until_tagged("l1")[1]) == b"OK"
    r.close()
    # LITERAL+: no "+" at all, the first thing back is the tagged OK
    r = tern.imap_raw()
    r.send("l2 LOGIN {%d+}\r\n%s {%d+}\r\n%s\r\n" % (len(USER), USER, len(PASSWORD), PASSWORD))
    resp = r.response()
    assert resp.startswith(b"l2 OK "), resp
    # a literal in a mailbox name, with a CRLF-free name of odd bytes
    r.send('l3 CREATE {7+}\r\nlit"x\\y\r\n')
    assert status_of(r.until_tagged("l3")[1]) == b"OK"
    got = parse_list(r.ok('LIST "" "lit*"'))
    assert [g[0] for g in got] == ['lit"x\\y']
    # a literal over the limit (64 KiB for a command): refused, client in step
    r.send("l4 SELECT {70000}\r\n")
    resp = r.response()
    assert resp.startswith(b"l4 BAD [TOOBIG]"), resp
    r.ok("NOOP")
    r.send(b"l5 SELECT {70000+}\r\n" + b"x" * 70000 + b"\r\n")
    resp = r.response()
    assert resp.startswith(b"l5 BAD [TOOBIG]"), resp
    r.ok("NOOP")
    # a bad literal marker
    check(r, "SELECT {12x}", "BAD")
    r.ok("NOOP")
    r.close()


def test_bad_input_keeps_session_in_step(tern):
    r = tern.imap_raw()
    assert r.cmd("FROB")[1] == b"a001 BAD Unknown command FROB"
    check(r, "FETCH 1 FLAGS", "BAD")                    # not logged in
    check(r, "SELECT INBOX", "BAD")
    r.send(b"\r\n")                                     # empty line
    assert r.response().startswith(b"* BAD"), "empty line"
    r.send(b"bad\"tag NOOP\r\n")
    assert r.response().startswith(b"* BAD")
    check(r, "UID FROB 1", "BAD")
    check(r, "LOGIN onlyone", "BAD")
    r.login()
    r.close()
    r = tern.imap_raw(login=True)
    check(r, "FETCH 1 FLAGS", "BAD No mailbox selected")
    check(r, "SELECT", "BAD")
    check(r, "SELECT INBOX extra", "BAD")
    check(r, 'LIST "" "*" trailing', "BAD")
    # an overlong line: BAD with its tag, then business as usual
    r.send(b"o1 NOOP " + b"x" * 70000 + b"\r\n")
    resp = r.response()
    assert resp.startswith(b"o1 BAD"), resp[:200]
    untagged = r.ok("NOOP")
    assert untagged == []
    select(r)
    r.ok("CLOSE")
    r.close()


def test_too_many_errors_disconnects(tern):
    r = tern.imap_raw()
    for i in range(9):
        check(r, "BAD%d" % i, "BAD")
    r.send(b"z1 STILLBAD\r\n")
    assert r.response().startswith(b"z1 BAD")
    assert r.response() == b"* BYE Too many errors"
    r.raw.expect_closed()
    r.close()


# ---------------------------------------------------------------- concurrency

def test_two_sessions_see_each_others_changes(tern):
    for i in range(3):
        deliver(tern, "cc%d@test" % i)
    a = tern.imap_raw(login=True)
    b = tern.imap_raw(login=True)
    select(a)
    info = select(b)
    assert info["exists"] == 3
    assert a.ok("STORE 1 +FLAGS (\\Flagged)") == [b"* 1 FETCH (FLAGS (\\Flagged))"]
    assert b.ok("NOOP") == [b"* 1 FETCH (FLAGS (\\Flagged))"]
    assert b.ok("NOOP") == []                          # reported once
    a.ok("STORE 2 +FLAGS.SILENT (\\Deleted)")
    assert b.ok("NOOP") == [b"* 2 FETCH (FLAGS (\\Deleted))"]
    assert a.ok("EXPUNGE") == [b"* 2 EXPUNGE"]
    # FETCH, STORE and SEARCH must not send EXPUNGE (RFC 9051 7.5.1): B still sees 3
    got = fetches(b.ok("FETCH 1:* UID"))
    assert sorted(got) == [1, 3] or sorted(got) == [1, 2, 3], got
    assert not any(l.endswith(b"EXPUNGE") for l in b.ok("FETCH 1:3 FLAGS"))
    assert b.ok("NOOP") == [b"* 2 EXPUNGE"]
    # an APPEND by A: EXISTS at B's next NOOP
    assert status_of(append(a, "INBOX", simple("cc-new@test"))[1]) == b"OK"
    assert b.ok("NOOP") == [b"* 3 EXISTS"]
    got = fetches(b.ok("FETCH 3 (UID BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])"))
    assert b"<cc-new@test>" in got[3] and b"UID 4" in got[3]
    # a delivery over SMTP too
    deliver(tern, "cc-smtp@test")
    assert b.ok("NOOP") == [b"* 4 EXISTS"]
    assert a.ok("NOOP") == [b"* 4 EXISTS"]
    a.close()
    b.close()


def test_selected_mailbox_deleted_by_another_session(tern):
    """The session whose mailbox vanished is told so (BYE) at its next command."""
    a = tern.imap_raw(login=True)
    b = tern.imap_raw(login=True)
    a.ok("CREATE Doomed")
    select(b, "Doomed")
    a.ok("DELETE Doomed")
    b.send(b"n1 NOOP\r\n")
    line = b.response()
    assert line.startswith(b"* BYE"), line
    b.raw.expect_closed()                               # no tagged reply after the BYE
    a.ok("NOOP")                                        # the other session is fine
    a.close()


def test_idle(tern):
    deliver(tern, "i0@test")
    a = tern.imap_raw(login=True)
    b = tern.imap_raw(login=True)
    select(a)
    select(b)
    b.send("i1 IDLE\r\n")
    assert b.response() == b"+ idling"

    def within(seconds, what, allow=()):
        """what arrives within seconds (responses in allow may come first)."""
        start = time.monotonic()
        for _ in range(10):
            resp = b.response(timeout=seconds + 2)
            if resp not in allow:
                break
        took = time.monotonic() - start
        assert resp == what, resp
        assert took <= seconds, "%r after %.2fs" % (what, took)

    deliver(tern, "i1@test")
    within(1.0, b"* 2 EXISTS")
    assert status_of(append(a, "INBOX", simple("i2@test"))[1]) == b"OK"
    within(1.0, b"* 3 EXISTS")
    a.ok("STORE 1 +FLAGS.SILENT (\\Deleted)")
    assert a.ok("EXPUNGE") == [b"* 1 EXPUNGE"]
    within(1.0, b"* 1 EXPUNGE", allow=(b"* 1 FETCH (FLAGS (\\Deleted))",))
    a.ok("STORE 2 +FLAGS.SILENT (\\Flagged)")
    within(1.0, b"* 2 FETCH (FLAGS (\\Flagged))")
    b.quiet(0.7)                                       # nothing else meanwhile
    b.send("DONE\r\n")
    untagged, tagged = b.until_tagged("i1")
    assert untagged == [] and tagged.startswith(b"i1 OK"), (untagged, tagged)
    assert select(b)["exists"] == 2
    # anything but DONE ends IDLE with BAD
    b.send("i2 IDLE\r\n")
    assert b.response() == b"+ idling"
    b.send("NOOP\r\n")
    assert b.until_tagged("i2")[1].startswith(b"i2 BAD")
    b.ok("NOOP")
    # IDLE in the authenticated state
    b.ok("UNSELECT")
    b.send("i3 IDLE\r\n")
    assert b.response() == b"+ idling"
    b.quiet(0.3)
    b.send("done\r\n")
    assert b.until_tagged("i3")[1].startswith(b"i3 OK")
    a.close()
    b.close()


def test_many_sessions_at_once(tern):
    """Ten clients append, flag and fetch in parallel on one mailbox."""
    import threading
    errors = []

    def client(n):
        try:
            r = tern.imap_raw(login=True, timeout=20)
            for i in range(5):
                msg = simple("par%d-%d@test" % (n, i))
                assert status_of(append(r, "INBOX", msg, nonsync=True)[1]) == b"OK"
            select(r)
            r.ok("UID STORE 1:* +FLAGS.SILENT ($Seen%d)" % n)
            r.ok("FETCH 1:* (UID FLAGS)")
            r.ok("LOGOUT")
            r.close()
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append((n, repr(e)))

    threads = [threading.Thread(target=client, args=(n,)) for n in range(10)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)
    assert not any(th.is_alive() for th in threads)
    assert errors == []
    r = tern.imap_raw(login=True)
    info = select(r)
    assert info["exists"] == 50 and info["uidnext"] == 51
    got = fetches(r.ok("FETCH 1:* (UID)"))
    assert sorted(int(re.search(rb"UID (\d+)", v).group(1)) for v in got.values()) == \
        list(range(1, 51))
    r.close()
    assert len(stored(tern)) == 50


# ---------------------------------------------------------------- more protocol details

def test_pipelined_commands_answered_in_order(tern):
    deliver(tern, "pp@test")
    r = tern.imap_raw()
    r.send('p1 LOGIN "%s" "%s"\r\np2 SELECT INBOX\r\np3 FETCH 1 (UID FLAGS)\r\n'
           'p4 STORE 1 +FLAGS (\\Seen)\r\np5 NOOP\r\np6 LOGOUT\r\n' % (USER, PASSWORD))
    for tag in ("p1", "p2", "p3", "p4", "p5"):
        untagged, tagged = r.until_tagged(tag)
        assert tagged.startswith(tag.encode() + b" OK"), (tag, tagged)
        if tag == "p3":
            assert untagged == [b"* 1 FETCH (UID 1 FLAGS ())"]
        if tag == "p4":
            assert untagged == [b"* 1 FETCH (FLAGS (\\Seen))"]
    untagged, tagged = r.until_tagged("p6")
    assert untagged == [b"* BYE Logging out"]
    r.raw.expect_closed()
    r.close()


def test_imap4rev2_enabled(tern):
    """ENABLE IMAP4rev2 (RFC 9051): no RECENT, and SEARCH answers with ESEARCH
    (RFC 9051 6.4.4: the SEARCH response is gone from IMAP4rev2)."""
    for i in range(2):
        deliver(tern, "rev2-%d@test" % i)
    r = tern.imap_raw(login=True)
    untagged = r.ok("ENABLE IMAP4rev2")
    assert len(untagged) == 1 and untagged[0].upper() == b"* ENABLED IMAP4REV2", untagged
    info = select(r)
    assert not any(b"RECENT" in l for l in info["untagged"]), info["untagged"]
    assert info["exists"] == 2
    untagged, tagged = r.cmd("SEARCH ALL", tag="v1")
    assert status_of(tagged) == b"OK"
    assert untagged == [b'* ESEARCH (TAG "v1") ALL 1:2'], untagged
    r.close()


def test_copy_and_move_keep_internaldate_and_flags(tern):
    r = tern.imap_raw(login=True)
    date = "03-Mar-2021 04:05:06 +0000"
    assert status_of(append(r, "INBOX", simple("date1@test"), flags="\\Answered $K",
                            date=date)[1]) == b"OK"
    assert status_of(append(r, "INBOX", simple("date2@test"), date=date)[1]) == b"OK"
    r.ok('CREATE "Keep"')
    select(r)
    r.ok("COPY 1 Keep")
    r.ok("MOVE 2 Keep")
    select(r, "Keep")
    got = fetches(r.ok("FETCH 1:2 (INTERNALDATE FLAGS)"))
    for seq in (1, 2):
        assert b'INTERNALDATE "%s"' % date.encode() in got[seq], got[seq]
    assert flags_in(got[1]) == {"\\Answered", "$K"}
    r.close()


def test_append_binary_literal8(tern):
    """BINARY (RFC 3516): APPEND takes a literal8 with NUL bytes; BINARY[]
    gives the content back."""
    r = tern.imap_raw(login=True)
    content = b"\x00\x01binary\x00\xff" * 10
    msg = (b"From: a@example.org\r\nSubject: bin\r\nMIME-Version: 1.0\r\n"
           b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n"
           b"\r\n" + content)
    r.send(b"b1 APPEND INBOX ~{%d+}\r\n" % len(msg) + msg + b"\r\n")
    untagged, tagged = r.until_tagged("b1")
    assert tagged.startswith(b"b1 OK [APPENDUID "), tagged
    select(r)
    got = fetches(r.ok("FETCH 1 (BINARY.PEEK[1] BINARY.SIZE[1] RFC822.SIZE)"))[1]
    assert literal_after(got, b"BINARY[1]") == content
    assert b"BINARY[1] ~{%d}" % len(content) in got
    assert b"BINARY.SIZE[1] %d" % len(content) in got and b"RFC822.SIZE %d" % len(msg) in got
    r.close()
    assert stored(tern) == [msg]


def test_keyword_limit(tern):
    deliver(tern, "kw@test")
    r = tern.imap_raw(login=True)
    select(r)
    kws = " ".join("kw%02d" % i for i in range(64))
    r.ok("STORE 1 +FLAGS.SILENT (%s)" % kws)
    check(r, "STORE 1 +FLAGS (kw64)", "NO [LIMIT]")
    info = select(r)
    assert len([f for f in info["flags"] if f.startswith("kw")]) == 64
    assert len(flags_in(fetches(r.ok("FETCH 1 FLAGS"))[1])) == 64
    # RFC 9051 7.1: \* says new keywords can be created; they cannot any more
    assert "\\*" not in info["permanentflags"], info["permanentflags"]
    r.close()


def test_search_program_limits(tern):
    deliver(tern, "lim@test")
    r = tern.imap_raw(login=True)
    select(r)
    assert search_hits(r.ok("SEARCH " + " ".join(["ALL"] * 200))) == [1]
    check(r, "SEARCH " + " ".join(["ALL"] * 300), "BAD")
    assert search_hits(r.ok("SEARCH " + "(" * 20 + "ALL" + ")" * 20)) == [1]
    check(r, "SEARCH " + "(" * 40 + "ALL" + ")" * 40, "BAD")
    r.ok("NOOP")
    r.close()


@pytest.mark.tern(listen=("imap",), auth=dict(PLAIN_OK, max_failures="3",
                                              failure_delay_max="1s", lockout="15m"))
def test_failed_logins_lock_out(tern):
    r = tern.imap_raw(timeout=20)
    for _ in range(3):
        check(r, 'LOGIN "%s" "wrong"' % USER, "NO [AUTHENTICATIONFAILED]")
    # now even the right password is refused for a while, without a delay
    start = time.monotonic()
    check(r, 'LOGIN "%s" "%s"' % (USER, PASSWORD), "NO [UNAVAILABLE]")
    assert time.monotonic() - start < 1.0
    r.close()
    r = tern.imap_raw()
    cred = base64.b64encode(b"\0" + USER.encode() + b"\0" + PASSWORD.encode()).decode()
    check(r, "AUTHENTICATE PLAIN " + cred, "NO [UNAVAILABLE]")
    r.close()


@pytest.mark.tern(listen=("imap",), auth=PLAIN_OK, start=False)
def test_max_sessions(tern):
    conf = harness.ini_read(tern.conf)
    conf.setdefault("imap", {})["max_sessions"] = "3"
    harness.ini_write(tern.conf, conf)
    tern.start()
    held = [tern.imap_raw() for _ in range(3)]
    r = harness.ImapRaw(tern.ports["imap"], greet=False)
    assert r.response().startswith(b"* BYE [UNAVAILABLE]")
    r.raw.expect_closed()
    r.close()
    held.pop().close()
    time.sleep(0.3)
    r = tern.imap_raw(login=True)                       # a slot is free again
    r.close()
    for h in held:
        h.close()


def test_bare_lf_message_is_served_with_crlf(tern):
    """A message another Maildir tool wrote with bare LF: IMAP serves RFC 5322
    text (CRLF), and RFC822.SIZE is the size of what BODY[] returns (RFC 9051
    2.3.4), as the POP3 server already does for the same file."""
    deliver(tern, "crlf@test")
    newdir = tern.maildir_path(USER, "new")
    other = b"From: a@b\nSubject: lf\n\nline one\n.line two\nno final newline"
    with open(os.path.join(newdir, "1999999999.M1P1Q1.otherhost"), "wb") as f:
        f.write(other)
    r = tern.imap_raw(login=True)
    assert select(r)["exists"] == 2
    got = fetches(r.ok("FETCH 1:2 (RFC822.SIZE BODY.PEEK[])"))
    for seq in (1, 2):
        body = literal_after(got[seq], b"BODY[]")
        size = int(re.search(rb"RFC822.SIZE (\d+)", got[seq]).group(1))
        assert size == len(body), (seq, size, len(body))
        assert b"\n" not in body.replace(b"\r\n", b""), (seq, body[:200])
    assert literal_after(got[2], b"BODY[]") == other.replace(b"\n", b"\r\n")
    r.close()
