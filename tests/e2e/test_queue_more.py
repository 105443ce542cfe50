"""Outbound queue, continued: smarthost with AUTH, DSN (RFC 3461/3464),
client PIPELINING (RFC 2920), SIZE, and the TLS verification result.

Same setup as test_queue.py (its `net` fixture: a dnsmasq of the test's
own and receivers on 127.0.0.2, 127.0.0.3 ... on one port); the scripted
receiver here (ScriptMta) also records which commands arrived before it
answered the first one, to see pipelining on the wire.
"""

import os
import socket
import subprocess
import threading
import time

import pytest

import harness
from harness import check_reply, message
from test_queue import MX2, SENDER, bounce_parts, net, only_message, wait_for  # noqa: F401

PASSWORD = "secret-password-1"  # what harness.Tern.add_user sets


class ScriptMta:
    """A scripted SMTP server without TLS. ehlo: the keywords it offers
    (None: EHLO refused). RCPT to a local part in refuse gets 550. AUTH
    PLAIN/LOGIN is checked against creds (user, password). Records every
    command, every message, and for each MAIL the commands that had already
    arrived when MAIL was read (pipelined ones)."""

    def __init__(self, host, port, ehlo=("PIPELINING",), refuse=("bad",), creds=None,
                 data_reply="250 2.0.0 taken"):
        self.ehlo = ehlo
        self.refuse = refuse
        self.creds = creds
        self.data_reply = data_reply
        self.commands = []
        self.messages = []
        self.with_mail = []
        self.sessions = 0
        self.concurrent = 0
        self.max_concurrent = 0
        self.lock = threading.Lock()
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
            threading.Thread(target=self._run, args=(conn,), daemon=True).start()

    def _run(self, conn):
        with self.lock:
            self.sessions += 1
            self.concurrent += 1
            self.max_concurrent = max(self.max_concurrent, self.concurrent)
        with conn:
            conn.settimeout(10)
            try:
                self._session(conn)
            except (OSError, ValueError):
                pass
        with self.lock:
            self.concurrent -= 1

    def _session(self, conn):
        buf = [b""]

        def line():
            while b"\r\n" not in buf[0]:
                data = conn.recv(65536)
                if not data:
                    raise ValueError("closed")
                buf[0] += data
            ln, _, buf[0] = buf[0].partition(b"\r\n")
            return ln

        def reply(text):
            conn.sendall(text.encode() + b"\r\n")

        def b64d(s):
            import base64
            return base64.b64decode(s)

        reply("220 script.test ESMTP")
        authed = False
        accepted = 0
        while True:
            cmd = line().decode()
            self.commands.append(cmd)
            verb = cmd.split(" ", 1)[0].upper()
            if verb == "EHLO" and self.ehlo is not None:
                lines = ["script.test"] + list(self.ehlo)
                reply("\r\n".join("250%s%s" % ("-" if i < len(lines) - 1 else " ", l)
                                  for i, l in enumerate(lines)))
            elif verb == "EHLO":
                reply("502 5.5.1 EHLO not implemented")
            elif verb == "HELO":
                reply("250 script.test")
            elif verb == "AUTH":
                parts = cmd.split(" ")
                if parts[1].upper() == "PLAIN":
                    resp = parts[2] if len(parts) > 2 else None
                    if resp is None:
                        reply("334 ")
                        resp = line().decode()
                    _, user, pw = b64d(resp).split(b"\0")
                else:
                    reply("334 VXNlcm5hbWU6")
                    user = b64d(line())
                    reply("334 UGFzc3dvcmQ6")
                    pw = b64d(line())
                if self.creds and (user.decode(), pw.decode()) == self.creds:
                    authed = True
                    reply("235 2.7.0 ok")
                else:
                    reply("535 5.7.8 bad credentials")
            elif verb == "MAIL":
                # what the client sent along with MAIL, before any answer
                time.sleep(0.3)
                conn.settimeout(0.01)
                try:
                    while True:
                        data = conn.recv(65536)
                        if not data:
                            break
                        buf[0] += data
                except (socket.timeout, BlockingIOError):
                    pass
                conn.settimeout(10)
                self.with_mail.append([cmd] + [l.decode() for l in buf[0].split(b"\r\n")[:-1]])
                if self.creds and not authed:
                    reply("530 5.7.0 authentication required")
                else:
                    reply("250 2.1.0 ok")
            elif verb == "RCPT":
                local = cmd.split("<", 1)[1].split("@", 1)[0]
                if local in self.refuse:
                    reply("550 5.1.1 <%s>: no such user here" % local)
                else:
                    accepted += 1
                    reply("250 2.1.5 ok")
            elif verb == "DATA":
                reply("354 go ahead" if accepted else "554 5.5.1 no valid recipients")
                if not accepted:
                    continue
                data = b""
                while True:
                    l = line() + b"\r\n"
                    if l == b".\r\n":
                        break
                    data += l
                self.messages.append(data)
                accepted = 0
                reply(self.data_reply)
            elif verb == "RSET":
                accepted = 0
                reply("250 2.0.0 ok")
            elif verb == "QUIT":
                reply("221 2.0.0 bye")
                return
            else:
                reply("502 5.5.2 what")

    def verbs(self):
        return [c.split(" ", 1)[0].upper() for c in self.commands]

    def stop(self):
        self.stopping = True
        self.sock.close()
        self.thread.join(timeout=5)


