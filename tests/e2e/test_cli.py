"""End-to-end tests of the `tern` admin command.

Each test runs the built binary ($TERN_BUILD_DIR/src/tern/tern) against a
fresh `tern init --dev` in its own temporary directory: the files init
writes, domain/user/alias changes and listings, check-config, and the error
convention (one line on stderr starting with "tern: ", exit 1, or 2 for a
usage error). Runs as root and as an ordinary user; needs no server.
"""

import os
import pwd
import re
import sqlite3
import ssl
import stat
import subprocess

import pytest

DOMAIN = "example.test"
HOSTNAME = "mail.example.test"
POSTMASTER = "postmaster@" + DOMAIN


def tern_bin():
    build = os.path.abspath(os.environ.get("TERN_BUILD_DIR", "build"))
    return os.path.join(build, "src", "tern", "tern")


def run(*args, conf=None, stdin=None, env=None):
    """Run tern; returns the CompletedProcess with text stdout/stderr."""
    argv = [tern_bin()] + (["-c", str(conf)] if conf is not None else []) + list(args)
    if env is None:
        env = dict(os.environ)
        env.pop("TERN_CONF", None)
    return subprocess.run(argv, input=stdin, capture_output=True, text=True,
                          timeout=60, env=env)


def ok(*args, **kw):
    p = run(*args, **kw)
    assert p.returncode == 0, "tern %s: exit %d: %s" % (" ".join(args), p.returncode, p.stderr)
    assert p.stderr == ""
    return p.stdout


def fails(*args, status=1, match=None, **kw):
    """Run tern expecting the error convention; returns the message."""
    p = run(*args, **kw)
    assert p.returncode == status, "tern %s: exit %d, want %d (%s)" % (
        " ".join(args), p.returncode, status, p.stderr)
    assert p.stdout == ""
    assert p.stderr.startswith("tern: ") and p.stderr.endswith("\n"), repr(p.stderr)
    assert p.stderr.count("\n") == 1, "more than one line: %r" % p.stderr
    if match is not None:
        assert re.search(match, p.stderr), "%r not in %r" % (match, p.stderr)
    return p.stderr


def ini(path):
    """Parse a tern.conf into {section: {key: value}} (keys may repeat in no section)."""
    sections, cur = {}, None
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith(("#", ";")):
                continue
            if line.startswith("["):
                cur = sections.setdefault(line.strip("[]"), {})
                continue
            key, _, value = line.partition("=")
            cur[key.strip()] = value.strip()
    return sections


class Setup:
    def __init__(self, root, output):
        self.root = root
        self.conf = os.path.join(root, "tern.conf")
        self.data = os.path.join(root, "data")
        self.output = output
        m = re.search(r"%s password: (\S+)" % re.escape(POSTMASTER), output)
        self.password = m.group(1) if m else None

    def __call__(self, *args, **kw):
        return ok(*args, conf=self.conf, **kw)

    def fails(self, *args, **kw):
        return fails(*args, conf=self.conf, **kw)

    def db(self):
        return sqlite3.connect(os.path.join(self.data, "directory.db"))


def init(tmp_path, *extra, name="t"):
    root = str(tmp_path / name)
    os.makedirs(root, exist_ok=True)
    os.chmod(root, 0o755)
    return Setup(root, ok("init", DOMAIN, "--dir", root, *extra))


@pytest.fixture
def t(tmp_path):
    assert os.access(tern_bin(), os.X_OK), "build tern first: %s missing" % tern_bin()
    return init(tmp_path, "--dev")


# ---- init


def test_init_dev_writes_config(t):
    conf = ini(t.conf)
    # Workers never run as root: root's init names the system user tern.
    me = "tern" if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name
    assert conf["server"] == {"hostname": HOSTNAME, "data_dir": t.data, "user": me}
    assert os.path.isabs(conf["server"]["data_dir"])
    want = {"smtp": 2525, "submission": 2587, "submissions": 2465, "imap": 2143,
            "imaps": 2993, "pop3": 2110, "pop3s": 2995, "http": 8080}
    for key, port in want.items():
        assert conf["listen"][key] == "127.0.0.1:%d" % port
    assert conf["tls"] == {"cert": t.data + "/tls/cert.pem", "key": t.data + "/tls/key.pem"}
    assert conf["smtp"]["mynetworks"] == "127.0.0.0/8 ::1/128"
    assert conf["smtp"]["max_message_size"] == "50M"
    assert conf["auth"]["allow_plaintext_loopback"] == "yes"


