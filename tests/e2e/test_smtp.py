"""SMTP receiving end to end: real clients against a real ternd.

Each test gets a fresh ternd (fixture `tern`, conftest.py) with the users
user@example.test and other@example.test, max_message_size 1M, mynetworks
127.0.0.0/8. Delivery is checked byte for byte: a delivered file is one
Return-Path and one Received field followed by exactly the bytes the client
sent (dot-unstuffed, CRLF line ends).
"""

import os
import subprocess
import time

import pytest

import harness
from harness import assert_delivered, check_reply, message

SENDER = "sender@example.org"


def only_file(tern, addr):
    files = tern.maildir(addr)
    assert len(files) == 1, "%s: want one message, have %r" % (addr, files)
    with open(files[0], "rb") as f:
        return files[0], f.read()


def send_raw(r, rcpts, data_wire, sender=SENDER, mail_params=""):
    """One transaction on a Raw session; data_wire is already dot-stuffed and
    ends with CRLF. Returns the reply to the final dot."""
    r.cmd("MAIL FROM:<%s>%s" % (sender, mail_params), "250")
    for rc in rcpts:
        r.cmd("RCPT TO:<%s>" % rc, "250")
    r.cmd("DATA", "354")
    r.send(data_wire + b".\r\n")
    return r.reply(timeout=15)


def no_mail_except(tern, allowed):
    """Nothing was delivered anywhere but to the addresses in allowed."""
    allowed_dirs = {os.path.dirname(tern.maildir_path(a)) for a in allowed}
    for path, _ in tern.all_mail():
        assert os.path.dirname(os.path.dirname(path)) in allowed_dirs, \
            "unexpected delivery %s" % path


# ------------------------------------------------------------ greeting, EHLO

def test_greeting_and_ehlo_keywords(tern):
    with tern.raw(greet=False) as r:
        greet = r.reply()
        check_reply(greet, "220")
        assert harness.HOSTNAME in greet.lines[0], str(greet)
        ehlo = r.cmd("EHLO client.example", "250")
        assert ehlo.lines[0].startswith(harness.HOSTNAME), str(ehlo)
        kw = {l.split()[0].upper(): l.split()[1:] for l in ehlo.lines[1:] if l.split()}
        for k in ("PIPELINING", "8BITMIME", "ENHANCEDSTATUSCODES", "SMTPUTF8", "CHUNKING"):
            assert k in kw, "EHLO lacks %s: %s" % (k, ehlo)
        assert kw.get("SIZE") == ["1048576"], "SIZE: %s" % ehlo
        r.cmd("QUIT", "221")
        r.expect_closed()


# ------------------------------------------------------------ delivery

def test_delivery_exact_bytes_smtplib(tern):
    msg = message("exact-1@example.org", subject="exact bytes",
                  body=b"Line one.\r\n\r\nLine three, after an empty line.\r\n"
                       b"Trailing spaces   \r\n\tTabbed\r\n")
    with tern.smtp() as s:
        check_reply(s.mail(SENDER), "250")
        check_reply(s.rcpt("user@example.test"), "250")
        check_reply(s.data(msg), "250")
    path, data = only_file(tern, "user@example.test")
    assert_delivered(data, SENDER, msg)
    # Maildir name: <time>.<unique>.<host>,S=<size> and S= is the file size
    m = harness.MAILDIR_NAME.match(os.path.basename(path))
    assert m, "not a Maildir++ name: %s" % os.path.basename(path)
    assert int(m.group(1)) == os.path.getsize(path) == len(data)
    assert m.group(2) is None, "a message in new/ has no info suffix"
    assert os.listdir(os.path.join(os.path.dirname(os.path.dirname(path)), "tmp")) == []
    assert tern.maildir("other@example.test") == []
    no_mail_except(tern, ["user@example.test"])