@pytest.fixture
def fake(net):
    made = []

    def make(host="127.0.0.2", **kw):
        f = ScriptMta(host, net.port, **kw)
        made.append(f)
        return f
    yield make
    for f in made:
        f.stop()


def queue_show(t, qid):
    return t.cli("queue", "show", qid).stdout.decode()


def dsn_text(data):
    return bounce_parts(data)


# ---------------------------------------------------------------- smarthost

def make_smarthost(net, users=("user@example.test",)):
    """A second ternd with a submission listener (STARTTLS, AUTH over TLS
    only), relaying for its authenticated users through the test's DNS."""
    d = os.path.join(net.base, "smarthost")
    os.mkdir(d)
    t = harness.Tern(d, listen_extra=("submission",),
                     extra={"dns": {"servers": "127.0.0.1:%d" % net.dns.port},
                            "queue": {"remote_port": str(net.port)}})
    net.servers.append(t)
    for u in users:
        t.add_user(u)
    t.start()
    return t


def write_secret(net, text):
    path = os.path.join(net.base, "smarthost.secret")
    with open(path, "w") as f:
        f.write(text + "\n")
    os.chmod(path, 0o644)  # the worker may run as another user in CI
    return path


def test_smarthost_with_auth_over_starttls(net):
    net.start_dns(**MX2)
    mx1 = net.receiver("127.0.0.2", "dest.test")
    smart = make_smarthost(net)
    secret = write_secret(net, PASSWORD)
    net.make_sender(queue={"smarthost": "[127.0.0.1]:%d" % smart.ports["submission"],
                           "smarthost_user": SENDER,
                           "smarthost_password_file": secret})
    sent = net.send(["rcpt@dest.test", "two@elsewhere.test"], msgid="smart-1@example.test")
    data = only_message(mx1, "rcpt@dest.test")
    assert data.endswith(sent)
    # three hops: mx1, the smarthost (TLS + AUTH: ESMTPSA), us
    fields, _ = harness.split_trace(data, received=3)
    assert len(fields["received"]) == 3, fields
    assert b"with ESMTPSA" in fields["received"][1], fields["received"][1]
    log = net.sender.log
    assert "event=smtpc-auth" in log and "user=" + SENDER in log
    assert "event=smtpc-tls" in log
    assert "event=smtpc-connect domain=127.0.0.1 host=127.0.0.1[127.0.0.1]" in log
    assert PASSWORD not in log  # never logged, not even encoded by the smarthost
    import base64
    plain = base64.b64encode(("\0%s\0%s" % (SENDER, PASSWORD)).encode()).decode()
    assert plain not in smart.log and "AUTH PLAIN" in smart.log
    # both recipients in one transaction to the smarthost, whatever their domain
    assert "two@elsewhere.test" in smart.log
    assert wait_for(lambda: net.queue_ids() == [], timeout=5)