def test_init_dev_creates_data_dir(t):
    for sub in ("mail", "queue", "spool", "tls", "state"):
        assert os.path.isdir(os.path.join(t.data, sub)), sub
    key = os.stat(os.path.join(t.data, "tls", "key.pem"))
    assert stat.S_IMODE(key.st_mode) == 0o600
    db = os.stat(os.path.join(t.data, "directory.db"))
    assert stat.S_IMODE(db.st_mode) & 0o077 == 0, "directory.db readable by others"
    if os.geteuid() == 0:
        # Root hands the data directory to the server user.
        tern = pwd.getpwnam("tern").pw_uid
        for path in (t.data, os.path.join(t.data, "directory.db"), t.data + "/tls/key.pem"):
            assert os.stat(path).st_uid == tern, path


def test_root_changes_keep_server_user_owner(t):
    t("user", "add", "a@example.test", "--password-stdin", stdin="pw\n")
    owner = os.stat(os.path.join(t.data, "directory.db")).st_uid
    for name in os.listdir(t.data):
        if name.startswith("directory.db"):
            assert os.stat(os.path.join(t.data, name)).st_uid == owner, name


def test_init_creates_postmaster(t):
    assert t.password is not None, t.output
    assert len(t.password) >= 16
    assert t.output.count(t.password) == 1, "password printed more than once"
    with t.db() as db:
        rows = db.execute("SELECT address, password_hash, enabled FROM users").fetchall()
        kinds = db.execute("SELECT name, kind FROM domains").fetchall()
    assert kinds == [(DOMAIN, "local")]
    assert len(rows) == 1 and rows[0][0] == POSTMASTER and rows[0][2] == 1
    assert rows[0][1].startswith("$y$")
    assert t.password not in rows[0][1]


def test_init_prints_dns_records(t):
    assert re.search(r"^example\.test\.\s+\d+\s+IN\s+MX\s+10 mail\.example\.test\.$",
                     t.output, re.M), t.output
    assert '"v=spf1 mx -all"' in t.output
    assert re.search(r"^mail\.example\.test\.\s+\d+\s+IN\s+A\s+<", t.output, re.M)
    assert t.conf in t.output and t.data in t.output


def test_init_hostname_option(tmp_path):
    s = init(tmp_path, "--dev", "--hostname", "MX1.Example.Test")
    assert ini(s.conf)["server"]["hostname"] == "mx1.example.test"
    assert "10 mx1.example.test." in s.output


def test_init_refuses_existing_config(t):
    before = open(t.conf).read()
    fails("init", DOMAIN, "--dir", t.root, "--dev", match="already exists")
    fails("init", "other.test", "--dir", t.root, match="already exists")
    assert open(t.conf).read() == before


def test_init_bad_arguments(tmp_path):
    d = str(tmp_path / "x")
    fails("init", "bad_domain!", "--dir", d, "--dev", match="invalid domain")
    fails("init", DOMAIN, "--dir", d, "--hostname", "bad host", "--dev", match="invalid hostname")
    fails("init", status=2, match="usage")
    fails("init", DOMAIN, "--dir", status=2, match="usage")
    fails("init", DOMAIN, "--frob", status=2, match="usage")
    assert not os.path.exists(os.path.join(d, "tern.conf"))


def test_init_production_ports(tmp_path):
    s = init(tmp_path)
    conf = ini(s.conf)
    assert conf["server"]["user"] == "tern"
    assert conf["listen"]["smtp"] == "0.0.0.0:25"
    assert conf["listen"]["submission"] == "0.0.0.0:587"
    assert conf["listen"]["imaps"] == "0.0.0.0:993"
    assert conf["auth"]["allow_plaintext_loopback"] == "no"


def test_certificate_verifies_for_hostname(t):
    """A TLS handshake in memory: server with key.pem, client trusting cert.pem."""
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(t.data + "/tls/cert.pem", t.data + "/tls/key.pem")
    client_ctx = ssl.create_default_context(cafile=t.data + "/tls/cert.pem")
    c_in, c_out, s_in, s_out = (ssl.MemoryBIO() for _ in range(4))
    client = client_ctx.wrap_bio(c_in, c_out, server_hostname=HOSTNAME)
    server = server_ctx.wrap_bio(s_in, s_out, server_side=True)
    done = [False, False]
    for _ in range(20):
        for i, (side, out, peer_in) in enumerate(((client, c_out, s_in), (server, s_out, c_in))):
            if not done[i]:
                try:
                    side.do_handshake()
                    done[i] = True
                except ssl.SSLWantReadError:
                    pass
            peer_in.write(out.read())
        if all(done):
            break
    assert all(done)
    assert client.getpeercert()["subjectAltName"] == (("DNS", HOSTNAME),)


