"""End-to-end tests of the POP3 server (RFC 1939, 2449, 5034) with real clients.

Mail goes in over SMTP (smtplib), comes out over POP3: Python's poplib, a raw
socket for pipelining and error cases, curl's pop3:// and fetchmail. The
bytes a client receives are compared with the file in the Maildir.
"""

import base64
import os
import poplib
import shutil
import ssl
import subprocess
import time

import pytest

import harness
from scram import ScramClient

USER = "user@example.test"
OTHER = "other@example.test"
PASSWORD = "secret-password-1"


# ---------------------------------------------------------------- helpers

def enable_pop3(t, plaintext_loopback=True, pop3s=False):
    """Give t a pop3 (and maybe pop3s) listener; returns {name: port}."""
    conf = harness.ini_read(t.conf)
    ports = {"pop3": harness.free_port()}
    conf["listen"]["pop3"] = "127.0.0.1:%d" % ports["pop3"]
    if pop3s:
        ports["pop3s"] = harness.free_port()
        conf["listen"]["pop3s"] = "127.0.0.1:%d" % ports["pop3s"]
    conf.setdefault("auth", {})["allow_plaintext_loopback"] = \
        "yes" if plaintext_loopback else "no"
    harness.ini_write(t.conf, conf)
    return ports


def make_pop(request, **opts):
    """The conftest tern fixture, not started, given a POP3 port, then started."""
    request.node.add_marker(pytest.mark.tern(start=False))
    t = request.getfixturevalue("tern")
    t.pop_ports = enable_pop3(t, **opts)
    t.start()
    return t, t.pop_ports["pop3"]


@pytest.fixture
def pop(request):
    """A started ternd with a POP3 port, plaintext allowed on loopback: (tern, port)."""
    return make_pop(request)


@pytest.fixture
def pop_tls(request):
    """Plaintext refused without TLS; pop3 (STLS) and pop3s ports: (tern, port)."""
    return make_pop(request, plaintext_loopback=False, pop3s=True)


def deliver(t, msgid, body=b"Hello.\r\n", to=USER, extra=b""):
    """Send one message over SMTP; returns the bytes the client sent."""
    msg = harness.message(msgid, to=to, body=body, extra=extra)
    s = t.smtp()
    s.sendmail("sender@example.org", [to], msg)
    s.quit()
    return msg


def stored(t, addr=USER):
    """Contents of the stored messages in delivery order, from new/ and cur/."""
    return harness.stored_messages(t, addr)


def login(port, user=USER, password=PASSWORD):
    p = poplib.POP3("127.0.0.1", port, timeout=10)
    p.user(user)
    p.pass_(password)
    return p


def joined(lines):
    """poplib's retr() lines back into wire bytes (it has undone the stuffing)."""
    return b"".join(l + b"\r\n" for l in lines)


class PopRaw:
    """A raw POP3 connection: exact bytes out, single and multi-line replies in."""

    def __init__(self, port, timeout=10.0, greet=True):
        self.raw = harness.Raw(port, timeout=timeout)
        if greet:
            g = self.line()
            assert g.startswith(b"+OK"), g

    def send(self, data):
        self.raw.send(data)

    def line(self, timeout=None):
        return self.raw.line(timeout)

    def cmd(self, line, want=None):
        self.send(line.encode() + b"\r\n" if isinstance(line, str) else line + b"\r\n")
        r = self.line()
        if want is not None:
            assert r.startswith(want.encode()), "%s: want %r, got %r" % (line, want, r)
        return r

    def multi(self):
        """Body lines of a multi-line reply, dot-unstuffed, without the final '.'."""
        out = []
        while True:
            l = self.line()
            if l == b".":
                return out
            out.append(l[1:] if l.startswith(b"..") else l)

    def close(self):
        self.raw.close()


# ---------------------------------------------------------------- RFC 1939 commands

