"""TLS everywhere and authenticated submission (RFC 3207, 8314, 4954, 6409).

Real clients: smtplib over STARTTLS and implicit TLS with certificate
verification against the certificate tern init made, swaks for AUTH LOGIN,
openssl s_client for protocol versions, and a small SCRAM-SHA-256 client
written here from RFC 5802 (smtplib has none).
"""

import base64
import os
import shutil
import smtplib
import socket
import ssl
import subprocess
import time

import pytest

import harness
from scram import ScramClient
from harness import HOSTNAME

PASSWORD = "secret-password-1"
LISTEN = ("submission", "submissions")
NO_PLAIN = {"allow_plaintext_loopback": "no"}

pytestmark = pytest.mark.tern(listen=LISTEN, auth=NO_PLAIN)


def tls_context(tern):
    ctx = ssl.create_default_context(cafile=os.path.join(tern.data_dir, "tls", "cert.pem"))
    ctx.check_hostname = True
    return ctx


class SMTPS(smtplib.SMTP_SSL):
    """Implicit TLS to 127.0.0.1, verifying the certificate for HOSTNAME."""

    def _get_socket(self, host, port, timeout):
        sock = socket.create_connection((host, port), timeout)
        return self.context.wrap_socket(sock, server_hostname=HOSTNAME)


def submission(tern, port_name="submission"):
    port = tern.ports[port_name]
    if port_name == "submissions":
        return SMTPS("127.0.0.1", port, timeout=10, context=tls_context(tern))
    s = smtplib.SMTP("127.0.0.1", port, timeout=10)
    s._host = HOSTNAME  # the name starttls() verifies
    s.ehlo("client.example.org")
    s.starttls(context=tls_context(tern))
    s.ehlo("client.example.org")
    return s


def body(frm, to, extra=""):
    return ("From: %s\r\nTo: %s\r\nSubject: hi\r\n%s\r\nhello\r\n" % (frm, to, extra)).encode()


def only_file(tern, addr):
    files = tern.maildir(addr)
    assert len(files) == 1, files
    with open(files[0], "rb") as f:
        return f.read()


# ---- TLS


def test_starttls_verified_and_received_records_tls(tern):
    s = submission(tern)
    assert "auth" in s.esmtp_features
    assert "starttls" not in s.esmtp_features
    s.login("user@example.test", PASSWORD)
    s.sendmail("user@example.test", ["other@example.test"],
               body("user@example.test", "other@example.test"))
    s.quit()
    data = only_file(tern, "other@example.test")
    head = data.split(b"\r\n\r\n")[0]
    assert b"with ESMTPSA id" in head
    assert b"(using TLSv1.3 with cipher TLS_" in head


def test_implicit_tls_465(tern):
    s = submission(tern, "submissions")
    s.ehlo("client.example.org")
    assert "starttls" not in s.esmtp_features
    s.login("user@example.test", PASSWORD)
    s.sendmail("user@example.test", ["user@example.test"], body("user@example.test",
                                                                "user@example.test"))
    s.quit()
    assert b"ESMTPSA" in only_file(tern, "user@example.test")


def test_port25_starttls_then_auth_offered(tern):
    s = smtplib.SMTP("127.0.0.1", tern.port, timeout=10)
    s._host = HOSTNAME
    s.ehlo("client.example.org")
    assert "starttls" in s.esmtp_features
    assert "auth" not in s.esmtp_features
    code, msg = s.docmd("AUTH", "PLAIN " + base64.b64encode(
        b"\0user@example.test\0" + PASSWORD.encode()).decode())
    assert (code, msg[:5]) == (530, b"5.7.0")
    s.starttls(context=tls_context(tern))
    s.ehlo("client.example.org")
    assert "PLAIN" in s.esmtp_features["auth"]
    assert "SCRAM-SHA-256" in s.esmtp_features["auth"]
    s.quit()


@pytest.mark.parametrize("version,ok", [("-tls1", False), ("-tls1_1", False),
                                        ("-tls1_2", True), ("-tls1_3", True)])
def test_tls_versions(tern, version, ok):
    if shutil.which("openssl") is None:
        pytest.skip("openssl missing")
    r = subprocess.run(["openssl", "s_client", version, "-starttls", "smtp", "-connect",
                        "127.0.0.1:%d" % tern.port, "-servername", HOSTNAME],
                       input=b"QUIT\r\n", capture_output=True, timeout=20)
    out = r.stdout.decode(errors="replace")
    established = "Cipher is (NONE)" not in out and "Protocol  :" in out \
        or ("New, TLSv1" in out)
    assert established == ok, out[-2000:]


