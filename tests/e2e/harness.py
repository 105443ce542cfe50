"""harness - start a real ternd from a fresh directory and talk to it.

Tern(workdir) runs `tern init example.test --dev` in workdir, rewrites the
[listen] and [smtp] sections with a free loopback port and the values a test
asks for, starts `ternd -c tern.conf -f` with its log captured to a file, and
waits (bounded) until the SMTP port answers 220. Everything it talks to is on
127.0.0.1; the only processes it ends are the ternd it started and that
ternd's own children, by PID.

Binaries come from $TERN_BUILD_DIR (default "build", relative to the source
tree): $TERN_BUILD_DIR/src/ternd/ternd and $TERN_BUILD_DIR/src/tern/tern.
"""

import os
import re
import select
import signal
import smtplib
import socket
import subprocess
import time

SOURCE_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DOMAIN = "example.test"
HOSTNAME = "mail.example.test"
LISTENERS = ("smtp", "submission", "submissions", "imap", "imaps", "pop3", "pop3s",
             "lmtp", "http", "https")


def build_dir():
    d = os.environ.get("TERN_BUILD_DIR", "build")
    if not os.path.isabs(d):
        d = os.path.join(SOURCE_DIR, d)
    return d


def ternd_bin():
    return os.path.join(build_dir(), "src", "ternd", "ternd")


def tern_bin():
    return os.path.join(build_dir(), "src", "tern", "tern")