def test_delivery_8bit_body(tern):
    body = ("Grüße aus Köln, ½ € — 日本語\r\n").encode("utf-8") + \
        bytes(range(0x80, 0x100)) + b"\r\nlatin-1: \xe9\xe8\r\n"
    msg = message("8bit-1@example.org", subject="8bit", body=body,
                  extra=b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
                        b"Content-Transfer-Encoding: 8bit\r\n")
    with tern.smtp() as s:
        s.sendmail(SENDER, ["user@example.test"], msg, mail_options=["BODY=8BITMIME"])
    _, data = only_file(tern, "user@example.test")
    assert_delivered(data, SENDER, msg)


@pytest.mark.tern(users=("user@example.test", "jörg@example.test"))
def test_delivery_smtputf8_addresses(tern):
    sender = "ñandú@example.org"
    msg = ("From: <%s>\r\nTo: <jörg@example.test>\r\nSubject: Grüße\r\n"
           "Message-ID: <utf8-1@example.org>\r\n\r\nHallo Jörg!\r\n" % sender).encode("utf-8")
    with tern.smtp() as s:
        assert s.has_extn("smtputf8")
        s.sendmail(sender, ["jörg@example.test"], msg,
                   mail_options=["SMTPUTF8", "BODY=8BITMIME"])
    _, data = only_file(tern, "jörg@example.test")
    assert_delivered(data, sender, msg)
    assert tern.maildir_path("jörg@example.test").endswith("/mail/example.test/jörg/new")


def test_recipient_case_insensitive(tern):
    msg = message("case-1@example.org")
    with tern.smtp() as s:
        s.sendmail(SENDER, ["USER@Example.TEST"], msg)
    _, data = only_file(tern, "user@example.test")
    assert_delivered(data, SENDER, msg)


def test_null_sender(tern):
    msg = message("null-1@example.org", frm="MAILER-DAEMON@example.org")
    with tern.smtp() as s:
        check_reply(s.mail("<>"), "250")
        check_reply(s.rcpt("user@example.test"), "250")
        check_reply(s.data(msg), "250")
    _, data = only_file(tern, "user@example.test")
    assert_delivered(data, "", msg)


def test_two_transactions_one_session(tern):
    m1 = message("two-1@example.org", subject="one")
    m2 = message("two-2@example.org", subject="two")
    with tern.smtp() as s:
        s.sendmail(SENDER, ["user@example.test"], m1)
        check_reply(s.rset(), "250")
        s.sendmail("second@example.org", ["user@example.test"], m2)
    got = sorted(tern.messages("user@example.test"), key=lambda d: b"two-2" in d)
    assert len(got) == 2
    assert_delivered(got[0], SENDER, m1)
    assert_delivered(got[1], "second@example.org", m2)


def test_user_added_while_running(tern):
    with tern.smtp() as s:
        check_reply(s.mail(SENDER), "250")
        check_reply(s.rcpt("late@example.test"), "550 5.1.1")
    tern.add_user("late@example.test")
    msg = message("late-1@example.org", to="late@example.test")
    with tern.smtp() as s:
        s.sendmail(SENDER, ["late@example.test"], msg)
    _, data = only_file(tern, "late@example.test")
    assert_delivered(data, SENDER, msg)


# ------------------------------------------------------------ recipients

def test_plus_addressing(tern):
    msg = message("plus-1@example.org", to="user+lists@example.test")
    with tern.smtp() as s:
        s.sendmail(SENDER, ["user+lists@example.test"], msg)
    _, data = only_file(tern, "user@example.test")
    assert_delivered(data, SENDER, msg)
    no_mail_except(tern, ["user@example.test"])


@pytest.mark.tern(smtp={"recipient_delimiter": ""})
def test_plus_addressing_off(tern):
    with tern.smtp() as s:
        check_reply(s.mail(SENDER), "250")
        check_reply(s.rcpt("user+lists@example.test"), "550 5.1.1")