def test_starttls_injection_is_discarded(tern):
    """CVE-2011-0411: a command pipelined after STARTTLS must never be executed."""
    sock = socket.create_connection(("127.0.0.1", tern.port), timeout=10)
    f = sock.makefile("rb")
    assert f.readline().startswith(b"220")
    sock.sendall(b"EHLO client.example.org\r\n")
    while True:
        line = f.readline()
        if line.startswith(b"250 "):
            break
    sock.sendall(b"STARTTLS\r\nMAIL FROM:<injected@example.org>\r\n")
    assert f.readline().startswith(b"220 2.0.0")
    tls = tls_context(tern).wrap_socket(sock, server_hostname=HOSTNAME)
    tls.settimeout(10)
    tls.sendall(b"RCPT TO:<user@example.test>\r\n")
    reply = tls.recv(4096)
    # Had the MAIL been kept, RCPT would be accepted.
    assert reply.startswith(b"503 5.5.1"), reply
    tls.close()


# ---- AUTH


def test_auth_login_with_swaks(tern):
    if shutil.which("swaks") is None:
        pytest.skip("swaks missing")
    r = subprocess.run(["swaks", "--server", "127.0.0.1:%d" % tern.ports["submission"],
                        "-tls", "--auth", "LOGIN", "--auth-user", "user@example.test",
                        "--auth-password", PASSWORD, "--from", "user@example.test",
                        "--to", "other@example.test", "--h-From", "<user@example.test>"],
                       capture_output=True, timeout=30)
    out = r.stdout.decode(errors="replace")
    assert r.returncode == 0, out
    assert "235 2.7.0" in out and "250 2.0.0 Ok" in out
    assert len(tern.maildir("other@example.test")) == 1


def scram_exchange(tern, user, password):
    """Drive SCRAM-SHA-256 (RFC 5802/7677) over SMTP AUTH; returns the final reply."""
    s = submission(tern)
    c = ScramClient(user, password)
    code, msg = s.docmd("AUTH", "SCRAM-SHA-256 " + c.first())
    assert code == 334, msg
    code, msg = s.docmd(c.final(msg))
    if code == 334:
        c.verify(msg)  # the server knows the password too
        code, msg = s.docmd("")
    s.close()
    return code, msg


def test_auth_scram_sha256(tern):
    assert scram_exchange(tern, "user@example.test", PASSWORD)[0] == 235
    code, msg = scram_exchange(tern, "user@example.test", "wrong")
    assert (code, msg[:5]) == (535, b"5.7.8")


def test_auth_plain_edge_cases(tern):
    s = submission(tern)
    # authzid other than the authcid is refused
    code, msg = s.docmd("AUTH", "PLAIN " + base64.b64encode(
        b"other@example.test\0user@example.test\0" + PASSWORD.encode()).decode())
    assert (code, msg[:5]) == (535, b"5.7.8")
    code, msg = s.docmd("AUTH", "PLAIN !!!notbase64")
    assert code == 501
    code, msg = s.docmd("AUTH", "NOSUCH")
    assert (code, msg[:5]) == (504, b"5.5.4")
    code, _ = s.docmd("AUTH", "PLAIN")
    assert code == 334
    code, msg = s.docmd("*")
    assert (code, msg[:5]) == (501, b"5.0.0")
    # empty authzid and the right password
    code, msg = s.docmd("AUTH", "PLAIN " + base64.b64encode(
        b"\0USER@Example.Test\0" + PASSWORD.encode()).decode())
    assert code == 235, msg
    code, msg = s.docmd("AUTH", "PLAIN =")
    assert (code, msg[:5]) == (503, b"5.5.1")
    s.quit()


@pytest.mark.tern(listen=LISTEN, auth=dict(NO_PLAIN, max_failures="3", failure_delay_max="1s",
                                           lockout="15m"))
def test_auth_brute_force_throttled(tern):
    s = submission(tern)
    started = time.monotonic()
    for _ in range(3):
        code, _ = s.docmd("AUTH", "PLAIN " + base64.b64encode(
            b"\0user@example.test\0wrong-password").decode())
        assert code == 535
    assert time.monotonic() - started >= 0.7  # 0.25 s + 0.5 s of growing delay at least
    # Now refused, even with the right password.
    code, msg = s.docmd("AUTH", "PLAIN " + base64.b64encode(
        b"\0user@example.test\0" + PASSWORD.encode()).decode())
    assert (code, msg[:5]) == (454, b"4.7.0")
    s.close()
    assert "event=auth-refused" in tern.log
    assert "wrong-password" not in tern.log  # never the password