def test_smarthost_wrong_password_defers(net):
    net.start_dns(**MX2)
    smart = make_smarthost(net)
    net.make_sender(queue={"smarthost": "[127.0.0.1]:%d" % smart.ports["submission"],
                           "smarthost_user": SENDER,
                           "smarthost_password": "not-the-password"})
    net.send(["rcpt@dest.test"], msgid="smart-2@example.test")
    qid = net.queue_ids()[0]
    assert wait_for(lambda: "event=queue-retry id=%s" % qid in net.sender.log, timeout=15)
    out = queue_show(net.sender, qid)
    assert "recipient: <rcpt@dest.test> pending 4.7.0 authentication failed: 535" in out, out
    assert net.sender.all_mail() == []  # not a bounce: our setup is wrong, not the mail


def test_smarthost_credentials_never_in_the_clear(net, fake):
    # a smarthost that offers AUTH but no STARTTLS
    net.start_dns(**MX2)
    f = fake(ehlo=("AUTH PLAIN LOGIN", "PIPELINING"), creds=(SENDER, PASSWORD))
    net.make_sender(queue={"smarthost": "[127.0.0.2]:%d" % net.port,
                           "smarthost_user": SENDER, "smarthost_password": PASSWORD})
    net.send(["rcpt@dest.test"], msgid="clear-1@example.test")
    qid = net.queue_ids()[0]
    assert wait_for(lambda: "event=queue-retry id=%s" % qid in net.sender.log, timeout=15)
    assert f.verbs() == ["EHLO"], f.commands  # no AUTH, no MAIL: hung up
    out = queue_show(net.sender, qid)
    assert "pending 4.7.0 no TLS with the smarthost" in out, out
    assert "credentials are never sent in the clear" in out
    assert net.sender.all_mail() == []


def test_smarthost_by_mx_without_auth(net, fake):
    # "host:port": the MX hosts of host; every remote domain goes there
    net.start_dns(mx=[("provider.test", "relay.provider.test", 10)],
                  a=[("relay.provider.test", "127.0.0.3")])
    f = fake(host="127.0.0.3", ehlo=("PIPELINING", "8BITMIME"))
    net.make_sender(queue={"smarthost": "provider.test:%d" % net.port})
    sent = net.send(["a@one.test", "b@two.test"], msgid="mxsmart-1@example.test")
    assert wait_for(lambda: f.messages, timeout=10)
    assert wait_for(lambda: "RSET" in f.verbs(), timeout=5)
    # the connection is reset and kept for the next message to this host
    assert f.verbs() == ["EHLO", "MAIL", "RCPT", "RCPT", "DATA", "RSET"], f.commands
    assert f.messages[0].endswith(sent)
    assert wait_for(lambda: net.queue_ids() == [], timeout=5)


def test_smarthost_that_does_not_resolve_defers(net):
    net.start_dns(**MX2)
    net.make_sender(queue={"smarthost": "nowhere.test"})
    net.send(["rcpt@dest.test"], msgid="nosmart-1@example.test")
    qid = net.queue_ids()[0]
    assert wait_for(lambda: "event=queue-retry id=%s" % qid in net.sender.log, timeout=15)
    out = queue_show(net.sender, qid)
    assert "pending 4.4.4 smarthost nowhere.test: no such domain" in out, out
    assert net.sender.all_mail() == []  # never a bounce for our own setup


def test_smarthost_config_checked(net):
    net.start_dns(**MX2)
    d = os.path.join(net.base, "cfg")
    os.mkdir(d)
    t = harness.Tern(d)
    for queue, err in [
        ({"smarthost": "[host"}, "expected host:port or [host]:port"),
        ({"smarthost": "host:0"}, "expected a port number"),
        ({"smarthost": "a.test", "smarthost_user": "u"}, "smarthost_user needs"),
        ({"smarthost_user": "u", "smarthost_password": "p"}, "without a smarthost"),
        ({"smarthost": "a.test", "smarthost_user": "u", "smarthost_password": "p",
          "smarthost_password_file": "/x"}, "set only one"),
        ({"max_per_destination": "0"}, "at least 1"),
    ]:
        t.extra = {"queue": queue}
        conf = harness.ini_read(t.conf)
        conf["queue"] = dict(queue)
        harness.ini_write(t.conf, conf)
        p = t.cli("check-config", check=False)
        assert p.returncode != 0 and err in p.stderr.decode(), (queue, p.stderr)
    conf["queue"] = {"smarthost": "[2001:db8::1]:587", "smarthost_user": "u",
                     "smarthost_password_file": "secret"}
    harness.ini_write(t.conf, conf)
    t.cli("check-config")