@pytest.mark.tern(start=False)
def test_alias_to_two_users(tern):
    tern.add_alias("team@example.test", "user@example.test", "other@example.test")
    tern.start()
    msg = message("alias-1@example.org", to="team@example.test")
    with tern.smtp() as s:
        s.sendmail(SENDER, ["team@example.test"], msg)
    for addr in ("user@example.test", "other@example.test"):
        _, data = only_file(tern, addr)
        assert_delivered(data, SENDER, msg)
    assert tern.maildir("team@example.test") == []


@pytest.mark.tern(start=False)
def test_user_and_alias_in_one_transaction_one_copy(tern):
    # RCPT user@ and RCPT an alias of user@: one message, one file
    tern.add_alias("info@example.test", "user@example.test")
    tern.start()
    msg = message("dup-1@example.org", to="info@example.test")
    with tern.smtp() as s:
        check_reply(s.mail(SENDER), "250")
        check_reply(s.rcpt("user@example.test"), "250")
        check_reply(s.rcpt("info@example.test"), "250")
        check_reply(s.data(msg), "250")
    _, data = only_file(tern, "user@example.test")
    assert_delivered(data, SENDER, msg)


@pytest.mark.tern(start=False)
def test_catch_all(tern):
    tern.add_alias("@example.test", "other@example.test")
    tern.start()
    m1 = message("catch-1@example.org", to="nobody@example.test")
    m2 = message("catch-2@example.org", to="user@example.test")
    with tern.smtp() as s:
        s.sendmail(SENDER, ["nobody@example.test"], m1)
        s.sendmail(SENDER, ["user@example.test"], m2)
        # the catch-all covers its own domain only (other.test is relayed: mynetworks)
        check_reply(s.mail(SENDER), "250")
        check_reply(s.rcpt("nobody@other.test"), "250 2.1.5")
        check_reply(s.rset(), "250")
    _, data = only_file(tern, "other@example.test")
    assert_delivered(data, SENDER, m1)
    _, data = only_file(tern, "user@example.test")
    assert_delivered(data, SENDER, m2)
    assert tern.maildir("nobody@example.test") == []


def test_unknown_user(tern):
    with tern.smtp() as s:
        check_reply(s.mail(SENDER), "250")
        check_reply(s.rcpt("nobody@example.test"), "550 5.1.1")
        code, _ = s.docmd("DATA")
        assert code in (503, 554), "DATA with no valid recipient: %d" % code
        check_reply(s.rset(), "250")
    assert tern.all_mail() == []


@pytest.mark.tern(smtp={"mynetworks": "192.0.2.0/24"})
def test_relay_denied(tern):
    with tern.smtp() as s:
        check_reply(s.mail(SENDER), "250")
        check_reply(s.rcpt("someone@example.org"), "554 5.7.1")
        check_reply(s.rcpt("user@example.test"), "250")
        check_reply(s.data(message("relay-1@example.org")), "250")
    assert len(tern.maildir("user@example.test")) == 1
    no_mail_except(tern, ["user@example.test"])


def test_foreign_domain_from_mynetworks_queued(tern):
    msg = message("relay-2@example.org", to="someone@example.org")
    with tern.smtp() as s:
        check_reply(s.mail(SENDER), "250")
        check_reply(s.rcpt("someone@example.org"), "250 2.1.5")
        check_reply(s.rcpt("user@example.test"), "250 2.1.5")
        check_reply(s.data(msg), "250 2.0.0")
    # the local copy is delivered, the remote one waits in the queue (no DNS here)
    _, data = only_file(tern, "user@example.test")
    assert data.endswith(msg)
    out = tern.cli("queue", "list").stdout.decode()
    lines = [l.split("\t") for l in out.splitlines() if "someone@example.org" in l]
    assert len(lines) == 1, out
    assert lines[0][3] == "<%s>" % SENDER


@pytest.mark.tern(smtp={"max_recipients": "3"},
                  users=("user@example.test", "other@example.test", "third@example.test",
                         "fourth@example.test"))