def test_every_command(pop):
    t, port = pop
    sent = [deliver(t, "m%d@test" % i, body=b"Body %d\r\n.dot line\r\n" % i) for i in range(3)]
    files = stored(t)
    assert len(files) == 3
    for f, s in zip(files, sent):
        assert f.endswith(s)

    p = poplib.POP3("127.0.0.1", port, timeout=10)
    assert p.getwelcome().startswith(b"+OK")
    caps = p.capa()
    for c in ("TOP", "UIDL", "USER", "SASL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING",
              "EXPIRE"):
        assert c in caps, caps
    assert "PLAIN" in caps["SASL"]
    assert p.user(USER).startswith(b"+OK")
    assert p.pass_(PASSWORD).startswith(b"+OK")

    total = sum(len(f) for f in files)
    assert p.stat() == (3, total)
    resp, lines, _ = p.list()
    assert lines == [b"%d %d" % (i + 1, len(f)) for i, f in enumerate(files)]
    assert p.list(2) == b"+OK 2 %d" % len(files[1])
    resp, uids, _ = p.uidl()
    assert len(uids) == 3 and len(set(u.split()[1] for u in uids)) == 3
    assert p.uidl(3).split()[2] == uids[2].split()[1]

    for i, f in enumerate(files):
        resp, lines, octets = p.retr(i + 1)
        assert resp.startswith(b"+OK")
        assert joined(lines) == f, "RETR %d differs" % (i + 1)

    head, _, body = files[0].partition(b"\r\n\r\n")
    resp, lines, _ = p.top(1, 0)
    assert joined(lines) == head + b"\r\n\r\n"
    resp, lines, _ = p.top(1, 1)
    assert joined(lines) == head + b"\r\n\r\n" + body.split(b"\r\n")[0] + b"\r\n"

    assert p.noop().startswith(b"+OK")
    assert p.dele(2).startswith(b"+OK")
    with pytest.raises(poplib.error_proto, match="deleted"):
        p.dele(2)
    with pytest.raises(poplib.error_proto, match="deleted"):
        p.retr(2)
    with pytest.raises(poplib.error_proto, match="No such message"):
        p.retr(4)
    assert p.stat() == (2, total - len(files[1]))
    assert p.rset().startswith(b"+OK")
    assert p.stat() == (3, total)
    assert p.dele(1).startswith(b"+OK")
    assert p.quit().startswith(b"+OK")

    assert stored(t) == files[1:]


def test_bytes_identical_large_and_bare_lf(pop):
    t, port = pop
    # Lines that start with dots, long lines, ~600 KB: RETR streams in chunks.
    body = b"".join(b".%05d %s\r\n" % (i, b"x" * 70) for i in range(8000))
    deliver(t, "big@test", body=body)
    # A message written by another Maildir tool with bare LF and no ,S=.
    newdir = t.maildir_path(USER, "new")
    other = b"From: a@b\nSubject: lf\n\nline one\n.line two\nno final newline"
    with open(os.path.join(newdir, "1999999999.M1P1Q1.otherhost"), "wb") as f:
        f.write(other)
    files = stored(t)
    p = login(port)
    resp, lines, _ = p.retr(1)
    assert joined(lines) == files[0]
    resp, lines, _ = p.retr(2)
    assert joined(lines) == other.replace(b"\n", b"\r\n") + b"\r\n"
    p.quit()


def test_pipelining(pop):
    t, port = pop
    files = [deliver(t, "p%d@test" % i) for i in range(3)]
    files = stored(t)
    r = PopRaw(port)
    r.send(("USER %s\r\nPASS %s\r\nSTAT\r\nLIST\r\nUIDL\r\nRETR 1\r\nTOP 2 0\r\nDELE 3\r\n"
            "NOOP\r\nQUIT\r\n" % (USER, PASSWORD)).encode())
    assert r.line().startswith(b"+OK")           # USER
    assert r.line().startswith(b"+OK")           # PASS
    assert r.line() == b"+OK 3 %d" % sum(len(f) for f in files)
    assert r.line().startswith(b"+OK")
    assert len(r.multi()) == 3
    assert r.line().startswith(b"+OK")
    assert len(r.multi()) == 3
    assert r.line().startswith(b"+OK")
    assert joined(r.multi()) == files[0]
    assert r.line().startswith(b"+OK")
    assert joined(r.multi()) == files[1].partition(b"\r\n\r\n")[0] + b"\r\n\r\n"
    assert r.line().startswith(b"+OK")           # DELE
    assert r.line() == b"+OK"                    # NOOP
    assert r.line().startswith(b"+OK")           # QUIT
    r.raw.expect_closed()
    r.close()
    assert stored(t) == files[:2]