# ---- submission rules


def test_submission_requires_auth_and_tls(tern):
    s = smtplib.SMTP("127.0.0.1", tern.ports["submission"], timeout=10)
    s.ehlo("client.example.org")
    assert "auth" not in s.esmtp_features  # not before TLS
    code, msg = s.mail("user@example.test")
    assert (code, msg[:5]) == (530, b"5.7.0")
    s.quit()
    s = submission(tern)
    code, msg = s.mail("user@example.test")
    assert (code, msg[:5]) == (530, b"5.7.0")
    s.quit()


@pytest.mark.tern(listen=LISTEN, auth=NO_PLAIN, start=False)
def test_submission_sender_must_be_the_users(tern):
    tern.add_alias("info@example.test", "user@example.test")
    tern.start()
    s = submission(tern)
    s.login("user@example.test", PASSWORD)
    code, msg = s.mail("other@example.test")
    assert (code, msg[:5]) == (553, b"5.7.1")
    s.rset()
    # the user's +tag and an alias that points to the user are the user's
    for sender in ("user+lists@example.test", "info@example.test"):
        code, _ = s.mail(sender)
        assert code == 250
        s.rset()
    # From: must match too, checked after the message
    code, _ = s.mail("user@example.test")
    s.rcpt("other@example.test")
    code, msg = s.data(body('"The Boss" <other@example.test>', "other@example.test"))
    assert (code, msg[:5]) == (553, b"5.7.1")
    assert tern.maildir("other@example.test") == []
    s.sendmail("info@example.test", ["other@example.test"],
               body('"Info" <info@example.test>', "other@example.test"))
    s.quit()
    assert len(tern.maildir("other@example.test")) == 1


def test_submission_adds_date_and_message_id(tern):
    s = submission(tern)
    s.login("user@example.test", PASSWORD)
    s.sendmail("user@example.test", ["other@example.test"],
               b"From: user@example.test\r\nSubject: bare\r\n\r\nno date here\r\n")
    s.quit()
    data = only_file(tern, "other@example.test")
    head, _, rest = data.partition(b"\r\n\r\n")
    assert b"\r\nDate: " in head
    assert b"\r\nMessage-ID: <" in head and b"@" + HOSTNAME.encode() + b">" in head
    assert rest == b"no date here\r\n"


def test_submission_remote_recipient_queued(tern):
    s = submission(tern)
    s.login("user@example.test", PASSWORD)
    s.mail("user@example.test")
    code, msg = s.rcpt("friend@elsewhere.example")
    assert (code, msg[:5]) == (250, b"2.1.5")
    code, msg = s.data(body("user@example.test", "friend@elsewhere.example"))
    assert code == 250, msg
    s.quit()
    # queued for the outbound queue (which finds no DNS in the tests)
    out = tern.cli("queue", "list").stdout.decode()
    assert "<user@example.test>\tfriend@elsewhere.example\t" in out, out
    assert tern.all_mail() == []


# ---- open relay probes on port 25 from a client outside mynetworks

PROBES = [
    "friend%elsewhere.example@example.test",
    "elsewhere.example!friend@example.test",
    "@example.test:friend@elsewhere.example",
    '"friend@elsewhere.example"@example.test',
    "friend@elsewhere.example@example.test",
    "friend@[192.0.2.1]",
    "friend@elsewhere.example.",
    "friend@example.test.",
    "friend@EXAMPLE.TEST.elsewhere.example",
    '"friend%elsewhere.example"@example.test',
    "friend@elsewhere.example (example.test)",
]


@pytest.mark.tern(listen=LISTEN, auth=NO_PLAIN, smtp={"mynetworks": "192.0.2.0/24"})
def test_no_open_relay(tern):
    for probe in PROBES:
        with harness.Raw(tern.port) as c:
            c.reply()
            c.cmd("EHLO probe.example.org", "250")
            c.cmd("MAIL FROM:<spammer@elsewhere.example>", "250")
            got = c.cmd("RCPT TO:<%s>" % probe)
            assert got.code in (501, 550, 553, 554), (probe, str(got))
    assert tern.maildir("user@example.test") == []
