"""`tern sendmail` and the classic names (sendmail, mailq, newaliases links).

The message goes into the queue through the one enqueue API; the queue
worker delivers local recipients itself and sends the rest on. DNS and the
receiving MTA come from test_queue's `net` fixture.
"""

import os
import subprocess
import time

import harness
from test_queue import MX2, net, only_message, wait_for  # noqa: F401 (fixture)


def run_link(t, name, *args, stdin=b""):
    """Run tern through a symlink called name, config from TERN_CONF."""
    link = os.path.join(t.dir, name)
    if not os.path.lexists(link):
        os.symlink(harness.tern_bin(), link)
    env = dict(os.environ, TERN_CONF=t.conf)
    return subprocess.run([link] + list(args), input=stdin, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=30, env=env)


def head_of(data):
    return data.split(b"\r\n\r\n", 1)[0]


def test_sendmail_t_to_local_users(net):
    net.start_dns(**MX2)
    t = net.make_sender()
    msg = ("To: User <user@example.test>\n"
           "Bcc: (hidden) other@example.test\n"
           "Subject: from sendmail\n"
           "\n"
           "Hello.\n"
           "..double\n"
           ".\n"
           "not this\n")
    p = t.cli("sendmail", "-t", stdin=msg)
    assert p.stdout == b"" and p.stderr == b""
    for rcpt in ("user@example.test", "other@example.test"):
        data = only_message(t, rcpt)
        head = head_of(data)
        assert data.endswith(b"\r\n\r\nHello.\r\n..double\r\n"), data
        assert b"not this" not in data
        assert b"Bcc:" not in head and b"hidden" not in head
        assert b"To: User <user@example.test>\r\n" in head
        assert b"Subject: from sendmail\r\n" in head
        assert b"\r\nReceived: by %s (tern sendmail" % harness.HOSTNAME.encode() in head
        for name in (b"Date: ", b"Message-ID: <", b"From: "):
            assert b"\r\n" + name in head, (name, head)
        # the envelope sender is the invoking user at our first local domain
        assert data.startswith(b"Return-Path: <"), data[:200]
        assert data.split(b"\r\n", 1)[0].endswith(b"@example.test>")
    assert wait_for(lambda: net.queue_ids() == [], timeout=5)


def test_sendmail_i_keeps_dot_lines_and_keeps_headers(net):
    net.start_dns(**MX2)
    t = net.make_sender()
    msg = (b"From: Someone <user@example.test>\r\n"
           b"Date: Thu, 01 Jan 2026 00:00:00 +0000\r\n"
           b"Message-ID: <given@example.test>\r\n"
           b"Subject: dots\r\n\r\none\r\n.\r\ntwo\r\n")
    t.cli("sendmail", "-i", "-f", "user@example.test", "-F", "Ignored Name", "user",
          stdin=msg)
    data = only_message(t, "user@example.test")
    assert data.startswith(b"Return-Path: <user@example.test>\r\n")
    assert data.endswith(b"\r\n\r\none\r\n.\r\ntwo\r\n"), data
    head = head_of(data)
    assert head.count(b"Message-ID:") == 1 and b"<given@example.test>" in head
    assert head.count(b"\r\nDate:") == 1 and head.count(b"\r\nFrom:") == 1
    assert b"Ignored Name" not in head


def test_sendmail_to_remote_goes_through_the_queue(net):
    net.start_dns(**MX2)
    mx1 = net.receiver("127.0.0.2", "dest.test")
    t = net.make_sender()
    p = run_link(t, "sendmail", "-oi", "-f", "user@example.test", "-F", "Test User",
                 "rcpt@dest.test", stdin=b"Subject: out\n\nremote body\n")
    assert p.returncode == 0, p.stderr
    data = only_message(mx1, "rcpt@dest.test", timeout=10)
    assert data.startswith(b"Return-Path: <user@example.test>\r\n")
    assert b"\r\nFrom: Test User <user@example.test>\r\n" in head_of(data)
    assert b"for <rcpt@dest.test>" in head_of(data)
    assert data.endswith(b"\r\n\r\nremote body\r\n")
    assert wait_for(lambda: net.queue_ids() == [], timeout=5)


def test_mailq_lists_a_stuck_entry_and_newaliases(net):
    net.start_dns(**MX2)
    t = net.make_sender()
    p = run_link(t, "sendmail", "rcpt@dest.test", stdin=b"Subject: stuck\n\nx\n")
    assert p.returncode == 0, p.stderr
    qid = wait_for(lambda: net.queue_ids())[0]
    assert wait_for(lambda: "event=queue-retry id=%s" % qid in t.log)
    p = run_link(t, "mailq")
    assert p.returncode == 0, p.stderr
    line = [l for l in p.stdout.decode().splitlines() if l.startswith(qid)]
    assert line, p.stdout
    cols = line[0].split("\t")
    assert cols[4] == "rcpt@dest.test" and "Connection refused" in cols[5], cols
    # sendmail -bp is mailq too
    assert qid in run_link(t, "sendmail", "-bp").stdout.decode()
    p = run_link(t, "newaliases")
    assert p.returncode == 0 and b"tern alias" in p.stdout


def test_sendmail_errors(net):
    net.start_dns(**MX2)
    t = net.make_sender()
    p = t.cli("sendmail", stdin="Subject: x\n\n", check=False)
    assert p.returncode == 2 and b"usage" in p.stderr
    p = t.cli("sendmail", "-t", stdin="Subject: no recipients\n\nx\n", check=False)
    assert p.returncode == 1 and b"no recipients" in p.stderr
    p = t.cli("sendmail", "bad address@", stdin="x\n", check=False)
    assert p.returncode == 1 and b"bad recipient address" in p.stderr
    time.sleep(0.2)
    assert net.queue_ids() == []
