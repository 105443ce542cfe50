"""SMTP under load and under process trouble.

- 100 sessions open at once, each delivering one message.
- SIGTERM to the master with sessions open: idle sessions get 421, every
  message that got 250 is in a mailbox, ternd exits 0.
- kill -9 of the smtpd worker while clients send: every message that got
  250 is in a mailbox (at least once), the master starts a new worker.

Every loop here is bounded in count and in time.
"""

import collections
import os
import signal
import threading
import time

import pytest

import harness
from harness import DialogError, Raw, check_reply, message, message_ids

SENDER = "sender@example.org"


def wait_for(what, seconds, step=0.1):
    """Poll what() until it returns something true (bounded); return it."""
    deadline = time.monotonic() + seconds
    while True:
        v = what()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(step)


def deliver_once(port, msgid, rcpt="user@example.test", timeout=10.0):
    """One session, one message. The sent bytes if the server said 250 after
    the data, else None. Connection trouble counts as not accepted."""
    msg = message(msgid, to=rcpt, body=("payload of %s\r\n" % msgid).encode() * 20)
    try:
        with Raw(port, timeout=timeout) as r:
            if r.reply().code != 220:
                return None
            for cmd, want in (("EHLO client.example", 250), ("MAIL FROM:<%s>" % SENDER, 250),
                              ("RCPT TO:<%s>" % rcpt, 250), ("DATA", 354)):
                if r.cmd(cmd).code != want:
                    return None
            r.send(msg + b".\r\n")
            ok = r.reply().code == 250
            r.send(b"QUIT\r\n")
            return msg if ok else None
    except (OSError, DialogError, ValueError):
        return None


def delivered_ids(tern, addr="user@example.test"):
    """Counter of Message-IDs in addr's mailbox, and {id: file bytes}."""
    counts = collections.Counter()
    content = {}
    for data in tern.messages(addr):
        for mid in message_ids(data):
            counts[mid.decode()] += 1
            content[mid.decode()] = data
    return counts, content


def check_acked(tern, acked):
    counts, content = delivered_ids(tern)
    missing = sorted(m for m in acked if counts[m] == 0)
    assert not missing, "%d messages got 250 but are in no mailbox: %s" % (
        len(missing), missing[:20])
    for mid, sent in acked.items():
        harness.assert_delivered(content[mid], SENDER, sent)


@pytest.mark.tern(smtp={"max_sessions_per_ip": "200", "max_sessions": "1000"})
def test_100_concurrent_sessions(tern):
    n = 100
    barrier = threading.Barrier(n, timeout=60)
    results = [None] * n
    sent = {}

    def client(i):
        msgid = "conc-%d@example.org" % i
        msg = message(msgid, body=("session %d\r\n" % i).encode() * (1 + i))
        try:
            s = tern.smtp(timeout=60)
            try:
                barrier.wait()  # all n sessions are open at the same time here
                s.sendmail(SENDER, ["user@example.test"], msg)
                sent[msgid] = msg
                results[i] = "ok"
            finally:
                s.close()
        except Exception as e:  # reported below, per session
            results[i] = repr(e)
            barrier.abort()

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 90
    for t in threads:
        t.join(max(0.1, deadline - time.monotonic()))
    assert not any(t.is_alive() for t in threads), "sessions still running after 90s"
    bad = [(i, r) for i, r in enumerate(results) if r != "ok"]
    assert not bad, "%d of %d sessions failed, first: %r" % (len(bad), n, bad[:3])
    counts, content = delivered_ids(tern)
    assert len(tern.maildir("user@example.test")) == n
    assert set(counts) == set(sent) and set(counts.values()) == {1}
    for mid, msg in sent.items():
        harness.assert_delivered(content[mid], SENDER, msg)