# ---- domains


def test_domain_commands(t):
    assert t("domain", "add", "Other.Test") == ""
    assert t("domain", "add", "backup.test", "--relay") == ""
    assert t("domain", "list") == ("backup.test\trelay\nexample.test\tlocal\n"
                                  "other.test\tlocal\n")
    t.fails("domain", "add", "other.test", match="other.test already exists")
    t.fails("domain", "add", "bad_name.test", match="invalid domain")
    t.fails("domain", "del", "nowhere.test", match="unknown domain nowhere.test")
    t.fails("domain", "del", DOMAIN, match="still has 1 user")
    assert t("domain", "del", "other.test") == ""
    assert "other.test" not in t("domain", "list")


# ---- users


def test_user_add_and_list(t):
    assert t("user", "add", "Alice@Example.Test", "--password-stdin",
             stdin="alice's secret\n") == ""
    assert t("user", "add", "bob@example.test", "--password-stdin", "--quota", "1G",
             stdin="x") == ""
    generated = t("user", "add", "carol@example.test", "--quota=512M")
    assert re.fullmatch(r"[A-Za-z0-9]{16,}\n", generated), generated
    assert t("user", "list") == (
        "alice@example.test\tunlimited\tenabled\n"
        "bob@example.test\t1G\tenabled\n"
        "carol@example.test\t512M\tenabled\n"
        "postmaster@example.test\tunlimited\tenabled\n")
    with t.db() as db:
        (h,) = db.execute("SELECT password_hash FROM users WHERE address = ?",
                          ("alice@example.test",)).fetchone()
    assert h.startswith("$y$") and "secret" not in h


def test_user_errors(t):
    t("domain", "add", "relay.test", "--relay")
    t("user", "add", "alice@example.test", "--password-stdin", stdin="pw\n")
    t.fails("user", "add", "ALICE@example.test", "--password-stdin", stdin="pw\n",
            match="user alice@example.test already exists")
    t.fails("user", "add", "x@nowhere.test", "--password-stdin", stdin="pw\n",
            match="unknown domain nowhere.test")
    t.fails("user", "add", "x@relay.test", "--password-stdin", stdin="pw\n",
            match="relay domain")
    for bad in ("no-at-sign", "@example.test", "a b@example.test", "x@"):
        t.fails("user", "add", bad, "--password-stdin", stdin="pw\n", match="invalid address")
    t.fails("user", "add", "y@example.test", "--quota", "12X", match="invalid size")
    t.fails("user", "add", "y@example.test", "--password-stdin", stdin="", match="empty password")
    t.fails("user", "del", "ghost@example.test", match="no such user ghost@example.test")
    t.fails("user", "passwd", "ghost@example.test", match="no such user")
    t.fails("user", "list", "nowhere.test", match="unknown domain")
    assert "y@example.test" not in t("user", "list")


def test_user_passwd_del_and_domain_filter(t):
    t("domain", "add", "other.test")
    t("user", "add", "a@example.test", "--password-stdin", stdin="one\n")
    t("user", "add", "b@other.test", "--password-stdin", stdin="two\n")
    with t.db() as db:
        before = db.execute("SELECT password_hash FROM users WHERE address='a@example.test'"
                            ).fetchone()[0]
    assert t("user", "passwd", "A@example.test", "--password-stdin", stdin="three\n") == ""
    shown = t("user", "passwd", "a@example.test")
    assert re.fullmatch(r"[A-Za-z0-9]{16,}\n", shown)
    with t.db() as db:
        after = db.execute("SELECT password_hash FROM users WHERE address='a@example.test'"
                           ).fetchone()[0]
    assert after != before and after.startswith("$y$")
    assert t("user", "list", "other.test") == "b@other.test\tunlimited\tenabled\n"
    assert t("user", "disable", "b@other.test") == ""
    assert t("user", "quota", "b@other.test", "2M") == ""
    assert t("user", "list", "other.test") == "b@other.test\t2M\tdisabled\n"
    assert t("user", "del", "B@Other.test") == ""
    assert t("user", "list", "other.test") == ""