# ---------------------------------------------------------------- keep / delete

def uidl_map(port):
    p = login(port)
    _, lines, _ = p.uidl()
    p.quit()
    return [l.split()[1] for l in lines]


def test_leave_on_server_then_delete(pop):
    t, port = pop
    deliver(t, "a@test")
    deliver(t, "b@test")
    first = uidl_map(port)
    assert len(first) == 2
    assert uidl_map(port) == first               # stable across sessions
    deliver(t, "c@test")
    second = uidl_map(port)
    assert second[:2] == first and len(second) == 3 and second[2] not in first
    # the client deletes what it has, then the UIDs of the rest stay
    p = login(port)
    p.dele(1)
    p.dele(2)
    p.quit()
    assert uidl_map(port) == second[2:]
    # a ternd restart (index reopened) keeps them too
    t.restart()
    port = t.pop_ports["pop3"]
    assert uidl_map(port) == second[2:]


def test_dropped_connection_deletes_nothing(pop):
    t, port = pop
    deliver(t, "a@test")
    deliver(t, "b@test")
    before = stored(t)
    r = PopRaw(port)
    r.cmd("USER " + USER, "+OK")
    r.cmd("PASS " + PASSWORD, "+OK")
    r.cmd("DELE 1", "+OK")
    r.cmd("DELE 2", "+OK")
    r.close()
    time.sleep(0.3)
    assert stored(t) == before
    p = login(port)
    assert p.stat()[0] == 2
    p.quit()


def test_second_session_in_use(pop):
    t, port = pop
    deliver(t, "a@test")
    p1 = login(port)
    p2 = poplib.POP3("127.0.0.1", port, timeout=10)
    p2.user(USER)
    with pytest.raises(poplib.error_proto, match=r"\[IN-USE\]"):
        p2.pass_(PASSWORD)
    # another user is not affected
    p3 = login(port, OTHER)
    assert p3.stat() == (0, 0)
    p3.quit()
    p1.dele(1)
    p1.quit()
    # the lock went with the first session; the expunge is visible
    p2.user(USER)
    assert p2.pass_(PASSWORD).startswith(b"+OK")
    assert p2.stat() == (0, 0)
    p2.quit()


# ---------------------------------------------------------------- authentication

def test_wrong_password_delay_and_auth_code(pop):
    t, port = pop
    p = poplib.POP3("127.0.0.1", port, timeout=20)
    times = []
    for _ in range(2):
        p.user(USER)
        start = time.monotonic()
        with pytest.raises(poplib.error_proto, match=r"\[AUTH\]"):
            p.pass_("wrong")
        times.append(time.monotonic() - start)
    # 250 ms, then 500 ms (docs/limits.md): lower bounds, since the password
    # check adds its own time (much more under ASan)
    assert times[0] >= 0.25 and times[1] >= 0.5, times
    p.user("nobody@example.test")
    with pytest.raises(poplib.error_proto, match=r"\[AUTH\]"):
        p.pass_(PASSWORD)
    # the right password still works, and is never logged
    p.user(USER)
    assert p.pass_(PASSWORD).startswith(b"+OK")
    p.quit()
    assert PASSWORD not in t.log and "wrong" not in t.log.replace("wrong password", "")