def test_sigterm_with_open_sessions(tern):
    idle = [tern.raw(ehlo=True, timeout=15) for _ in range(5)]
    # in a transaction, waiting for the client
    mid = tern.raw(ehlo=True, timeout=15)
    mid.cmd("MAIL FROM:<%s>" % SENDER, "250")
    mid.cmd("RCPT TO:<user@example.test>", "250")
    # a message accepted in a session that stays open
    done = tern.raw(ehlo=True, timeout=15)
    done_msg = message("term-done@example.org")
    done.cmd("MAIL FROM:<%s>" % SENDER, "250")
    done.cmd("RCPT TO:<user@example.test>", "250")
    done.cmd("DATA", "354")
    done.send(done_msg + b".\r\n")
    check_reply(done.reply(), "250")
    # a message whose final dot crosses the SIGTERM
    racing = tern.raw(ehlo=True, timeout=15)
    racing_msg = message("term-racing@example.org")
    racing.cmd("MAIL FROM:<%s>" % SENDER, "250")
    racing.cmd("RCPT TO:<other@example.test>", "250")
    racing.cmd("DATA", "354")
    racing.send(racing_msg)

    # clients that keep sending while the server stops
    acked = {}
    stop = threading.Event()

    def sender(k):
        for i in range(1000):
            if stop.is_set():
                return
            msgid = "term-load-%d-%d@example.org" % (k, i)
            msg = deliver_once(tern.port, msgid, timeout=10)
            if msg is not None:
                acked[msgid] = msg
            elif stop.wait(0.05):
                return

    threads = [threading.Thread(target=sender, args=(k,), daemon=True) for k in range(4)]
    for t in threads:
        t.start()
    time.sleep(0.5)

    tern.signal(signal.SIGTERM)
    racing.send(b".\r\n")
    try:
        racing_reply = racing.reply(timeout=15)
    except DialogError:
        racing_reply = None

    for i, r in enumerate(idle + [mid, done]):
        try:
            reply = r.reply(timeout=15)
        except DialogError as e:
            raise AssertionError("session %d: no 421 before close: %s" % (i, e))
        assert reply.code == 421, "session %d: want 421, got %s" % (i, reply)
        r.expect_closed(10)
        r.close()

    rc = tern.wait(20)
    stop.set()
    for t in threads:
        t.join(30)
    assert rc == 0, "ternd exit status after SIGTERM: %r" % rc
    assert not any(t.is_alive() for t in threads)

    _, data = next(iter([(p, d) for p, d in tern.all_mail() if b"term-done@" in d]),
                   (None, None))
    assert data is not None, "the message that got 250 before SIGTERM is lost"
    harness.assert_delivered(data, SENDER, done_msg)
    racing_files = tern.maildir("other@example.test")
    if racing_reply is not None and racing_reply.code == 250:
        assert len(racing_files) == 1, "250 given, message lost"
    elif racing_reply is not None:
        assert racing_reply.code // 100 == 4, "racing message: %s" % racing_reply
        assert racing_files == [], "4xx given, yet delivered"
    racing.close()
    check_acked(tern, acked)
    assert not mid_delivered(tern)


def mid_delivered(tern):
    # the session that never sent DATA must have delivered nothing
    return [p for p, d in tern.all_mail() if b"term-done@" not in d
            and b"term-racing@" not in d and b"term-load-" not in d]


def test_kill9_smtpd_worker_under_load(tern):
    old = wait_for(tern.workers, 5)
    assert len(old) == 1, "want one 'ternd: smtpd' child of %d, found %r" % (
        tern.proc.pid, old)
    old = old[0]

    acked = {}
    acked_after = []
    stop = threading.Event()
    restarted = threading.Event()

    def sender(k):
        for i in range(5000):
            if stop.is_set():
                return
            msgid = "load-%d-%d@example.org" % (k, i)
            msg = deliver_once(tern.port, msgid, timeout=10)
            if msg is not None:
                acked[msgid] = msg
                if restarted.is_set():
                    acked_after.append(msgid)
            elif stop.wait(0.05):
                return

    threads = [threading.Thread(target=sender, args=(k,), daemon=True) for k in range(8)]
    for t in threads:
        t.start()
    wait_for(lambda: len(acked) >= 20, 10)
    before = len(acked)
    assert before > 0, "no message accepted under load before the kill"

    os.kill(old, signal.SIGKILL)
    t_kill = time.monotonic()
    new = wait_for(lambda: [p for p in tern.workers() if p != old], 10)
    assert new, "master did not start a new smtpd worker within 10s"
    assert wait_for(lambda: not harness.proc_status(old), 5), \
        "killed worker %d not reaped by the master" % old
    assert tern.wait_ready(10), "port does not answer 220 after the worker restart"
    restarted.set()
    took = time.monotonic() - t_kill
    wait_for(lambda: len(acked_after) >= 20, 10)
    stop.set()
    for t in threads:
        t.join(30)
    assert not any(t.is_alive() for t in threads), "senders still running"
    assert tern.proc.poll() is None, "master died"
    assert acked_after, "no message accepted after the restart (%.1fs)" % took
    check_acked(tern, acked)
    assert len(tern.workers()) == 1, "workers now: %r" % tern.workers()