def free_port():
    """A loopback TCP port that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------- INI files

def ini_read(path):
    """Parse an INI file into {section: {key: value}} keeping order."""
    sections = {}
    cur = None
    with open(path, encoding="utf-8") as f:
        for raw in f:
            line = raw.strip()
            if not line or line[0] in "#;":
                continue
            if line.startswith("[") and line.endswith("]"):
                cur = sections.setdefault(line[1:-1].strip(), {})
                continue
            if cur is None or "=" not in line:
                continue
            key, _, value = line.partition("=")
            cur[key.strip()] = value.strip()
    return sections


def ini_write(path, sections):
    with open(path, "w", encoding="utf-8") as f:
        for name, keys in sections.items():
            f.write("[%s]\n" % name)
            for k, v in keys.items():
                f.write("%s = %s\n" % (k, v))
            f.write("\n")


# ---------------------------------------------------------------- /proc

def proc_status(pid):
    """{field: value} from /proc/PID/status, or {} when gone."""
    try:
        with open("/proc/%d/status" % pid, encoding="utf-8", errors="replace") as f:
            return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)
    except OSError:
        return {}


def proc_cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().replace(b"\0", b" ").decode("utf-8", "replace").strip()
    except OSError:
        return ""


def proc_comm(pid):
    try:
        with open("/proc/%d/comm" % pid, encoding="utf-8", errors="replace") as f:
            return f.read().strip()
    except OSError:
        return ""


def proc_children(ppid):
    """PIDs whose parent is ppid (zombies excluded)."""
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        st = proc_status(int(name))
        if st.get("PPid") == str(ppid) and not st.get("State", "").startswith("Z"):
            out.append(int(name))
    return sorted(out)


def proc_alive(pid):
    st = proc_status(pid)
    return bool(st) and not st.get("State", "").startswith(("Z", "X"))


# ---------------------------------------------------------------- replies

class Reply:
    """One SMTP reply: code (int), lines (text after "NNN-"/"NNN "), raw bytes."""

    def __init__(self, raw_lines):
        self.raw_lines = raw_lines
        self.code = int(raw_lines[-1][:3])
        self.lines = [l[4:].decode("utf-8", "replace") for l in raw_lines]

    @property
    def last(self):
        """The final line as text, code included: "250 2.0.0 Ok"."""
        return self.raw_lines[-1].decode("utf-8", "replace")

    def __str__(self):
        return " | ".join(l.decode("utf-8", "replace") for l in self.raw_lines)

    __repr__ = __str__


def check_reply(got, want):
    """Assert a reply starts with want ("550 5.1.1").

    got is a Reply or an smtplib (code, message) pair. want's first word is
    the code; the rest (the enhanced code, maybe more) must begin the text.
    """
    if isinstance(got, Reply):
        code, text = got.code, got.lines[-1]
        shown = str(got)
    else:
        code, msg = got
        text = msg.decode("utf-8", "replace") if isinstance(msg, bytes) else str(msg)
        text = text.split("\n")[-1]
        shown = "%d %s" % (code, text)
    want_code, _, want_text = want.partition(" ")
    assert code == int(want_code) and text.startswith(want_text), \
        "expected %r, got %r" % (want, shown)


class DialogError(AssertionError):
    pass


class Raw:
    """A raw SMTP socket: send exact bytes, read replies with timeouts."""

    def __init__(self, port, timeout=5.0, host="127.0.0.1"):
        self.timeout = timeout
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buf = b""
        self.eof = False
        self.send_error = None

    def send(self, data):
        if isinstance(data, str):
            data = data.encode("utf-8")
        try:
            self.sock.sendall(data)
        except OSError as e:  # peer already closed: keep reading what it said
            self.send_error = e

    def cmd(self, line, want=None, timeout=None):
        """Send line + CRLF, read one reply, check it against want if given."""
        if isinstance(line, str):
            line = line.encode("utf-8")
        self.send(line + b"\r\n")
        r = self.reply(timeout)
        if want is not None:
            check_reply(r, want)
        return r

    def _fill(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise DialogError("timed out waiting for the server (have %r)" % self.buf)
        self.sock.settimeout(left)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            raise DialogError("timed out waiting for the server (have %r)" % self.buf)
        except ConnectionResetError:
            data = b""
        if not data:
            self.eof = True
        self.buf += data
        return data

    def line(self, timeout=None):
        """One line without its CRLF; DialogError on timeout or EOF."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while b"\n" not in self.buf:
            if self.eof or not self._fill(deadline):
                raise DialogError("connection closed by server (have %r)" % self.buf)
        line, _, self.buf = self.buf.partition(b"\n")
        if not line.endswith(b"\r"):
            raise DialogError("reply line not ended by CRLF: %r" % line)
        return line[:-1]

    def reply(self, timeout=None):
        """One complete (maybe multi-line) reply."""
        lines = []
        for _ in range(1000):
            l = self.line(timeout)
            if len(l) < 3 or not l[:3].isdigit() or (len(l) > 3 and l[3:4] not in b" -"):
                raise DialogError("malformed reply line %r" % l)
            lines.append(l)
            if len(l) == 3 or l[3:4] == b" ":
                return Reply(lines)
        raise DialogError("reply of more than 1000 lines")

    def expect_closed(self, timeout=None):
        """Assert the server closes the connection without saying more."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while not self.eof:
            self._fill(deadline)
            if self.buf:
                raise DialogError("expected close, server sent %r" % self.buf)

    def quiet(self, seconds=1.0):
        """Assert the server sends nothing for a while (connection may stay open)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not self.buf and not self.eof:
            r, _, _ = select.select([self.sock], [], [], max(0.0, deadline - time.monotonic()))
            if r:
                try:
                    data = self.sock.recv(65536)
                except ConnectionResetError:
                    data = b""
                if not data:
                    self.eof = True
                self.buf += data
        if self.buf:
            raise DialogError("expected silence, server sent %r" % self.buf)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# ---------------------------------------------------------------- messages

def message(msgid, frm="sender@example.org", to="user@example.test", subject="test",
            body=b"Hello.\r\n", extra=b""):
    """A small RFC 5322 message as wire bytes (CRLF line ends)."""
    if isinstance(body, str):
        body = body.encode("utf-8")
    head = ("From: <%s>\r\nTo: <%s>\r\nSubject: %s\r\nMessage-ID: <%s>\r\n"
            "Date: Thu, 01 Jan 2026 00:00:00 +0000\r\n" % (frm, to, subject, msgid))
    return head.encode("utf-8") + extra + b"\r\n" + body