def test_auth_plain(pop):
    t, port = pop
    deliver(t, "a@test")
    cred = base64.b64encode(b"\0" + USER.encode() + b"\0" + PASSWORD.encode()).decode()
    r = PopRaw(port)
    r.cmd("AUTH PLAIN " + cred, "+OK")
    r.cmd("STAT", "+OK 1 ")
    r.cmd("QUIT", "+OK")
    r.close()
    # without initial response: "+ " challenge, then the response
    r = PopRaw(port)
    assert r.cmd("AUTH PLAIN") == b"+ "
    r.cmd(cred, "+OK")
    r.cmd("QUIT", "+OK")
    r.close()
    # AUTH LOGIN: user name and password as two responses
    r = PopRaw(port)
    assert r.cmd("AUTH LOGIN").startswith(b"+ ")
    assert r.cmd(base64.b64encode(USER.encode()).decode()).startswith(b"+ ")
    r.cmd(base64.b64encode(PASSWORD.encode()).decode(), "+OK")
    r.cmd("QUIT", "+OK")
    r.close()
    # cancelled, wrong, unknown mechanism
    r = PopRaw(port)
    assert r.cmd("AUTH PLAIN") == b"+ "
    r.cmd("*", "-ERR")
    bad = base64.b64encode(b"\0" + USER.encode() + b"\0nope").decode()
    r.cmd("AUTH PLAIN " + bad, "-ERR [AUTH]")
    r.cmd("AUTH CRAM-MD5", "-ERR")
    r.cmd("AUTH", "+OK")
    assert r.multi() == [b"PLAIN", b"LOGIN", b"SCRAM-SHA-256"]
    r.close()


def test_auth_scram_sha256(pop):
    t, port = pop
    deliver(t, "a@test")
    for password, ok in ((PASSWORD, True), ("wrong", False)):
        r = PopRaw(port)
        c = ScramClient(USER, password)
        challenge = r.cmd("AUTH SCRAM-SHA-256 " + c.first())
        assert challenge.startswith(b"+ "), challenge
        reply = r.cmd(c.final(challenge[2:].decode()))
        if not ok:
            assert reply.startswith(b"-ERR [AUTH]"), reply
            r.close()
            continue
        assert reply.startswith(b"+ "), reply
        c.verify(reply[2:].decode())  # the server knows the password too
        r.cmd("", "+OK")
        r.cmd("STAT", "+OK 1 ")
        r.cmd("QUIT", "+OK")
        r.close()
    assert "SCRAM-SHA-256" in t.log


def test_plaintext_needs_tls(pop_tls):
    t, port = pop_tls
    deliver(t, "a@test")
    r = PopRaw(port)
    r.cmd("USER " + USER, "-ERR [AUTH]")
    r.cmd("AUTH PLAIN AHVzZXIAcGFzcw==", "-ERR [AUTH]")
    r.cmd("CAPA", "+OK")
    caps = r.multi()
    assert b"STLS" in caps and b"USER" not in caps
    r.close()
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    # STLS (RFC 2595)
    p = poplib.POP3("127.0.0.1", port, timeout=10)
    p.stls(ctx)
    assert "USER" in p.capa() and "STLS" not in p.capa()
    p.user(USER)
    p.pass_(PASSWORD)
    assert p.stat()[0] == 1
    p.quit()
    # implicit TLS (pop3s)
    p = poplib.POP3_SSL("127.0.0.1", t.pop_ports["pop3s"], context=ctx, timeout=10)
    p.user(USER)
    p.pass_(PASSWORD)
    resp, lines, _ = p.retr(1)
    assert joined(lines) == stored(t)[0]
    p.quit()


@pytest.mark.parametrize("version,ok", [("-tls1", False), ("-tls1_1", False),
                                        ("-tls1_2", True), ("-tls1_3", True)])