def test_too_many_recipients(tern):
    msg = message("many-1@example.org")
    with tern.smtp() as s:
        check_reply(s.mail(SENDER), "250")
        for addr in ("user", "other", "third"):
            check_reply(s.rcpt(addr + "@example.test"), "250")
        check_reply(s.rcpt("fourth@example.test"), "452 4.5.3")
        check_reply(s.data(msg), "250")
    for addr in ("user", "other", "third"):
        _, data = only_file(tern, addr + "@example.test")
        assert_delivered(data, SENDER, msg)
    assert tern.maildir("fourth@example.test") == []


# ------------------------------------------------------------ sizes, lines

def test_size_parameter_over_limit(tern):
    with tern.smtp() as s:
        check_reply(s.docmd("MAIL FROM:<%s> SIZE=2000000" % SENDER), "552 5.3.4")
        check_reply(s.docmd("MAIL FROM:<%s> SIZE=1000" % SENDER), "250")


def test_oversize_data(tern):
    line = b"x" * 76 + b"\r\n"
    big = b"Subject: big\r\n\r\n" + line * (1200 * 1024 // len(line))
    with tern.raw(ehlo=True, timeout=15) as r:
        check_reply(send_raw(r, ["user@example.test"], big), "552 5.3.4")
        assert tern.maildir("user@example.test") == []
        # the session survives and the next message goes through
        small = message("after-big@example.org")
        check_reply(send_raw(r, ["user@example.test"], small), "250")
        r.cmd("QUIT", "221")
    _, data = only_file(tern, "user@example.test")
    assert_delivered(data, SENDER, small)


def test_dot_stuffing(tern):
    # what the message is, and what goes on the wire
    lines = [b"Subject: dots", b"", b".", b"..", b".hidden", b"...three", b"a.", b" .",
             b".\t", b"end"]
    msg = b"".join(l + b"\r\n" for l in lines)
    wire = b"".join((b"." + l if l.startswith(b".") else l) + b"\r\n" for l in lines)
    with tern.raw(ehlo=True) as r:
        check_reply(send_raw(r, ["user@example.test"], wire), "250")
    _, data = only_file(tern, "user@example.test")
    assert_delivered(data, SENDER, msg)


def test_dot_stuffing_smtplib(tern):
    msg = message("dots-2@example.org", body=b".\r\n..\r\n.x\r\n")
    with tern.smtp() as s:
        s.sendmail(SENDER, ["user@example.test"], msg)
    _, data = only_file(tern, "user@example.test")
    assert_delivered(data, SENDER, msg)


def test_text_line_of_1000_octets_accepted(tern):
    # RFC 5321 4.5.3.1.6: 1000 octets including CRLF is the limit, not over it
    msg = b"Subject: limit\r\n\r\n" + b"y" * 998 + b"\r\n"
    with tern.raw(ehlo=True) as r:
        check_reply(send_raw(r, ["user@example.test"], msg), "250")
    _, data = only_file(tern, "user@example.test")
    assert_delivered(data, SENDER, msg)


def test_text_line_of_1001_octets_refused(tern):
    msg = b"Subject: over\r\n\r\n" + b"z" * 999 + b"\r\nafter\r\n"
    with tern.raw(ehlo=True) as r:
        check_reply(send_raw(r, ["user@example.test"], msg), "500 5.5.2")
        r.cmd("NOOP", "250")
    assert tern.all_mail() == []


def test_vrfy(tern):
    with tern.smtp() as s:
        code, _ = s.verify("user@example.test")
        assert code == 252
        code, _ = s.verify("nobody@example.test")
        assert code == 252


@pytest.mark.tern(start=False)
def test_over_quota(tern):
    tern.add_user("tiny@example.test", quota="1K")
    tern.start()
    m1 = message("quota-1@example.org", to="tiny@example.test", body=b"a" * 500 + b"\r\n")
    with tern.raw(ehlo=True) as r:
        check_reply(send_raw(r, ["tiny@example.test"], m1), "250")
        # 1K quota, ~700 bytes used: the next 600 bytes do not fit. Without
        # SIZE the server can refuse at RCPT (mailbox full) or after the dot.
        m2 = message("quota-2@example.org", to="tiny@example.test", body=b"b" * 600 + b"\r\n")
        r.cmd("MAIL FROM:<%s>" % SENDER, "250")
        rc = r.cmd("RCPT TO:<tiny@example.test>")
        if rc.code == 250:
            r.cmd("DATA", "354")
            r.send(m2 + b".\r\n")
            check_reply(r.reply(), "452 4.2.2")
        else:
            check_reply(rc, "452 4.2.2")
        r.cmd("RSET", "250")
        # other mailboxes are not affected
        check_reply(send_raw(r, ["user@example.test"], m2), "250")
    _, data = only_file(tern, "tiny@example.test")
    assert_delivered(data, SENDER, m1)
    assert len(tern.maildir("user@example.test")) == 1


@pytest.mark.tern(start=False)
def test_over_quota_first_message(tern):
    tern.add_user("tiny@example.test", quota="1K")
    tern.start()
    big = message("quota-3@example.org", to="tiny@example.test", body=(b"c" * 70 + b"\r\n") * 30)
    with tern.raw(ehlo=True) as r:
        r.cmd("MAIL FROM:<%s>" % SENDER, "250")
        r.cmd("RCPT TO:<tiny@example.test>", "250")  # empty mailbox: RCPT cannot know
        r.cmd("DATA", "354")
        r.send(big + b".\r\n")
        check_reply(r.reply(), "452 4.2.2")
    assert tern.all_mail() == []


# ------------------------------------------------------------ pipelining, BDAT

def test_pipelined_transaction_raw(tern):
    m = message("pipe-1@example.org")
    with tern.raw(ehlo=True) as r:
        r.send(b"MAIL FROM:<%s>\r\nRCPT TO:<user@example.test>\r\n"
               b"RCPT TO:<nobody@example.test>\r\nDATA\r\n" % SENDER.encode())
        check_reply(r.reply(), "250")
        check_reply(r.reply(), "250")
        check_reply(r.reply(), "550 5.1.1")
        check_reply(r.reply(), "354")
        r.send(m + b".\r\nQUIT\r\n")
        check_reply(r.reply(), "250")
        check_reply(r.reply(), "221")
        r.expect_closed()
    _, data = only_file(tern, "user@example.test")
    assert_delivered(data, SENDER, m)


def test_bdat_exact_bytes(tern):
    chunks = [b"From: <sender@example.org>\r\nSubject: bdat\r\n",
              b"\r\n.not stuffed\r\n..two dots\r\n",
              b"\r\n.\r\n",
              b"8bit: \xc3\xa9\xff\r\nend\r\n"]
    with tern.raw(ehlo=True) as r:
        r.cmd("MAIL FROM:<%s> BODY=8BITMIME" % SENDER, "250")
        r.cmd("RCPT TO:<user@example.test>", "250")
        for c in chunks[:-1]:
            r.send(b"BDAT %d\r\n" % len(c) + c)
            check_reply(r.reply(), "250")
        r.send(b"BDAT %d LAST\r\n" % len(chunks[-1]) + chunks[-1])
        check_reply(r.reply(), "250")
    _, data = only_file(tern, "user@example.test")
    assert_delivered(data, SENDER, b"".join(chunks))


def test_bdat_over_size_limit(tern):
    chunk = b"x" * 78 + b"\r\n"
    with tern.raw(ehlo=True, timeout=15) as r:
        r.cmd("MAIL FROM:<%s>" % SENDER, "250")
        r.cmd("RCPT TO:<user@example.test>", "250")
        body = chunk * (1200 * 1024 // len(chunk))
        r.send(b"BDAT %d LAST\r\n" % len(body) + body)
        check_reply(r.reply(), "552 5.3.4")
        r.cmd("NOOP", "250")
    assert tern.all_mail() == []


def test_swaks_pipelining_8bit(tern, swaks):
    data = ("From: <sender@example.org>\r\nTo: <user@example.test>\r\n"
            "Subject: swaks\r\nMessage-ID: <swaks-1@example.org>\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n\r\n"
            "Grüße, 8-bit body.\r\n.leading dot\r\nlast line").encode("utf-8")
    path = os.path.join(tern.dir, "swaks.eml")
    with open(path, "wb") as f:
        f.write(data)
    p = subprocess.run([swaks, "--server", "127.0.0.1:%d" % tern.port, "--pipeline",
                        "--ehlo", "client.example", "--from", SENDER,
                        "--to", "user@example.test", "--data", "@" + path,
                        "--timeout", "15"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
    out = p.stdout.decode("utf-8", "replace")
    assert p.returncode == 0, out
    assert "PIPELINING" in out, out
    _, got = only_file(tern, "user@example.test")
    # swaks ends the data with CRLF before the final dot
    assert_delivered(got, SENDER, data + b"\r\n")


def test_curl_delivery(tern, curl):
    data = (b"From: <sender@example.org>\r\nTo: <user@example.test>\r\n"
            b"Subject: curl\r\nMessage-ID: <curl-1@example.org>\r\n\r\n"
            b"Sent by curl.\r\n.dot line\r\n")
    path = os.path.join(tern.dir, "curl.eml")
    with open(path, "wb") as f:
        f.write(data)
    p = subprocess.run([curl, "-sS", "--max-time", "30",
                        "smtp://127.0.0.1:%d/client.example" % tern.port,
                        "--mail-from", SENDER, "--mail-rcpt", "user@example.test",
                        "-T", path],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
    assert p.returncode == 0, p.stdout.decode("utf-8", "replace")
    _, got = only_file(tern, "user@example.test")
    assert_delivered(got, SENDER, data)


def test_curl_unknown_recipient_fails(tern, curl):
    path = os.path.join(tern.dir, "curl.eml")
    with open(path, "wb") as f:
        f.write(b"Subject: x\r\n\r\nx\r\n")
    p = subprocess.run([curl, "-sS", "--max-time", "30",
                        "smtp://127.0.0.1:%d/client.example" % tern.port,
                        "--mail-from", SENDER, "--mail-rcpt", "nobody@example.test",
                        "-T", path],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
    assert p.returncode != 0
    assert "550" in p.stdout.decode("utf-8", "replace")
    assert tern.all_mail() == []


# ------------------------------------------------------------ timeouts, errors

@pytest.mark.tern(smtp={"timeout_command": "2s"})
def test_command_timeout(tern):
    with tern.raw(ehlo=True, timeout=10) as r:
        t0 = time.monotonic()
        reply = r.reply(timeout=10)
        waited = time.monotonic() - t0
        check_reply(reply, "421 4.4.2")
        assert waited >= 1.5, "timed out after %.1fs, configured 2s" % waited
        r.expect_closed(5)
    # a client that keeps talking is not cut off by the same timer
    with tern.raw(ehlo=True, timeout=10) as r:
        for _ in range(3):
            time.sleep(1)
            r.cmd("NOOP", "250")
        r.cmd("QUIT", "221")


@pytest.mark.tern(smtp={"timeout_command": "2s", "timeout_data_block": "2s",
                        "timeout_data_init": "2s"})
def test_data_timeout_delivers_nothing(tern):
    with tern.raw(ehlo=True, timeout=10) as r:
        r.cmd("MAIL FROM:<%s>" % SENDER, "250")
        r.cmd("RCPT TO:<user@example.test>", "250")
        r.cmd("DATA", "354")
        r.send(b"Subject: slow\r\n\r\nhalf a mess")
        check_reply(r.reply(timeout=10), "421 4.4.2")
        r.expect_closed(5)
    time.sleep(0.5)
    assert tern.all_mail() == []


@pytest.mark.tern(smtp={"timeout_command": "2s", "timeout_data_block": "2s",
                        "timeout_data_init": "2s"})
def test_bdat_timeout_delivers_nothing(tern):
    with tern.raw(ehlo=True, timeout=10) as r:
        r.cmd("MAIL FROM:<%s>" % SENDER, "250")
        r.cmd("RCPT TO:<user@example.test>", "250")
        r.send(b"BDAT 100 LAST\r\nSubject: slow\r\n\r\nonly part")
        check_reply(r.reply(timeout=10), "421 4.4.2")
        r.expect_closed(5)
    time.sleep(0.5)
    assert tern.all_mail() == []


@pytest.mark.tern(smtp={"max_errors": "3"})
def test_max_errors_smtplib(tern):
    with tern.smtp() as s:
        for _ in range(3):
            code, _ = s.docmd("XYZZY")
            assert code == 500
        code, msg = s.docmd("XYZZY")
        check_reply((code, msg), "421 4.7.0")


# ------------------------------------------------------------ invariants, limits

def assert_crlf_only(data):
    """Every LF in a stored file ends a CRLF (IMAP and POP3 send stored bytes)."""
    for i in range(len(data)):
        if data[i:i + 1] == b"\n":
            assert data[i - 1:i] == b"\r", "bare LF at %d in %r" % (i, data[max(0, i - 40):i + 40])


def test_bare_lf_in_data_never_stored(tern):
    # a bare LF is either refused or stored as CRLF, never stored bare
    with tern.raw(ehlo=True) as r:
        reply = send_raw(r, ["user@example.test"],
                         b"Subject: bare lf\nX-Other: y\r\n\r\nline\none\r\nend\n\r\n")
    if reply.code == 250:
        _, data = only_file(tern, "user@example.test")
        assert_crlf_only(data)
    else:
        assert reply.code // 100 == 5, str(reply)
        assert tern.all_mail() == []


def test_bare_lf_in_bdat_never_stored(tern):
    chunk = b"Subject: bare lf\n\nline\none\nlast"
    with tern.raw(ehlo=True) as r:
        r.cmd("MAIL FROM:<%s>" % SENDER, "250")
        r.cmd("RCPT TO:<user@example.test>", "250")
        r.send(b"BDAT %d LAST\r\n" % len(chunk) + chunk)
        reply = r.reply()
    if reply.code == 250:
        _, data = only_file(tern, "user@example.test")
        assert_crlf_only(data)
    else:
        assert reply.code // 100 == 5, str(reply)
        assert tern.all_mail() == []


def test_mail_loop_refused(tern):
    # DESIGN.md 3: more than 50 Received: fields is a loop
    hops = b"".join(b"Received: from h%d.example by h%d.example; "
                    b"Thu, 1 Jan 2026 00:00:00 +0000\r\n" % (i, i + 1) for i in range(60))
    with tern.raw(ehlo=True) as r:
        check_reply(send_raw(r, ["user@example.test"], hops + message("loop-1@example.org")),
                    "554 5.4.6")
        ok = b"".join(hops.split(b"\r\n")[i] + b"\r\n" for i in range(5)) + \
            message("loop-2@example.org")
        check_reply(send_raw(r, ["user@example.test"], ok), "250")
    _, data = only_file(tern, "user@example.test")
    assert_delivered(data, SENDER, ok)


@pytest.mark.tern(smtp={"mynetworks": "192.0.2.0/24", "max_sessions_per_ip": "3"})
def test_sessions_per_ip_limit(tern):
    # the limit applies to clients outside mynetworks
    held = [tern.raw(ehlo=True) for _ in range(3)]
    try:
        with tern.raw(greet=False) as r:
            check_reply(r.reply(), "421 4.7.0")
            r.expect_closed()
        held.pop().cmd("QUIT", "221")
        # a freed slot can be used again (bounded wait for the server to notice)
        for _ in range(50):
            with tern.raw(greet=False) as r:
                if r.reply().code == 220:
                    r.cmd("QUIT", "221")
                    break
            time.sleep(0.1)
        else:
            raise AssertionError("no session accepted after one of three closed")
    finally:
        for r in held:
            r.close()