# ---------------------------------------------------------------- DSN

def test_dsn_advertised_and_local_success_report(net):
    net.start_dns(**MX2)
    net.make_sender()
    with net.sender.smtp() as s:
        assert s.has_extn("dsn")
        msg = message("dsn-1@example.test", frm=SENDER, to="other@example.test")
        code, _ = s.mail(SENDER, ["RET=FULL", "ENVID=env+2B1"])
        assert code == 250
        check_reply(s.rcpt("other@example.test",
                           ["NOTIFY=SUCCESS,FAILURE", "ORCPT=rfc822;Other@example.test"]),
                    "250")
        check_reply(s.rcpt("user@example.test", ["NOTIFY=FAILURE"]), "250")
        check_reply(s.data(msg), "250")
    # other@ has the message; the sender (user@, also a recipient) gets it and
    # the report, which names other@ only
    assert only_message(net.sender, "other@example.test").endswith(msg)
    files = wait_for(lambda: len(net.sender.maildir(SENDER)) == 2 and
                     net.sender.messages(SENDER), timeout=10)
    assert files, net.sender.maildir(SENDER)
    report = [d for d in files if b"multipart/report" in d]
    assert len(report) == 1
    data = report[0]
    assert data.startswith(b"Return-Path: <>\r\n")
    m, text, parts = dsn_text(data)
    assert m["Subject"] == "Successful Mail Delivery Report"
    assert "Original-Envelope-Id: env+1" in text
    assert "Final-Recipient: rfc822; other@example.test" in text
    assert "Original-Recipient: rfc822;Other@example.test" in text
    assert "Action: delivered" in text and "Status: 2.0.0" in text
    assert "user@example.test" not in text.split("Arrival-Date")[1]
    # headers only, RET=FULL is for failures (RFC 3461 4.3)
    assert parts[2].get_content_type() == "text/rfc822-headers"
    assert b"Message-ID: <dsn-1@example.test>" in parts[2].as_bytes()
    assert b"Hello." not in parts[2].as_bytes()


def test_relayed_report_when_next_hop_has_no_dsn(net, fake):
    net.start_dns(**MX2)
    f = fake(ehlo=("PIPELINING", "8BITMIME"))
    net.make_sender()
    msg = message("relayed-1@example.test", frm=SENDER, to="good@dest.test")
    with net.sender.smtp() as s:
        check_reply(s.mail(SENDER), "250")
        check_reply(s.rcpt("good@dest.test", ["NOTIFY=SUCCESS"]), "250")
        check_reply(s.rcpt("also@dest.test"), "250")
        check_reply(s.data(msg), "250")
    assert wait_for(lambda: f.messages, timeout=10)
    # the server has no DSN: nothing of it on the wire
    assert not any("NOTIFY" in c or "ORCPT" in c or "RET=" in c for c in f.commands)
    data = only_message(net.sender, SENDER)
    m, text, _ = dsn_text(data)
    assert m["Subject"] == "Successful Mail Delivery Report"
    assert "Final-Recipient: rfc822; good@dest.test" in text
    assert "Action: relayed" in text and "Status: 2.0.0" in text
    assert "Diagnostic-Code: smtp; 250 2.0.0 taken (from mx1.dest.test[127.0.0.2], " \
        "TLS: none)" in text
    assert "also@dest.test" not in text  # no NOTIFY: no success report