def test_tls_versions_openssl_s_client(pop_tls, version, ok):
    """TLS 1.2 is the minimum, over STLS (110) and implicit TLS (995)."""
    t, port = pop_tls
    if shutil.which("openssl") is None:
        pytest.skip("openssl missing")
    for p, extra in ((port, ["-starttls", "pop3"]), (t.pop_ports["pop3s"], [])):
        r = subprocess.run(["openssl", "s_client", version] + extra +
                           ["-connect", "127.0.0.1:%d" % p],
                           input=b"QUIT\r\n", capture_output=True, timeout=20)
        out = r.stdout.decode(errors="replace")
        established = "New, TLSv1" in out or \
            ("Cipher is (NONE)" not in out and "Protocol  :" in out)
        assert established == ok, (p, out[-2000:])


# ---------------------------------------------------------------- bad input

def test_bad_input_keeps_session_safe(pop):
    t, port = pop
    deliver(t, "a@test")
    r = PopRaw(port)
    r.cmd("FROB", "-ERR Unknown command")
    r.cmd("STAT", "-ERR Not logged in")
    r.cmd("PASS " + PASSWORD, "-ERR Send USER first")
    r.cmd("APOP a b", "-ERR")
    r.cmd("USER " + "u" * 300, "-ERR Line too long")
    r.cmd("RETR x", "-ERR")
    r.cmd("USER " + USER, "+OK")
    r.cmd("PASS " + PASSWORD, "+OK")
    r.cmd("USER " + USER, "-ERR Command not valid")
    r.cmd("STAT", "+OK 1 ")
    r.cmd("QUIT", "+OK")
    r.close()
    r = PopRaw(port)
    r.cmd("USER " + USER, "+OK")
    r.cmd("PASS " + PASSWORD, "+OK")
    r.cmd("RETR 0", "-ERR No such message")
    r.cmd("RETR 99999999999", "-ERR")
    r.cmd("TOP 1", "-ERR")
    r.cmd("LIST 2", "-ERR No such message")
    r.cmd("NOOP", "+OK")
    r.cmd("QUIT", "+OK")
    r.close()
    assert len(stored(t)) == 1


def test_too_many_errors_disconnects(pop):
    t, port = pop
    r = PopRaw(port)
    for i in range(9):
        r.cmd("BAD%d" % i, "-ERR")
    r.send(b"BAD\r\n")
    assert r.line().startswith(b"-ERR")
    assert r.line().startswith(b"-ERR Too many errors")
    r.raw.expect_closed()
    r.close()


# ---------------------------------------------------------------- curl

def test_curl_list_and_retr(pop, curl):
    t, port = pop
    deliver(t, "a@test", body=b".leading dot\r\nplain\r\n")
    deliver(t, "b@test")
    files = stored(t)
    base = ["curl", "-s", "--max-time", "20", "-u", "%s:%s" % (USER, PASSWORD)]
    out = subprocess.run(base + ["pop3://127.0.0.1:%d/" % port], capture_output=True,
                         timeout=30)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split(b"\r\n")[:2] == [b"1 %d" % len(files[0]), b"2 %d" % len(files[1])]
    out = subprocess.run(base + ["pop3://127.0.0.1:%d/1" % port], capture_output=True,
                         timeout=30)
    assert out.returncode == 0, out.stderr
    assert out.stdout == files[0]
    assert len(stored(t)) == 2      # curl's RETR deletes nothing


# ---------------------------------------------------------------- fetchmail

def run_fetchmail(t, port, keep, mbox):
    rc = os.path.join(t.dir, "fetchmailrc")
    with open(rc, "w") as f:
        f.write('poll 127.0.0.1 with protocol pop3 service %d uidl\n'
                '  user "%s" there with password "%s"\n'
                '  %s norewrite sslproto "" mda "cat >> %s"\n'
                % (port, USER, PASSWORD, "keep" if keep else "nokeep fetchall", mbox))
    os.chmod(rc, 0o600)
    env = dict(os.environ, HOME=t.dir, FETCHMAILHOME=t.dir)
    return subprocess.run(["fetchmail", "-N", "--nosyslog", "-f", rc,
                           "-i", os.path.join(t.dir, "fetchids")],
                          capture_output=True, timeout=60, env=env)