def split_trace(data, received=1):
    """Split a delivered file into ({name: [values]}, rest) for the leading
    Return-Path fields and the first `received` Received fields (unfolded):
    what the server prepended. Received fields after those belong to the
    message as sent."""
    fields = {}
    pos = 0
    for _ in range(100):
        m = re.match(rb"(Return-Path|Received):", data[pos:], re.I)
        if not m or (m.group(1).lower() == b"received"
                     and len(fields.get("received", [])) >= received):
            break
        end = pos
        # a field runs to the CRLF not followed by whitespace (folding)
        for _ in range(1000):
            nl = data.find(b"\r\n", end)
            if nl == -1:
                raise AssertionError("unterminated trace header in %r" % data[:400])
            end = nl + 2
            if data[end:end + 1] not in (b" ", b"\t"):
                break
        field = data[pos:end]
        name = m.group(1).decode().lower()
        value = re.sub(rb"\r\n[ \t]", b" ", field[len(m.group(0)):-2]).strip()
        fields.setdefault(name, []).append(value)
        pos = end
    return fields, data[pos:]


def assert_delivered(data, sender, sent):
    """A delivered file is exactly one Return-Path <sender> and one Received
    field, then the bytes the client sent, unchanged."""
    fields, rest = split_trace(data)
    rp = sender.encode("utf-8") if isinstance(sender, str) else sender
    assert fields.get("return-path") == [b"<" + rp + b">"], \
        "Return-Path: want <%r>, file starts %r" % (rp, data[:300])
    assert len(fields.get("received", [])) == 1, \
        "want one Received: field, file starts %r" % data[:600]
    assert b"by " + HOSTNAME.encode() in fields["received"][0], \
        "Received: lacks 'by %s': %r" % (HOSTNAME, fields["received"][0])
    assert rest == sent, "body differs:\n got  %r\n want %r" % (rest[:2000], sent[:2000])


MAILDIR_NAME = re.compile(r"^\d+\.[^./]+\.[^/]+,S=(\d+)(:2,[A-Za-z]*)?$")


# ---------------------------------------------------------------- the server

class TernError(Exception):
    pass