def test_dsn_parameters_passed_to_a_dsn_server(net, fake):
    net.start_dns(**MX2)
    f = fake(ehlo=("PIPELINING", "DSN", "SIZE 1000000"))
    net.make_sender()
    msg = message("pass-1@example.test", frm=SENDER, to="good@dest.test")
    with net.sender.smtp() as s:
        check_reply(s.mail(SENDER, ["RET=HDRS", "ENVID=a+2Bb+3Dc"]), "250")
        check_reply(s.rcpt("good@dest.test",
                           ["NOTIFY=SUCCESS,DELAY", "ORCPT=rfc822;g+2Bx@dest.test"]), "250")
        check_reply(s.rcpt("plain@dest.test"), "250")
        check_reply(s.rcpt("never@dest.test", ["NOTIFY=NEVER"]), "250")
        check_reply(s.data(msg), "250")
    assert wait_for(lambda: f.messages, timeout=10)
    mail = [c for c in f.commands if c.startswith("MAIL")][0]
    assert mail.startswith("MAIL FROM:<user@example.test> SIZE=")
    assert mail.endswith(" RET=HDRS ENVID=a+2Bb+3Dc"), mail
    rcpts = [c for c in f.commands if c.startswith("RCPT")]
    assert "RCPT TO:<good@dest.test> NOTIFY=SUCCESS,DELAY ORCPT=rfc822;g+2Bx@dest.test" \
        in rcpts, rcpts
    assert "RCPT TO:<plain@dest.test>" in rcpts
    assert "RCPT TO:<never@dest.test> NOTIFY=NEVER" in rcpts
    # the next hop reports success now, not us
    assert wait_for(lambda: net.queue_ids() == [], timeout=5)
    time.sleep(0.3)
    assert net.sender.all_mail() == []
    assert "dsn=passed" in net.sender.log


def test_success_report_from_the_final_tern(net):
    """End to end: we pass NOTIFY=SUCCESS to a tern that delivers the message
    and sends the report back through its own queue to our sender (in a
    domain only the sender has: every harness ternd has example.test)."""
    sender = "u@sender.test"
    net.start_dns(mx=MX2["mx"] + [("sender.test", "mail.sender.test", 10)],
                  a=MX2["a"] + [("mail.sender.test", "127.0.0.1")])
    d = os.path.join(net.base, "mx-final")
    os.mkdir(d)
    mx1 = harness.Tern(d, host="127.0.0.2", port=net.port,
                       extra={"dns": {"servers": "127.0.0.1:%d" % net.dns.port},
                              "queue": {"remote_port": str(net.port)}})
    net.servers.append(mx1)
    mx1.add_domain("dest.test")
    mx1.add_user("rcpt@dest.test")
    mx1.start()
    # the sender listens where sender.test's MX points: 127.0.0.1 on the port
    d = os.path.join(net.base, "sender")
    os.mkdir(d)
    net.sender = harness.Tern(d, port=net.port,
                              extra={"dns": {"servers": "127.0.0.1:%d" % net.dns.port},
                                     "queue": {"remote_port": str(net.port)}})
    net.servers.append(net.sender)
    net.sender.add_domain("sender.test")
    net.sender.add_user(sender)
    net.sender.start()
    msg = message("e2e-dsn-1@sender.test", frm=sender, to="rcpt@dest.test")
    with net.sender.smtp() as s:
        check_reply(s.mail(sender, ["ENVID=E2E"]), "250")
        check_reply(s.rcpt("rcpt@dest.test", ["NOTIFY=SUCCESS"]), "250")
        check_reply(s.data(msg), "250")
    assert only_message(mx1, "rcpt@dest.test").endswith(msg)
    data = only_message(net.sender, sender, timeout=20)
    m, text, _ = dsn_text(data)
    assert "Reporting-MTA: dns; %s" % harness.HOSTNAME in text
    assert "Original-Envelope-Id: E2E" in text
    assert "Action: delivered" in text
    assert "Final-Recipient: rfc822; rcpt@dest.test" in text
    # the final tern reported; we sent no "relayed" report of our own
    assert "dsn=passed" in net.sender.log
    time.sleep(0.3)
    assert len(net.sender.maildir(sender)) == 1


# ---------------------------------------------------------------- PIPELINING, SIZE

def test_pipelining_one_write_per_transaction(net, fake):
    net.start_dns(**MX2)
    f = fake(ehlo=("PIPELINING", "SIZE 1000000"))
    net.make_sender()
    net.send(["good@dest.test", "bad@dest.test", "also@dest.test"],
             msgid="pipe-1@example.test")
    assert wait_for(lambda: f.messages, timeout=10)
    # MAIL, the three RCPTs and DATA were all there before the first reply
    batch = f.with_mail[0]
    verbs = [c.split(" ", 1)[0] for c in batch]
    assert verbs == ["MAIL", "RCPT", "RCPT", "RCPT", "DATA"], batch
    # per-recipient results as without pipelining: one bounce, for bad@ only
    data = only_message(net.sender, SENDER)
    _, text, _ = bounce_parts(data)
    assert "Final-Recipient: rfc822; bad@dest.test" in text
    assert "good@dest.test" not in text and "also@dest.test" not in text
    assert "Status: 5.1.1" in text
    assert wait_for(lambda: net.queue_ids() == [], timeout=5)


