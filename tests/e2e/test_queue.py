"""Outbound queue: MX routing, retries, bounces, crash safety, `tern queue`.

Each test runs its own DNS server (dnsmasq, in the foreground, on a free
127.0.0.1 port, answering only from the records the test gives) and
receiving MTAs that are other ternd instances on 127.0.0.2, 127.0.0.3, ...
all on one port, which is the sender's [queue] remote_port.
"""

import email
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

import pytest

import harness
from harness import check_reply, message

SENDER = "user@example.test"


def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_port_on(hosts):
    """A TCP port free on every host address given."""
    for _ in range(50):
        port = harness.free_port()
        ok = True
        for h in hosts:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                try:
                    s.bind((h, port))
                except OSError:
                    ok = False
                    break
        if ok:
            return port
    raise RuntimeError("no free port")


def wait_for(pred, timeout=15.0, step=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return pred()


class Dns:
    """dnsmasq answering for *.test from the given records only."""

    def __init__(self, workdir, mx=(), a=(), raw=(), extra=()):
        self.log = os.path.join(workdir, "dnsmasq.log")
        # the UDP port was free a moment ago; someone may take it meanwhile:
        # then dnsmasq exits at once and we try again on another port
        for _ in range(5):
            self.port = free_udp_port()
            self._start(mx, a, raw, extra)
            if not wait_for(self._ready, timeout=5):
                self.stop()
                raise RuntimeError("dnsmasq did not start: " + open(self.log).read())
            if self.proc.poll() is None:
                return
            self.fh.close()
        raise RuntimeError("dnsmasq did not start: " + open(self.log).read())

    def _start(self, mx, a, raw, extra):
        args = [shutil.which("dnsmasq"), "--keep-in-foreground", "--no-resolv", "--no-hosts",
                "--port=%d" % self.port, "--listen-address=127.0.0.1", "--bind-interfaces",
                "--pid-file=", "--local=/test/", "--log-queries", "--log-facility=-"]
        if os.geteuid() == 0:
            args.append("--user=root")
        for domain, host, pref in mx:
            args.append("--mx-host=%s,%s,%d" % (domain, host, pref))
        for name, addr in a:
            args.append("--host-record=%s,%s" % (name, addr))
        for name, rtype, hexdata in raw:
            args.append("--dns-rr=%s,%d,%s" % (name, rtype, hexdata))
        args.extend(extra)
        self.fh = open(self.log, "ab")
        self.log_start = self.fh.tell()
        self.proc = subprocess.Popen(args, stdout=self.fh, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)

    def _ready(self):
        if self.proc.poll() is not None:
            return True
        with open(self.log, "rb") as f:
            f.seek(self.log_start)
            return b"started" in f.read()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.fh.close()


class Net:
    """The sender, its DNS server and the receiving MTAs of one test."""

    def __init__(self, base):
        self.base = base
        self.servers = []
        self.dns = None
        self.port = free_port_on(["127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4"])
        self.sender = None

    def start_dns(self, **records):
        self.dns = Dns(self.base, **records)

    def receiver(self, host, domain, users=("rcpt",), start=True, quota=None):
        d = os.path.join(self.base, "mx-" + host)
        os.mkdir(d)
        t = harness.Tern(d, host=host, port=self.port)
        self.servers.append(t)
        t.add_domain(domain)
        for u in users:
            t.add_user("%s@%s" % (u, domain), quota=quota)
        if start:
            t.start()
        return t

    def make_sender(self, queue=None, aliases=()):
        d = os.path.join(self.base, "sender")
        os.mkdir(d)
        q = {"remote_port": str(self.port)}
        q.update(queue or {})
        t = harness.Tern(d, extra={"dns": {"servers": "127.0.0.1:%d" % self.dns.port},
                                   "queue": q})
        self.servers.append(t)
        for addr in ("user@example.test", "other@example.test"):
            t.add_user(addr)
        for src, dests in aliases:
            t.add_alias(src, *dests)
        t.start()
        self.sender = t
        return t

    def send(self, rcpts, msgid="q-1@example.test", frm=SENDER, body=b"Hello.\r\n",
             extra=b""):
        msg = message(msgid, frm=frm or "nobody@example.test", to=rcpts[0], body=body,
                      extra=extra)
        with self.sender.smtp() as s:
            check_reply(s.mail(frm), "250")
            for r in rcpts:
                check_reply(s.rcpt(r), "250")
            check_reply(s.data(msg), "250")
        return msg

    def queue_ids(self):
        d = os.path.join(self.sender.data_dir, "queue")
        try:
            return sorted(n for n in os.listdir(d) if not n.startswith(".")
                          and os.path.isfile(os.path.join(d, n)))
        except FileNotFoundError:
            return []

    def stop(self):
        logs = []
        self.problems = []
        for t in self.servers:
            rc = t.stop()
            if rc not in (0, None):
                self.problems.append("exit status %r of %s" % (rc, t.conf))
            log = t.log
            logs.append("==== %s\n%s" % (t.dir, log[-20000:]))
            for bad in ("AddressSanitizer", "LeakSanitizer", "runtime error:"):
                if bad in log:
                    self.problems.append("%s in %s" % (bad, t.logfile))
        if self.dns is not None:
            self.dns.stop()
            try:
                logs.append("==== dnsmasq\n" + open(self.dns.log).read()[-5000:])
            except OSError:
                pass
        return "\n".join(logs)


@pytest.fixture
def net(request):
    if shutil.which("dnsmasq") is None:
        pytest.skip("dnsmasq not installed (scripts/install-deps installs it)")
    base = tempfile.mkdtemp(prefix="tern-e2e-queue-",
                            dir=os.environ.get("TERN_E2E_TMP") or tempfile.gettempdir())
    os.chmod(base, 0o755)
    n = Net(base)
    failed = False
    try:
        yield n
    except Exception:
        failed = True
        raise
    finally:
        logs = n.stop()
        rep = getattr(request.node, "rep_call", None)
        if failed or (rep is not None and rep.failed) or n.problems:
            print(logs)
            print("kept %s" % base)
        else:
            shutil.rmtree(base, ignore_errors=True)
    assert not n.problems, n.problems


def only_message(t, addr, timeout=15.0):
    files = wait_for(lambda: t.maildir(addr), timeout=timeout)
    assert len(files) == 1, "want one message for %s, have %r" % (addr, files)
    with open(files[0], "rb") as f:
        return f.read()


def bounce_parts(data):
    m = email.message_from_bytes(data)
    assert m.get_content_type() == "multipart/report", data[:2000]
    assert m.get_param("report-type") == "delivery-status"
    parts = m.get_payload()
    status = parts[1]
    assert status.get_content_type() == "message/delivery-status"
    # the per-recipient fields, as sent (email re-folds them when serializing)
    raw = data.decode("utf-8", "replace")
    start = raw.index("Content-Type: message/delivery-status")
    text = raw[start:raw.index("\r\n--", start)].replace("\r\n", "\n")
    return m, text, parts


def log_time(log, needle):
    """Seconds (of the day) of the first log line containing needle."""
    for line in log.splitlines():
        if needle in line:
            stamp = line.split(" ", 1)[0]  # 2026-11-22T08:29:23.128
            h, m, sec = stamp.split("T", 1)[1].split(":")
            return int(h) * 3600 + int(m) * 60 + float(sec)
    raise AssertionError("%r not in the log" % needle)


MX2 = dict(mx=[("dest.test", "mx1.dest.test", 10), ("dest.test", "mx2.dest.test", 20)],
           a=[("mx1.dest.test", "127.0.0.2"), ("mx2.dest.test", "127.0.0.3")])


def test_delivery_to_best_mx(net):
    net.start_dns(**MX2)
    mx1 = net.receiver("127.0.0.2", "dest.test")
    mx2 = net.receiver("127.0.0.3", "dest.test")
    net.make_sender()
    t0 = time.monotonic()
    sent = net.send(["rcpt@dest.test"], body=b".leading dot\r\nline\r\n")
    data = only_message(mx1, "rcpt@dest.test")
    elapsed = time.monotonic() - t0
    assert elapsed < 5, "delivery took %.2fs" % elapsed
    assert mx2.maildir("rcpt@dest.test") == []
    # two hops: the receiver's Return-Path and Received, then ours, then the message
    fields, rest = harness.split_trace(data, received=2)
    assert fields["return-path"] == [b"<user@example.test>"]
    assert b"ESMTPS" in fields["received"][0], fields["received"][0]  # STARTTLS was used
    assert rest == sent
    assert wait_for(lambda: net.queue_ids() == [], timeout=5)
    # the queue heard of the new entry at once (inotify), not at a poll
    log = net.sender.log
    qid = re.search(r"event=delivered .* queue_id=(\w+)", log).group(1)
    committed = log_time(log, "queue_id=" + qid)
    started = log_time(log, "event=queue-run id=" + qid)
    # 100 ms on a real build; a sanitizer build runs several times slower
    limit = 0.5 if os.environ.get("ASAN_OPTIONS") is not None else 0.1
    assert started - committed < limit, "queue started %.3fs after the commit" % (
        started - committed)


def test_second_mx_when_first_refuses(net):
    net.start_dns(**MX2)
    mx2 = net.receiver("127.0.0.3", "dest.test")  # nothing listens on 127.0.0.2
    net.make_sender()
    sent = net.send(["rcpt@dest.test"])
    data = only_message(mx2, "rcpt@dest.test")
    assert data.endswith(sent)
    assert wait_for(lambda: net.queue_ids() == [], timeout=5)


def test_5xx_bounces_with_dsn(net):
    net.start_dns(**MX2)
    mx1 = net.receiver("127.0.0.2", "dest.test")
    net.make_sender()
    net.send(["rcpt@dest.test", "nobody@dest.test"], msgid="bounce-1@example.test")
    assert only_message(mx1, "rcpt@dest.test")
    data = only_message(net.sender, SENDER)
    assert data.startswith(b"Return-Path: <>\r\n")
    m, text, parts = bounce_parts(data)
    assert "Final-Recipient: rfc822; nobody@dest.test" in text
    assert "Action: failed" in text
    assert "Status: 5.1.1" in text
    assert "Diagnostic-Code: smtp; 550 5.1.1" in text
    assert "rcpt@dest.test" not in text  # delivered, not reported
    assert parts[2].get_content_type() == "text/rfc822-headers"
    assert b"Message-ID: <bounce-1@example.test>" in parts[2].as_bytes()
    assert wait_for(lambda: net.queue_ids() == [], timeout=5)


def test_null_mx_bounces_at_once(net):
    net.start_dns(raw=[("null.test", 15, "000000")])
    net.make_sender()
    net.send(["someone@null.test"])
    data = only_message(net.sender, SENDER)
    _, text, _ = bounce_parts(data)
    assert "Final-Recipient: rfc822; someone@null.test" in text
    assert "Status: 5.1.10" in text
    assert wait_for(lambda: net.queue_ids() == [], timeout=5)


def test_nxdomain_bounces_at_once(net):
    net.start_dns(**MX2)
    net.make_sender()
    net.send(["someone@nowhere.test"])
    data = only_message(net.sender, SENDER)
    _, text, _ = bounce_parts(data)
    assert "Status: 5.1.2" in text
    assert wait_for(lambda: net.queue_ids() == [], timeout=5)


def test_implicit_mx(net):
    net.start_dns(a=[("implicit.test", "127.0.0.4")])
    rx = net.receiver("127.0.0.4", "implicit.test")
    net.make_sender()
    sent = net.send(["rcpt@implicit.test"])
    assert only_message(rx, "rcpt@implicit.test").endswith(sent)


def test_null_sender_never_bounced(net):
    net.start_dns(**MX2)
    net.receiver("127.0.0.2", "dest.test")
    net.make_sender()
    net.send(["nobody@dest.test"], frm="")
    # the failure is final and nothing is generated for it
    assert wait_for(lambda: net.queue_ids() == [], timeout=10)
    time.sleep(0.5)
    assert net.sender.all_mail() == []
    assert "event=queue-bounce " not in net.sender.log


def test_loop_protection(net):
    net.start_dns(**MX2)
    mx1 = net.receiver("127.0.0.2", "dest.test")
    net.make_sender()
    hops = b"".join(b"Received: from hop%d.example by x; Thu, 1 Jan 2026 00:00:00 +0000\r\n"
                    % i for i in range(50))
    net.send(["rcpt@dest.test"], extra=hops)  # 50 here, ours makes 51
    data = only_message(net.sender, SENDER)
    _, text, _ = bounce_parts(data)
    assert "Status: 5.4.6" in text
    assert mx1.maildir("rcpt@dest.test") == []


def test_all_down_stays_queued_then_flush(net):
    net.start_dns(**MX2)
    net.make_sender()
    net.send(["rcpt@dest.test"], msgid="later-1@example.test")
    assert len(net.queue_ids()) == 1
    qid = net.queue_ids()[0]
    # tried, failed on both hosts, still queued with the reason
    assert wait_for(lambda: "event=queue-retry id=%s" % qid in net.sender.log)
    out = net.sender.cli("queue", "list").stdout.decode()
    line = [l for l in out.splitlines() if l.startswith(qid)]
    assert line, out
    cols = line[0].split("\t")
    assert cols[3] == "<user@example.test>" and cols[4] == "rcpt@dest.test", cols
    assert "mx2.dest.test" in cols[5] or "mx1.dest.test" in cols[5], cols
    mx1 = net.receiver("127.0.0.2", "dest.test")
    net.sender.cli("queue", "flush")
    data = only_message(mx1, "rcpt@dest.test", timeout=10)
    assert b"later-1@example.test" in data
    assert wait_for(lambda: net.queue_ids() == [], timeout=5)
    assert "queue is empty" in net.sender.cli("queue", "list").stdout.decode()


def test_kill9_of_queue_worker_loses_nothing(net):
    net.start_dns(**MX2)
    net.make_sender()
    ids = ["k%d@example.test" % i for i in range(5)]
    for i, mid in enumerate(ids):
        net.send(["rcpt@dest.test"], msgid=mid)
        if i == 2:
            for pid in net.sender.workers("ternd: queue"):
                os.kill(pid, signal.SIGKILL)
    assert len(net.queue_ids()) == 5
    # the master starts a new queue worker; it finds all five on disk
    assert wait_for(lambda: net.sender.workers("ternd: queue"), timeout=10)
    mx1 = net.receiver("127.0.0.2", "dest.test")
    time.sleep(0.5)
    net.sender.cli("queue", "flush")
    got = wait_for(lambda: len(mx1.maildir("rcpt@dest.test")) >= 5 and
                   mx1.messages("rcpt@dest.test"), timeout=20)
    assert got, "have %d of 5" % len(mx1.maildir("rcpt@dest.test"))
    found = {mid for mid in ids if any(mid.encode() in d for d in got)}
    assert found == set(ids)
    assert wait_for(lambda: net.queue_ids() == [], timeout=5)


def test_queue_show_and_delete(net):
    net.start_dns(**MX2)
    net.make_sender()
    net.send(["rcpt@dest.test", "two@dest.test"], msgid="show-1@example.test")
    qid = net.queue_ids()[0]
    assert wait_for(lambda: "event=queue-retry id=%s" % qid in net.sender.log)
    out = net.sender.cli("queue", "show", qid).stdout.decode()
    assert "id: %s" % qid in out
    assert "sender: <user@example.test>" in out
    assert "recipient: <rcpt@dest.test> pending" in out
    assert "recipient: <two@dest.test> pending" in out
    assert "attempts: 1" in out
    assert "last error: connection failed: Connection refused" in out
    # ids are hex: lower case is accepted too
    assert net.sender.cli("queue", "show", qid.lower()).stdout.decode().startswith(
        "id: %s\n" % qid)
    assert "Message-ID: <show-1@example.test>" in out
    assert "Hello." not in out  # headers only
    p = net.sender.cli("queue", "show", "0123456789ABCDEF", check=False)
    assert p.returncode == 1 and b"no queue entry" in p.stderr
    net.sender.cli("queue", "delete", qid)
    assert net.queue_ids() == []
    p = net.sender.cli("queue", "delete", qid, check=False)
    assert p.returncode == 1
    # the worker forgot it: flushing brings nothing back
    net.sender.cli("queue", "flush")
    time.sleep(0.5)
    assert net.queue_ids() == []
    assert "queue is empty" in net.sender.cli("queue", "list").stdout.decode()


def test_dns_failure_is_temporary(net):
    # an upstream that never answers: SERVFAIL/timeouts mean "try later"
    net.start_dns(extra=["--server=/fail.test/127.0.0.1#9"])
    net.make_sender()
    net.send(["rcpt@dest.fail.test"])
    qid = net.queue_ids()[0]
    assert wait_for(lambda: "event=queue-retry id=%s" % qid in net.sender.log, timeout=20)
    assert "MX lookup for dest.fail.test failed" in net.sender.log
    assert net.queue_ids() == [qid]
    assert net.sender.all_mail() == []  # no bounce for a temporary failure


def test_expiry_bounces(net):
    net.start_dns(**MX2)
    net.make_sender(queue={"lifetime": "2s"})
    net.send(["rcpt@dest.test"], msgid="old-1@example.test")
    data = only_message(net.sender, SENDER, timeout=15)
    _, text, parts = bounce_parts(data)
    assert "Final-Recipient: rfc822; rcpt@dest.test" in text
    assert "Status: 4.4.7" in text
    assert "delivery time expired" in text
    assert "Connection refused" in text  # the last error is reported
    assert wait_for(lambda: net.queue_ids() == [], timeout=5)


def test_4xx_moves_on_to_next_mx(net):
    net.start_dns(**MX2)
    # mx1 answers RCPT with 452 4.2.2 (the declared SIZE is over the quota)
    mx1 = net.receiver("127.0.0.2", "dest.test", quota="1")
    mx2 = net.receiver("127.0.0.3", "dest.test")
    net.make_sender()
    sent = net.send(["rcpt@dest.test"])
    assert only_message(mx2, "rcpt@dest.test").endswith(sent)
    assert mx1.maildir("rcpt@dest.test") == []
    assert "452 4.2.2" in net.sender.log
    assert wait_for(lambda: net.queue_ids() == [], timeout=5)


def test_alias_to_remote_address(net):
    net.start_dns(**MX2)
    mx1 = net.receiver("127.0.0.2", "dest.test")
    net.make_sender(aliases=[("fwd@example.test", ("rcpt@dest.test", "other@example.test"))])
    sent = net.send(["fwd@example.test"], frm="someone@elsewhere.example")
    # the local destination at once, the remote one through the queue
    assert only_message(net.sender, "other@example.test").endswith(sent)
    data = only_message(mx1, "rcpt@dest.test")
    assert data.endswith(sent)
    assert data.startswith(b"Return-Path: <someone@elsewhere.example>")


def test_several_bounces_at_once(net):
    net.start_dns(raw=[("null.test", 15, "000000")])
    net.make_sender()
    for i in range(4):
        net.send(["a%d@null.test" % i], msgid="many-%d@example.test" % i)
    files = wait_for(lambda: len(net.sender.maildir(SENDER)) == 4 and
                     net.sender.maildir(SENDER), timeout=15)
    assert files, net.sender.maildir(SENDER)
    assert wait_for(lambda: net.queue_ids() == [], timeout=5)


class FakeMta:
    """A minimal scripted SMTP server: no EHLO (HELO only), RCPT verdicts by
    local part, and a record of every command and message it got."""

    def __init__(self, host, port, refuse=("bad",), ehlo=False, broken_tls=False):
        self.ehlo = ehlo
        self.broken_tls = broken_tls
        self.sessions = 0
        self.commands = []
        self.messages = []
        self.refuse = refuse
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.sock.listen(5)
        self.sock.settimeout(0.2)
        self.stopping = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with conn:
                conn.settimeout(10)
                try:
                    self._session(conn.makefile("rwb"))
                except (OSError, ValueError):
                    pass

    def _session(self, f):
        def reply(text):
            f.write(text.encode() + b"\r\n")
            f.flush()
        reply("220 fake.dest.test ESMTP")
        self.sessions += 1
        while True:
            line = f.readline()
            if not line:
                return
            cmd = line.rstrip(b"\r\n").decode()
            self.commands.append(cmd)
            verb = cmd.split(" ", 1)[0].upper()
            if verb == "EHLO" and self.ehlo:
                reply("250-fake.dest.test\r\n250-SIZE 1000000\r\n250 STARTTLS")
            elif verb == "EHLO":
                reply("502 5.5.1 EHLO not implemented")
            elif verb == "STARTTLS" and self.broken_tls:
                reply("220 2.0.0 go ahead")
                f.write(b"this is not a TLS server hello\r\n" * 4)
                f.flush()
                return
            elif verb == "HELO":
                reply("250 fake.dest.test")
            elif verb == "MAIL":
                reply("250 2.1.0 ok")
            elif verb == "RCPT":
                local = cmd.split("<", 1)[1].split("@", 1)[0]
                if local in self.refuse:
                    reply("550 5.1.1 <%s>: no such user here" % local)
                else:
                    reply("250 2.1.5 ok")
            elif verb == "DATA":
                reply("354 go ahead")
                data = b""
                while True:
                    l = f.readline()
                    if not l or l == b".\r\n":
                        break
                    data += l
                self.messages.append(data)
                reply("250 2.0.0 taken")
            elif verb == "QUIT":
                reply("221 2.0.0 bye")
                return
            else:
                reply("502 5.5.2 what")

    def stop(self):
        self.stopping = True
        self.sock.close()
        self.thread.join(timeout=5)


def test_helo_fallback_one_transaction_per_domain(net):
    net.start_dns(**MX2)
    fake = FakeMta("127.0.0.2", net.port)
    try:
        net.make_sender()
        sent = net.send(["good@dest.test", "bad@dest.test", "also@dest.test"],
                        body=b".starts with a dot\r\n..two\r\nend\r\n")
        assert wait_for(lambda: fake.messages, timeout=10)
        assert wait_for(lambda: "QUIT" in fake.commands, timeout=5)
        verbs = [c.split(" ", 1)[0].upper() for c in fake.commands]
        # RSET to keep the connection for reuse; this server refuses it: QUIT
        assert verbs == ["EHLO", "HELO", "MAIL", "RCPT", "RCPT", "RCPT", "DATA", "RSET",
                         "QUIT"], fake.commands
        assert fake.commands[2] == "MAIL FROM:<user@example.test>"  # no ESMTP parameters
        assert len(fake.messages) == 1
        # dot-stuffed on the wire, the message as received otherwise
        wire = fake.messages[0]
        assert b"\r\n..starts with a dot\r\n...two\r\nend\r\n" in wire
        assert wire.endswith(sent.replace(b"\r\n.", b"\r\n.."))
        data = only_message(net.sender, SENDER)
        _, text, _ = bounce_parts(data)
        assert "Final-Recipient: rfc822; bad@dest.test" in text
        assert "good@dest.test" not in text and "also@dest.test" not in text
        assert wait_for(lambda: net.queue_ids() == [], timeout=5)
    finally:
        fake.stop()


def test_damaged_queue_file_is_quarantined(net):
    net.start_dns(**MX2)
    net.make_sender()
    qdir = os.path.join(net.sender.data_dir, "queue")
    tmp = os.path.join(qdir, ".tmp-test")
    with open(tmp, "wb") as f:
        f.write(b"tern-queue 1\nid 00000000DEADBEEF\ncreated nonsense\n\nbody\r\n")
    os.rename(tmp, os.path.join(qdir, "00000000DEADBEEF"))
    moved = os.path.join(qdir, "corrupt", "00000000DEADBEEF")
    assert wait_for(lambda: os.path.exists(moved), timeout=5)
    assert "event=queue-corrupt id=00000000DEADBEEF" in net.sender.log
    assert net.queue_ids() == []
    # the worker goes on with good entries
    mx1 = net.receiver("127.0.0.2", "dest.test")
    sent = net.send(["rcpt@dest.test"])
    assert only_message(mx1, "rcpt@dest.test").endswith(sent)


def test_failed_starttls_retried_in_the_clear(net):
    net.start_dns(**MX2)
    fake = FakeMta("127.0.0.2", net.port, ehlo=True, broken_tls=True)
    try:
        net.make_sender()
        net.send(["good@dest.test"])
        assert wait_for(lambda: fake.messages, timeout=10)
        verbs = [c.split(" ", 1)[0].upper() for c in fake.commands]
        # first session: TLS fails; second: same host, no STARTTLS, SIZE used
        assert verbs[:2] == ["EHLO", "STARTTLS"], fake.commands
        assert verbs[2:6] == ["EHLO", "MAIL", "RCPT", "DATA"], fake.commands
        assert fake.commands[3].startswith("MAIL FROM:<user@example.test> SIZE=")
        assert fake.sessions == 2
        assert wait_for(lambda: net.queue_ids() == [], timeout=5)
    finally:
        fake.stop()


# ---------------------------------------------------------------- backup MX

def make_backup(net, mynetworks="10.0.0.0/8"):
    """The server under test as the backup MX of relay.test: it listens on
    127.0.0.1 on the receivers' port, so its own address is in the MX list;
    mynetworks does not contain the test client, which is "outside"."""
    d = os.path.join(net.base, "backup")
    os.mkdir(d)
    t = harness.Tern(d, host="127.0.0.1", port=net.port,
                     smtp={"mynetworks": mynetworks},
                     extra={"dns": {"servers": "127.0.0.1:%d" % net.dns.port},
                            "queue": {"remote_port": str(net.port)}})
    net.servers.append(t)
    t.add_domain("relay.test", relay=True)
    t.start()
    net.sender = t
    return t


def send_from_outside(t, rcpt, msgid):
    msg = message(msgid, frm="someone@outside.test", to=rcpt)
    with t.smtp() as s:
        check_reply(s.mail("someone@outside.test"), "250")
        # still no open relay for anything else
        check_reply(s.rcpt("victim@elsewhere.test"), "554 5.7.1")
        check_reply(s.rcpt(rcpt), "250")
        check_reply(s.data(msg), "250")
    return msg


RELAY = dict(mx=[("relay.test", "mx1.relay.test", 10), ("relay.test", "mx2.relay.test", 20),
                 ("relay.test", "mx3.relay.test", 30)],
             a=[("mx1.relay.test", "127.0.0.2"), ("mx2.relay.test", "127.0.0.1"),
                ("mx3.relay.test", "127.0.0.3")])


def test_backup_mx_queues_until_primary_returns(net):
    net.start_dns(**RELAY)
    primary = net.receiver("127.0.0.2", "relay.test", start=False)
    worse = net.receiver("127.0.0.3", "relay.test")  # pref 30: never used by us
    t = make_backup(net)
    sent = send_from_outside(t, "rcpt@relay.test", "backup-1@outside.test")
    qid = wait_for(lambda: net.queue_ids())[0]
    assert wait_for(lambda: "event=queue-retry id=%s" % qid in t.log)
    assert "event=smtpc-self domain=relay.test host=mx2.relay.test" in t.log
    out = t.cli("queue", "list").stdout.decode()
    cols = [l for l in out.splitlines() if l.startswith(qid)][0].split("\t")
    assert cols[3] == "<someone@outside.test>" and cols[4] == "rcpt@relay.test", cols
    assert "mx1.relay.test" in cols[5], cols
    assert worse.maildir("rcpt@relay.test") == []
    primary.start()
    t.cli("queue", "flush")
    data = only_message(primary, "rcpt@relay.test", timeout=10)
    assert data.endswith(sent)
    assert data.startswith(b"Return-Path: <someone@outside.test>")
    assert wait_for(lambda: net.queue_ids() == [], timeout=5)
    assert worse.maildir("rcpt@relay.test") == []


def test_backup_mx_that_is_the_best_keeps_the_mail(net):
    # we are the best MX by name ([server] hostname); a worse one exists
    net.start_dns(mx=[("relay.test", harness.HOSTNAME, 10),
                      ("relay.test", "mx3.relay.test", 20)],
                  a=[(harness.HOSTNAME, "127.0.0.9"), ("mx3.relay.test", "127.0.0.3")])
    worse = net.receiver("127.0.0.3", "relay.test")
    t = make_backup(net)
    send_from_outside(t, "rcpt@relay.test", "best-1@outside.test")
    qid = wait_for(lambda: net.queue_ids())[0]
    assert wait_for(lambda: "event=queue-retry id=%s" % qid in t.log)
    out = t.cli("queue", "show", qid).stdout.decode()
    assert "we are the best MX for relay.test" in out
    assert "recipient: <rcpt@relay.test> pending 4.4.6" in out
    time.sleep(0.3)
    assert worse.maildir("rcpt@relay.test") == []
    assert t.all_mail() == []  # temporary: no bounce


def test_never_connects_to_itself(net):
    # an address literal naming our own listener is never connected to
    net.start_dns(**RELAY)
    t = make_backup(net, mynetworks="127.0.0.0/8")
    net.send(["rcpt@[127.0.0.1]"], msgid="lit-1@example.test")
    qid = net.queue_ids()[0]
    assert wait_for(lambda: "event=queue-retry id=%s" % qid in t.log)
    assert "we are the best MX for [127.0.0.1]" in t.log
    assert "event=smtpc-connect" not in t.log
    assert t.all_mail() == []


def test_queue_bounce(net):
    net.start_dns(**MX2)
    net.make_sender()
    net.send(["rcpt@dest.test", "two@dest.test"], msgid="admin-1@example.test")
    qid = net.queue_ids()[0]
    assert wait_for(lambda: "event=queue-retry id=%s" % qid in net.sender.log)
    out = net.sender.cli("queue", "bounce", qid.lower()).stdout.decode()
    assert "2 recipients bounced" in out, out
    assert qid not in net.queue_ids()
    data = only_message(net.sender, SENDER)
    _, text, parts = bounce_parts(data)
    assert "Final-Recipient: rfc822; rcpt@dest.test" in text
    assert "Final-Recipient: rfc822; two@dest.test" in text
    assert "Action: failed" in text and "Status: 5.0.0" in text
    assert "bounced by the administrator" in text
    assert b"Message-ID: <admin-1@example.test>" in parts[2].as_bytes()
    assert wait_for(lambda: net.queue_ids() == [], timeout=5)
    p = net.sender.cli("queue", "bounce", qid, check=False)
    assert p.returncode == 1 and b"no queue entry" in p.stderr


def test_delay_notice_sent_once(net):
    net.start_dns(**MX2)
    net.make_sender(queue={"delay_notice": "2s"})
    net.send(["rcpt@dest.test"], msgid="slow-1@example.test")
    qid = net.queue_ids()[0]
    # the first try fails at once; the next one is moved to the notice time
    data = only_message(net.sender, SENDER, timeout=15)
    m, text, parts = bounce_parts(data)
    assert m["Subject"] == "Delayed Mail (still being retried)"
    assert "Final-Recipient: rfc822; rcpt@dest.test" in text
    assert "Action: delayed" in text and "Status: 4.4.1" in text
    assert "Will-Retry-Until: " in text
    assert b"Message-ID: <slow-1@example.test>" in parts[2].as_bytes()
    assert qid in net.queue_ids()  # still queued
    # later tries send no second notice
    net.sender.cli("queue", "flush")
    assert wait_for(lambda: net.sender.log.count("event=queue-retry id=%s" % qid) >= 3)
    time.sleep(0.3)
    assert len(net.sender.maildir(SENDER)) == 1
    assert net.sender.log.count("event=queue-delay-notice id=%s" % qid) == 1