# ---- aliases


def test_alias_commands(t):
    t("user", "add", "alice@example.test", "--password-stdin", stdin="pw\n")
    assert t("alias", "add", "team@example.test", "alice@example.test",
             "Friend@Remote.Test") == ""
    assert t("alias", "add", "@example.test", "postmaster@example.test") == ""
    assert t("alias", "list") == (
        "@example.test\tpostmaster@example.test\n"
        "team@example.test\talice@example.test\n"
        "team@example.test\tfriend@remote.test\n")
    assert t("alias", "list", "team@example.test").count("\n") == 2
    # One bad destination: none of them is added.
    t.fails("alias", "add", "team@example.test", "new@example.test", "alice@example.test",
            match="already exists")
    assert "new@example.test" not in t("alias", "list")
    t.fails("alias", "add", "x@nowhere.test", "alice@example.test", match="unknown domain")
    t.fails("alias", "add", "team@example.test", "not-an-address", match="invalid address")
    t.fails("alias", "add", "team@example.test", status=2, match="usage")
    assert t("alias", "del", "team@example.test", "friend@remote.test") == ""
    t.fails("alias", "del", "team@example.test", "friend@remote.test", match="no such alias")
    assert t("alias", "del", "@example.test") == ""
    assert t("alias", "list") == "team@example.test\talice@example.test\n"
    t.fails("alias", "del", "nobody@example.test", match="no such alias")


# ---- errors and usage


@pytest.mark.parametrize("args", [
    [],
    ["frobnicate"],
    ["user"],
    ["user", "frob"],
    ["user", "add"],
    ["user", "add", "a@example.test", "b@example.test"],
    ["user", "add", "a@example.test", "--bogus"],
    ["domain", "add"],
    ["domain", "list", "extra"],
    ["alias", "del"],
    ["-x", "domain", "list"],
    ["check-config", "extra"],
])
def test_usage_errors(t, args):
    fails(*args, conf=t.conf, status=2)


def test_help():
    p = run("help")
    assert p.returncode == 0 and "usage: tern" in p.stdout


def test_tern_conf_environment(t):
    env = dict(os.environ, TERN_CONF=t.conf)
    p = run("domain", "list", env=env)
    assert p.returncode == 0 and p.stdout == "example.test\tlocal\n"
    env["TERN_CONF"] = t.root + "/missing.conf"
    p = run("domain", "list", env=env)
    assert p.returncode == 1 and p.stderr.startswith("tern: ") and "missing.conf" in p.stderr


def test_missing_config(tmp_path):
    fails("domain", "list", conf=tmp_path / "none.conf", match="cannot open config")


# ---- check-config and dns-records


def test_check_config_ok(t):
    assert t("check-config") == "ok\n"


def rewrite(path, old, new):
    text = open(path).read()
    assert old in text
    with open(path, "w") as f:
        f.write(text.replace(old, new))


@pytest.mark.parametrize("old,new,match", [
    ("max_message_size = 50M", "max_message_size = 50Q", "max_message_size"),
    ("[smtp]", "[smtp]\nno_such_key = 1", "unknown key 'no_such_key'"),
    ("[auth]", "[nosuchsection]\nx = 1\n[auth]", "unknown section"),
    ("/data\n", "/nodata\n", "data_dir .*nodata"),
    ("tls/cert.pem", "tls/missing.pem", "missing.pem"),
    ("[server]", "[server\n", "syntax error|unknown|tern.conf"),
])
def test_check_config_broken(t, old, new, match):
    rewrite(t.conf, old, new)
    t.fails("check-config", match=match)


def test_check_config_key_mismatch(t, tmp_path):
    other = init(tmp_path, "--dev", name="other")
    rewrite(t.conf, t.data + "/tls/key.pem", other.data + "/tls/key.pem")
    t.fails("check-config", match="does not belong")


def test_check_config_missing_directory(t):
    os.unlink(os.path.join(t.data, "directory.db"))
    t.fails("check-config", match="directory.db")


def test_dns_records(t):
    t("domain", "add", "other.test")
    t("domain", "add", "backup.test", "--relay")
    out = t("dns-records")
    assert re.search(r"^other\.test\.\s+\d+\s+IN\s+MX\s+10 mail\.example\.test\.$", out, re.M)
    assert re.search(r"^backup\.test\.\s+\d+\s+IN\s+MX\s+20 mail\.example\.test\.$", out, re.M)
    assert out.count("v=spf1") == 2