def test_pipelining_all_refused_sends_no_body(net, fake):
    net.start_dns(**MX2)
    f = fake(ehlo=("PIPELINING",), refuse=("bad", "worse"))
    net.make_sender()
    net.send(["bad@dest.test", "worse@dest.test"], msgid="pipe-2@example.test")
    data = only_message(net.sender, SENDER)
    _, text, _ = bounce_parts(data)
    assert "Final-Recipient: rfc822; bad@dest.test" in text
    assert "Final-Recipient: rfc822; worse@dest.test" in text
    assert f.messages == []
    assert wait_for(lambda: "RSET" in f.verbs(), timeout=5)
    assert f.verbs() == ["EHLO", "MAIL", "RCPT", "RCPT", "DATA", "RSET"], f.commands
    assert wait_for(lambda: net.queue_ids() == [], timeout=5)


def test_no_pipelining_without_the_keyword(net, fake):
    net.start_dns(**MX2)
    f = fake(ehlo=("8BITMIME",))
    net.make_sender()
    net.send(["good@dest.test", "also@dest.test"], msgid="nopipe-1@example.test")
    assert wait_for(lambda: f.messages, timeout=10)
    assert [c.split(" ", 1)[0] for c in f.with_mail[0]] == ["MAIL"], f.with_mail


def test_size_limit_of_the_server_is_honoured(net, fake):
    net.start_dns(**MX2)
    f = fake(ehlo=("PIPELINING", "SIZE 200"))
    net.make_sender()
    net.send(["good@dest.test"], msgid="big-1@example.test", body=b"x" * 500 + b"\r\n")
    data = only_message(net.sender, SENDER)
    _, text, _ = bounce_parts(data)
    assert "Status: 5.3.4" in text
    assert "bytes mx1.dest.test[127.0.0.2] accepts (SIZE)" in text
    assert "MAIL" not in f.verbs()


# ---------------------------------------------------------------- TLS result

def make_cert(directory, name):
    """A self-signed certificate for name (it is its own CA)."""
    cert = os.path.join(directory, "cert.pem")
    key = os.path.join(directory, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
                    "-subj", "/CN=%s" % name, "-addext", "subjectAltName=DNS:%s" % name,
                    "-keyout", key, "-out", cert], check=True, capture_output=True)
    return cert, key


def test_tls_result_not_verified_is_logged_and_reported(net):
    net.start_dns(mx=MX2["mx"] + [("down.test", "mx.down.test", 10)],
                  a=MX2["a"] + [("mx.down.test", "127.0.0.3")])
    mx1 = net.receiver("127.0.0.2", "dest.test")  # tern init's self-signed certificate
    net.make_sender()
    net.send(["rcpt@dest.test", "later@down.test"], msgid="tls-1@example.test")
    assert only_message(mx1, "rcpt@dest.test")
    log = net.sender.log
    assert "event=smtpc-tls domain=dest.test host=mx1.dest.test[127.0.0.2] version=TLSv1." \
        in log
    assert "verified=no reason=\"self-signed certificate\"" in log, log[-3000:]
    line = [l for l in log.splitlines()
            if "event=queue-delivered" in l and "rcpt@dest.test" in l][0]
    assert "certificate not verified: self-signed certificate" in line, line
    # the entry stays for the other recipient: `queue show` has the result too
    qid = net.queue_ids()[0]
    assert wait_for(lambda: "event=queue-retry id=%s" % qid in net.sender.log)
    out = queue_show(net.sender, qid)
    rec = [l for l in out.splitlines() if l.startswith("recipient: <rcpt@dest.test>")][0]
    assert rec.startswith("recipient: <rcpt@dest.test> delivered 2.0.0 250 2.0.0"), rec
    assert "TLS: TLSv1." in rec and "certificate not verified" in rec, rec