def mbox_messages(path):
    """The messages fetchmail piped, one 'cat >>' each, without the Received
    field fetchmail adds (it hands LF line ends to an MDA)."""
    import re
    with open(path, "rb") as f:
        data = f.read()
    msgs = [b"Return-Path: " + m for m in data.split(b"Return-Path: ") if m]
    out = []
    for m in msgs:
        stripped = re.sub(rb"Received: from [^\n]*\n(?:[ \t][^\n]*\n)*?[ \t][^\n]*fetchmail"
                          rb"[^\n]*\n(?:[ \t][^\n]*\n)*", b"", m, count=1)
        assert stripped != m, "no fetchmail Received: field in %r" % m[:400]
        out.append(stripped)
    return out


def test_fetchmail_keep_then_nokeep(pop):
    if shutil.which("fetchmail") is None:
        pytest.skip("fetchmail not installed (scripts/install-deps installs it)")
    t, port = pop
    sent = [deliver(t, "f%d@test" % i, body=b"body %d\r\n.dot\r\n" % i) for i in range(3)]
    files = stored(t)
    mbox = os.path.join(t.dir, "mbox")

    out = run_fetchmail(t, port, True, mbox)
    assert out.returncode == 0, out.stdout + out.stderr
    got = mbox_messages(mbox)
    # byte-identical apart from the header fetchmail adds
    assert got == [f.replace(b"\r\n", b"\n") for f in files]
    assert stored(t) == files                          # kept on the server
    # keep + UIDL: a second run fetches nothing new
    out = run_fetchmail(t, port, True, mbox)
    assert out.returncode == 1, out.stdout + out.stderr  # 1 = no mail
    assert mbox_messages(mbox) == got

    # no-keep: everything fetched again, then deleted on the server
    os.unlink(mbox)
    out = run_fetchmail(t, port, False, mbox)
    assert out.returncode == 0, out.stdout + out.stderr
    assert mbox_messages(mbox) == [f.replace(b"\r\n", b"\n") for f in files]
    assert stored(t) == []
    assert len(sent) == 3


# ---------------------------------------------------------------- UIDs

def test_uidl_is_imap_uid_identity(pop):
    """UIDL = 8 hex digits of the IMAP UID, then 8 of UIDVALIDITY (Dovecot's
    default %08Xu%08Xv), read back from the store's index."""
    import sqlite3
    t, port = pop
    for i in range(3):
        deliver(t, "u%d@test" % i)
    uidls = uidl_map(port)
    db = os.path.join(os.path.dirname(t.maildir_path(USER, "new")), "index.db")
    con = sqlite3.connect(db)
    (uidvalidity,) = con.execute("SELECT uidvalidity FROM mailboxes WHERE name = 'INBOX'").fetchone()
    uids = [r[0] for r in con.execute("SELECT uid FROM messages ORDER BY uid")]
    con.close()
    assert uidls == [("%08X%08X" % (u, uidvalidity)).encode() for u in uids]
    # every message moved from new/ to cur/ with the Maildir info suffix
    assert t.maildir(USER, "new") == []
    assert all(p.endswith(":2,") for p in t.maildir(USER, "cur"))


def test_lock_released_after_drop_and_damaged_index(pop):
    t, port = pop
    deliver(t, "a@test")
    r = PopRaw(port)
    r.cmd("USER " + USER, "+OK")
    r.cmd("PASS " + PASSWORD, "+OK")
    r.close()                            # no QUIT: the lock must still go
    time.sleep(0.3)
    before = uidl_map(port)
    # a damaged index is rebuilt; the mail is all there (new UIDVALIDITY)
    db = os.path.join(os.path.dirname(t.maildir_path(USER, "new")), "index.db")
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(db + suffix):
            with open(db + suffix, "wb") as f:
                f.write(b"this is not a database" * 100)
    p = login(port)
    assert p.stat()[0] == 1
    resp, lines, _ = p.retr(1)
    assert joined(lines) == stored(t)[0]
    p.quit()
    assert len(uidl_map(port)) == 1 and len(before) == 1