class Tern:
    """One ternd instance in its own directory."""

    def __init__(self, workdir, smtp=None, server=None, listen_extra=None, auth=None,
                 host="127.0.0.1", port=None, extra=None):
        # host: the loopback address of the SMTP listener (127.0.0.2 ... for
        # several servers on one port); port: a fixed SMTP port; extra: more
        # config sections {section: {key: value}}
        self.host = host
        self.fixed_port = port
        self.extra = dict(extra or {})
        self.dir = os.path.abspath(workdir)
        self.conf = os.path.join(self.dir, "tern.conf")
        self.logfile = os.path.join(self.dir, "ternd.log")
        self.smtp_overrides = dict(smtp or {})
        self.server_overrides = dict(server or {})
        # extra listeners to open, e.g. ("submission", "submissions"): free ports each
        self.listen_extra = tuple(listen_extra or ())
        self.auth_overrides = dict(auth or {})
        self.ports = {}
        self.proc = None
        self.port = None
        self.returncode = None
        self.data_dir = None
        self.known_children = set()
        self._log_fh = None
        for b in (ternd_bin(), tern_bin()):
            if not os.access(b, os.X_OK):
                raise TernError("binary %s missing: build first (TERN_BUILD_DIR=%s)"
                                % (b, build_dir()))
        # the unprivileged worker (user tern, when run as root) must reach data_dir
        os.chmod(self.dir, 0o755)
        self.cli("init", DOMAIN, "--dev", "--dir", self.dir, "--hostname", HOSTNAME,
                 use_conf=False)
        if not os.path.exists(self.conf):
            raise TernError("tern init did not write %s" % self.conf)
        self.configure()

    # ---- configuration

    def configure(self, port=None):
        """(Re)write tern.conf: our port, listeners off, test values."""
        conf = ini_read(self.conf)
        server = conf.setdefault("server", {})
        server["hostname"] = HOSTNAME
        server["log_level"] = "debug"
        server.update(self.server_overrides)
        dd = server.get("data_dir", "data")
        self.data_dir = dd if os.path.isabs(dd) else os.path.join(self.dir, dd)
        self.port = port or self.fixed_port or free_port()
        listen = conf.setdefault("listen", {})
        for name in LISTENERS:
            listen[name] = ""
        listen["smtp"] = "%s:%d" % (self.host, self.port)
        self.ports = {"smtp": self.port}
        for name in self.listen_extra:
            self.ports[name] = free_port()
            listen[name] = "127.0.0.1:%d" % self.ports[name]
        if self.auth_overrides:
            conf.setdefault("auth", {}).update(self.auth_overrides)
        smtp = conf.setdefault("smtp", {})
        smtp.update({
            "mynetworks": "127.0.0.0/8 ::1/128",
            "max_message_size": "1M",
            "max_recipients": "100",
            "max_errors": "10",
            "recipient_delimiter": "+",
            "timeout_command": "60s",
            "timeout_data_block": "60s",
            "timeout_data_init": "60s",
        })
        smtp.update(self.smtp_overrides)
        # hermetic: the queue never asks real DNS (nothing answers on port 9,
        # so lookups fail at once and entries stay queued)
        dns = conf.setdefault("dns", {})
        if not dns.get("servers"):
            dns["servers"] = "127.0.0.1:9"
        for section, keys in self.extra.items():
            conf.setdefault(section, {}).update(keys)
        ini_write(self.conf, conf)

    # ---- CLI

    def cli(self, *args, stdin=None, use_conf=True, check=True):
        argv = [tern_bin()] + (["-c", self.conf] if use_conf else []) + list(args)
        env = dict(os.environ)
        env.pop("TERN_CONF", None)
        p = subprocess.run(argv, input=stdin.encode() if isinstance(stdin, str) else stdin,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30, env=env)
        if check and p.returncode != 0:
            raise TernError("%s: exit %d: %s" % (" ".join(argv), p.returncode,
                                                  p.stderr.decode("utf-8", "replace")))
        return p

    def add_domain(self, domain, relay=False):
        self.cli("domain", "add", domain, *(["--relay"] if relay else []))

    def add_user(self, addr, password="secret-password-1", quota=None):
        args = ["user", "add", addr, "--password-stdin"]
        if quota is not None:
            args += ["--quota", quota]
        self.cli(*args, stdin=password + "\n")

    def add_alias(self, src, *dests):
        self.cli("alias", "add", src, *dests)

    # ---- process control

    def start(self, wait=10.0):
        if self.proc is not None:
            raise TernError("already started")
        for attempt in range(3):
            if attempt:
                self.configure()  # maybe the port was taken meanwhile: new port
            self._log_fh = open(self.logfile, "ab")
            self._log_fh.write(b"==== harness: start ternd on port %d\n" % self.port)
            self._log_fh.flush()
            self.proc = subprocess.Popen([ternd_bin(), "-c", self.conf, "-f"],
                                         stdin=subprocess.DEVNULL, stdout=self._log_fh,
                                         stderr=subprocess.STDOUT, cwd=self.dir,
                                         start_new_session=True)
            self.returncode = None
            if self.wait_ready(wait):
                self.remember_children()
                return self
            if self.proc.poll() is None:
                break  # running but not answering: no point in another port
            self.returncode = self.proc.returncode
            self.proc = None
            self._log_fh.close()
            if "in use" not in self.log:
                break
        self.stop()
        raise TernError("ternd did not answer 220 on 127.0.0.1:%d within %.0fs\n%s"
                        % (self.port, wait, self.log))

    def wait_ready(self, wait=10.0):
        """True once the SMTP port greets with 220 (bounded by wait seconds)."""
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                return False
            try:
                with Raw(self.port, timeout=2.0, host=self.host) as r:
                    greet = r.reply()
                    r.send(b"QUIT\r\n")
                    try:
                        r.reply()
                    except DialogError:
                        pass
                    if greet.code == 220:
                        return True
            except (OSError, DialogError):
                pass
            time.sleep(0.1)
        return False

    def remember_children(self):
        if self.proc is not None:
            self.known_children.update(proc_children(self.proc.pid))

    def workers(self, name="ternd: smtpd"):
        """PIDs of the master's children that call themselves name."""
        if self.proc is None:
            return []
        out = []
        for pid in proc_children(self.proc.pid):
            if name in proc_cmdline(pid) or proc_comm(pid) == name[:15]:
                out.append(pid)
        self.known_children.update(out)
        return out

    def signal(self, sig):
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, sig)

    def wait(self, timeout=10.0):
        """Wait for the master to exit; its exit code or None if still running."""
        if self.proc is None:
            return self.returncode
        try:
            self.returncode = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        return self.returncode

    def stop(self, timeout=10.0):
        """SIGTERM, wait (bounded), SIGKILL if needed. Returns the exit code
        (negative: killed by that signal; None: never started)."""
        if self.proc is None:
            return self.returncode
        self.remember_children()
        hung = False
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            if self.wait(timeout) is None:
                hung = True
                with open(self.logfile, "ab") as f:
                    f.write(b"==== harness: ternd did not exit %ds after SIGTERM, kill -9\n"
                            % timeout)
                self.remember_children()
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.returncode = self.proc.returncode
        self.proc = None
        # workers of a master that died must not outlive the test
        for pid in sorted(self.known_children):
            if proc_alive(pid) and "ternd" in proc_cmdline(pid) + proc_comm(pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
        self.known_children.clear()
        if self._log_fh is not None:
            self._log_fh.close()
            self._log_fh = None
        if hung:
            self.returncode = "hung"
        return self.returncode

    def restart(self, wait=10.0):
        self.stop()
        self.start(wait)
        return self

    # ---- results

    @property
    def log(self):
        try:
            with open(self.logfile, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def maildir_path(self, addr, folder="new"):
        local, _, domain = addr.rpartition("@")
        return os.path.join(self.data_dir, "mail", domain.lower(), local.lower(), folder)

    def maildir(self, addr, folder="new"):
        """Files (full paths, sorted) in addr's Maildir new/ (or folder)."""
        d = self.maildir_path(addr, folder)
        try:
            names = os.listdir(d)
        except FileNotFoundError:
            return []
        return sorted(os.path.join(d, n) for n in names)

    def messages(self, addr, folder="new"):
        """The contents of the files maildir(addr) lists."""
        out = []
        for p in self.maildir(addr, folder):
            with open(p, "rb") as f:
                out.append(f.read())
        return out

    def all_mail(self):
        """Every file under data_dir/mail/*/*/{new,cur} as (path, bytes)."""
        out = []
        root = os.path.join(self.data_dir, "mail")
        for dirpath, dirnames, filenames in os.walk(root):
            if os.path.basename(dirpath) in ("new", "cur"):
                for n in filenames:
                    p = os.path.join(dirpath, n)
                    with open(p, "rb") as f:
                        out.append((p, f.read()))
        return out

    # ---- clients

    def smtp(self, timeout=10.0, ehlo=True):
        """An smtplib.SMTP connected to this server (EHLO done unless ehlo=False)."""
        s = smtplib.SMTP(self.host, self.port, local_hostname="client.example",
                         timeout=timeout)
        if ehlo:
            code, msg = s.ehlo()
            assert code == 250, "EHLO: %d %r" % (code, msg)
        return s

    def raw(self, timeout=5.0, greet=True, ehlo=False):
        """A Raw session; greeting read (and EHLO done) unless told not to."""
        r = Raw(self.port, timeout=timeout, host=self.host)
        if greet:
            check_reply(r.reply(), "220")
        if ehlo:
            r.cmd("EHLO client.example", "250")
        return r


def message_ids(data):
    """Message-ID values found in the header of a delivered file."""
    head = data.split(b"\r\n\r\n", 1)[0]
    return re.findall(rb"(?im)^Message-ID:\s*<([^>\r\n]+)>", head)


# ---------------------------------------------------------------- IMAP (test_imap*.py)
#
# Helpers only: nothing above depends on them. A test opens the listeners with
# the marker, e.g. @pytest.mark.tern(listen=("imap", "imaps"),
# auth={"allow_plaintext_loopback": "yes"}), then uses tern.imap() (imaplib,
# logged in) or tern.imap_raw() (exact bytes, tagged replies, literals).

import imaplib  # noqa: E402
import ssl  # noqa: E402

IMAP_USER = "user@example.test"
IMAP_PASSWORD = "secret-password-1"


def tls_client_context(tern):
    """Verifies the certificate `tern init` made, for HOSTNAME."""
    ctx = ssl.create_default_context(cafile=os.path.join(tern.data_dir, "tls", "cert.pem"))
    ctx.check_hostname = True
    return ctx


class IMAP4Loopback(imaplib.IMAP4):
    """imaplib.IMAP4 to 127.0.0.1 whose host (the name STARTTLS verifies) is HOSTNAME."""

    def __init__(self, port, timeout=10.0):
        self._loopback_port = port
        super().__init__(HOSTNAME, port, timeout=timeout)

    def _create_socket(self, timeout):
        return socket.create_connection(("127.0.0.1", self._loopback_port), timeout)


class IMAP4SSLLoopback(imaplib.IMAP4_SSL):
    """imaplib.IMAP4_SSL to 127.0.0.1 verifying the certificate for HOSTNAME."""

    def __init__(self, port, ssl_context, timeout=10.0):
        self._loopback_port = port
        super().__init__(HOSTNAME, port, ssl_context=ssl_context, timeout=timeout)

    def _create_socket(self, timeout):
        sock = socket.create_connection(("127.0.0.1", self._loopback_port), timeout)
        return self.ssl_context.wrap_socket(sock, server_hostname=HOSTNAME)


def _tern_imap(self, user=IMAP_USER, password=IMAP_PASSWORD, listener="imap", login=True,
               timeout=10.0):
    """An imaplib client on this ternd's imap (or imaps) listener, logged in
    unless login=False. imaps verifies the certificate."""
    port = self.ports[listener]
    if listener == "imaps":
        m = IMAP4SSLLoopback(port, tls_client_context(self), timeout=timeout)
    else:
        m = IMAP4Loopback(port, timeout=timeout)
    if login:
        typ, data = m.login(user, password)
        assert typ == "OK", (typ, data)
    return m


class ImapRaw:
    """A raw IMAP connection: exact bytes out; responses in, literals included.

    A response is bytes: its line(s) without the final CRLF; a literal
    {n} inside it is kept as "{n}\\r\\n" followed by its n bytes, as sent.
    """

    def __init__(self, port, timeout=10.0, greet=True, tls=None):
        self.raw = Raw(port, timeout=timeout)
        if tls is not None:
            self.raw.sock = tls.wrap_socket(self.raw.sock, server_hostname=HOSTNAME)
        self.seq = 0
        self.greeting = None
        if greet:
            self.greeting = self.response()
            assert self.greeting.startswith(b"* OK "), self.greeting

    def send(self, data):
        if isinstance(data, str):
            data = data.encode("utf-8")
        self.raw.send(data)

    def starttls(self, ctx):
        """STARTTLS then the handshake; the tagged reply."""
        tagged = self.cmd("STARTTLS")[1]
        assert tagged.split(b" ", 2)[1] == b"OK", tagged
        assert self.raw.buf == b"", "plaintext after STARTTLS OK: %r" % self.raw.buf
        self.raw.sock = ctx.wrap_socket(self.raw.sock, server_hostname=HOSTNAME)
        return tagged

    def _take(self, n, timeout=None):
        deadline = time.monotonic() + (timeout or self.raw.timeout)
        while len(self.raw.buf) < n:
            if self.raw.eof or not self.raw._fill(deadline):
                raise DialogError("connection closed inside a literal (have %r)"
                                  % self.raw.buf[:200])
        data, self.raw.buf = self.raw.buf[:n], self.raw.buf[n:]
        return data

    def response(self, timeout=None):
        """One response (untagged, continuation or tagged) with its literals."""
        out = b""
        for _ in range(100000):
            line = self.raw.line(timeout)
            out += line
            m = re.search(rb"~?\{(\d+)\+?\}$", line)
            if not m:
                return out
            out += b"\r\n" + self._take(int(m.group(1)), timeout)
        raise DialogError("response with too many literals")

    def tag(self):
        self.seq += 1
        return "a%03d" % self.seq

    def cmd(self, text, timeout=None, tag=None):
        """Send "TAG text"; ([untagged responses], tagged line)."""
        tag = tag or self.tag()
        if isinstance(text, str):
            text = text.encode("utf-8")
        self.send(tag.encode() + b" " + text + b"\r\n")
        return self.until_tagged(tag, timeout)

    def until_tagged(self, tag, timeout=None):
        untagged = []
        for _ in range(1000000):
            r = self.response(timeout)
            if r.startswith(tag.encode() + b" "):
                return untagged, r
            if r.startswith(b"+"):
                raise DialogError("unexpected continuation %r after %r" % (r, untagged[-3:]))
            untagged.append(r)
        raise DialogError("no tagged reply")

    def ok(self, text, timeout=None):
        """cmd() that must end in a tagged OK; the untagged responses."""
        untagged, tagged = self.cmd(text, timeout)
        parts = tagged.split(b" ", 2)
        assert len(parts) >= 2 and parts[1] == b"OK", "%s: %r (untagged %r)" % (
            text if isinstance(text, str) else text[:200], tagged, untagged[-5:])
        self.last_tagged = tagged
        return untagged

    def login(self, user=IMAP_USER, password=IMAP_PASSWORD):
        return self.ok('LOGIN "%s" "%s"' % (user, password))

    def quiet(self, seconds=1.0):
        self.raw.quiet(seconds)

    def close(self):
        self.raw.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _tern_imap_raw(self, listener="imap", login=False, timeout=10.0, user=IMAP_USER,
                   password=IMAP_PASSWORD):
    """An ImapRaw on this ternd's imap (or imaps, TLS verified) listener; the
    greeting read; logged in with LOGIN when login=True."""
    tls = tls_client_context(self) if listener == "imaps" else None
    r = ImapRaw(self.ports[listener], timeout=timeout, tls=tls)
    if login:
        r.login(user, password)
    return r


Tern.imap = _tern_imap
Tern.imap_raw = _tern_imap_raw


# ---------------------------------------------------------------- stored messages

def maildir_key(name):
    """Delivery order of a Maildir file name "SECONDS.MMICROSECONDS..." (the
    microseconds are not zero-padded, so plain name order is wrong)."""
    m = re.match(r"^(\d+)\.M(\d+)", name)
    return (int(m.group(1)), int(m.group(2)), name) if m else (float("inf"), 0, name)


def stored_messages(tern, addr, folder=""):
    """The bytes of a folder's messages ("" = INBOX; "Sent" is .Sent), from
    new/ and cur/, in delivery order."""
    root = os.path.dirname(tern.maildir_path(addr, "new"))
    d = os.path.join(root, folder) if folder else root
    files = []
    for sub in ("new", "cur"):
        try:
            files += [os.path.join(d, sub, n) for n in os.listdir(os.path.join(d, sub))]
        except FileNotFoundError:
            pass
    files.sort(key=lambda f: maildir_key(os.path.basename(f)))
    out = []
    for p in files:
        with open(p, "rb") as f:
            out.append(f.read())
    return out