def test_tls_result_verified_with_ca_file(net):
    net.start_dns(**MX2)
    mx1 = net.receiver("127.0.0.2", "dest.test", start=False)
    cert, key = make_cert(os.path.join(mx1.data_dir, "tls"), "mx1.dest.test")
    mx1.start()
    net.make_sender(queue={"tls_ca_file": cert})
    net.send(["rcpt@dest.test"], msgid="tls-2@example.test")
    assert only_message(mx1, "rcpt@dest.test")
    log = net.sender.log
    assert "host=mx1.dest.test[127.0.0.2] version=TLSv1.3" in log
    assert "verified=yes" in log
    line = [l for l in log.splitlines() if "event=queue-delivered" in l][0]
    assert "certificate verified" in line, line


def test_tls_result_wrong_name(net):
    # a certificate the CA file trusts, but for another name
    net.start_dns(**MX2)
    mx1 = net.receiver("127.0.0.2", "dest.test", start=False)
    cert, key = make_cert(os.path.join(mx1.data_dir, "tls"), "other.dest.test")
    mx1.start()
    net.make_sender(queue={"tls_ca_file": cert})
    net.send(["rcpt@dest.test"], msgid="tls-3@example.test")
    assert only_message(mx1, "rcpt@dest.test")  # opportunistic: delivered anyway
    assert "verified=no reason=\"hostname mismatch\"" in net.sender.log


# ---------------------------------------------------------------- reuse, limits

def send_many(net, n, rcpt="good@dest.test", prefix="many"):
    """n messages in one client session: n queue entries at once."""
    with net.sender.smtp() as s:
        for i in range(n):
            msg = message("%s-%d@example.test" % (prefix, i), frm=SENDER, to=rcpt)
            check_reply(s.mail(SENDER), "250")
            check_reply(s.rcpt(rcpt), "250")
            check_reply(s.data(msg), "250")


def test_connection_reused_with_rset(net, fake):
    net.start_dns(**MX2)
    f = fake(ehlo=("PIPELINING", "SIZE 1000000"))
    net.make_sender(queue={"max_per_destination": "1"})
    send_many(net, 4, prefix="reuse")
    assert wait_for(lambda: len(f.messages) == 4, timeout=15), f.commands
    assert f.sessions == 1, f.commands  # one connection for all four
    verbs = f.verbs()
    assert verbs.count("EHLO") == 1 and verbs.count("MAIL") == 4
    # RSET between the transactions
    assert verbs[:2] == ["EHLO", "MAIL"], verbs
    for i, v in enumerate(verbs):
        if v == "MAIL" and i > 1:
            assert verbs[i - 1] == "RSET", verbs
    assert "event=smtpc-reuse" in net.sender.log
    assert wait_for(lambda: net.queue_ids() == [], timeout=5)
    # an idle connection is closed after a few seconds, politely
    assert wait_for(lambda: "QUIT" in f.verbs(), timeout=10)


def test_reuse_keeps_tls_and_auth(net):
    net.start_dns(**MX2)
    mx1 = net.receiver("127.0.0.2", "dest.test")
    smart = make_smarthost(net)
    net.make_sender(queue={"smarthost": "[127.0.0.1]:%d" % smart.ports["submission"],
                           "smarthost_user": SENDER, "smarthost_password": PASSWORD,
                           "max_per_destination": "1"})
    send_many(net, 3, rcpt="rcpt@dest.test", prefix="tlsreuse")
    files = wait_for(lambda: len(mx1.maildir("rcpt@dest.test")) == 3 and
                     mx1.maildir("rcpt@dest.test"), timeout=20)
    assert files, mx1.maildir("rcpt@dest.test")
    log = net.sender.log
    assert log.count("event=smtpc-auth ") == 1, log[-4000:]
    assert log.count("event=smtpc-tls ") == 1
    assert log.count("event=smtpc-reuse") == 2
    # every message went over TLS with AUTH
    for data in mx1.messages("rcpt@dest.test"):
        fields, _ = harness.split_trace(data, received=3)
        assert b"with ESMTPSA" in fields["received"][1]


def test_max_per_destination(net, fake):
    net.start_dns(**MX2)
    f = fake(ehlo=("PIPELINING",))
    net.make_sender(queue={"max_per_destination": "2"})
    send_many(net, 8, prefix="limit")
    assert wait_for(lambda: len(f.messages) == 8, timeout=20), f.commands
    assert f.max_concurrent <= 2, f.max_concurrent
    assert f.sessions <= 2
    assert wait_for(lambda: net.queue_ids() == [], timeout=5)
