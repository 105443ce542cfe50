"""End-to-end tests of the IMAP server with real clients: curl (imap://,
imaps://, STARTTLS, SEARCH, APPEND), mutt in batch mode (a pseudo-terminal,
bounded by a deadline) and mbsync (isync) synchronising a local Maildir with
tern's INBOX in both directions.

What the clients get is compared with the files in tern's Maildir, and what
they change is checked on the server.
"""

import os
import re
import select
import shutil
import signal
import subprocess
import time

import pytest

import harness
from harness import HOSTNAME

USER = "user@example.test"
PASSWORD = "secret-password-1"
PLAIN_OK = {"allow_plaintext_loopback": "yes"}

pytestmark = pytest.mark.tern(listen=("imap", "imaps"), auth=PLAIN_OK)


def need(tool):
    path = shutil.which(tool)
    if path is None:
        pytest.skip("%s not installed (scripts/install-deps installs it)" % tool)
    return path


def deliver(t, msgid, subject="test", body=b"Hello.\r\n"):
    msg = harness.message(msgid, subject=subject, body=body)
    s = t.smtp()
    s.sendmail("sender@example.org", [USER], msg)
    s.quit()
    return msg


def stored(t, folder=""):
    """Contents of a folder's messages in delivery order."""
    return harness.stored_messages(t, USER, folder)


def run(argv, timeout=60, **kw):
    return subprocess.run(argv, capture_output=True, timeout=timeout, **kw)


# ---------------------------------------------------------------- curl

def curl_base(curl):
    return [curl, "-s", "-S", "--max-time", "20", "-u", "%s:%s" % (USER, PASSWORD)]


def test_curl_list_fetch_search_append(tern, curl):
    port = tern.ports["imap"]
    sent = [deliver(tern, "c1@test", subject="first one", body=b"Body one.\r\n.dot\r\n"),
            deliver(tern, "c2@test", subject="second one")]
    base = curl_base(curl)
    out = run(base + ["imap://127.0.0.1:%d/" % port])
    assert out.returncode == 0, out.stderr
    lines = out.stdout.split(b"\r\n")
    assert lines[-1] == b""
    assert lines[:-1] == [b'* LIST (\\HasNoChildren) "/" "INBOX"',
                          b'* LIST (\\HasNoChildren \\Archive) "/" "Archive"',
                          b'* LIST (\\HasNoChildren \\Drafts) "/" "Drafts"',
                          b'* LIST (\\HasNoChildren \\Junk) "/" "Junk"',
                          b'* LIST (\\HasNoChildren \\Sent) "/" "Sent"',
                          b'* LIST (\\HasNoChildren \\Trash) "/" "Trash"'], out.stdout
    files = stored(tern)
    assert files[0].endswith(sent[0]) and files[1].endswith(sent[1])
    for uid in (1, 2):
        out = run(base + ["imap://127.0.0.1:%d/INBOX;UID=%d" % (port, uid)])
        assert out.returncode == 0, out.stderr
        assert out.stdout == files[uid - 1]
    out = run(base + ["imap://127.0.0.1:%d/INBOX;UID=1;SECTION=TEXT" % port])
    assert out.returncode == 0, out.stderr
    assert out.stdout == b"Body one.\r\n.dot\r\n"
    out = run(base + ["imap://127.0.0.1:%d/INBOX?SUBJECT%%20second" % port])
    assert out.returncode == 0, out.stderr
    assert out.stdout == b"* SEARCH 2\r\n"
    out = run(base + ["imap://127.0.0.1:%d/INBOX;UID=9" % port])
    assert out.returncode != 0                      # no such message: curl fails
    # a custom command
    out = run(base + ["-X", "STATUS INBOX (MESSAGES UIDNEXT)", "imap://127.0.0.1:%d/" % port])
    assert out.returncode == 0, out.stderr
    assert out.stdout == b'* STATUS "INBOX" (MESSAGES 2 UIDNEXT 3)\r\n'
    # curl's upload is an APPEND
    upload = os.path.join(tern.dir, "upload.eml")
    msg = (b"From: user@example.test\r\nTo: x@example.org\r\nSubject: uploaded\r\n"
           b"Message-ID: <up@test>\r\n\r\nUploaded by curl.\r\n")
    with open(upload, "wb") as f:
        f.write(msg)
    out = run(base + ["-T", upload, "imap://127.0.0.1:%d/Sent" % port])
    assert out.returncode == 0, out.stderr
    assert stored(tern, ".Sent") == [msg]
    assert stored(tern)[:2] == files                # curl's fetches left INBOX alone


def test_curl_imaps_and_starttls_verified(tern, curl):
    deliver(tern, "tls1@test", subject="over tls")
    files = stored(tern)
    cafile = os.path.join(tern.data_dir, "tls", "cert.pem")
    for scheme, listener, extra in (("imaps", "imaps", []), ("imap", "imap", ["--ssl-reqd"])):
        port = tern.ports[listener]
        argv = curl_base(curl) + extra + [
            "--cacert", cafile, "--resolve", "%s:%d:127.0.0.1" % (HOSTNAME, port),
            "%s://%s:%d/INBOX;UID=1" % (scheme, HOSTNAME, port)]
        out = run(argv)
        assert out.returncode == 0, (scheme, out.stderr)
        assert out.stdout == files[0]
        # without the right CA the certificate is refused (curl exit 60)
        bad = [a for a in argv if a not in ("--cacert", cafile)]
        out = run(bad)
        assert out.returncode == 60, (scheme, out.returncode, out.stderr)
    assert "method=LOGIN tls=yes" in tern.log or "tls=yes" in tern.log


# ---------------------------------------------------------------- mutt

def run_tty(argv, env, timeout=30.0):
    """Run a curses program on a pseudo-terminal until it exits (bounded):
    (exit status, everything it drew)."""
    master, slave = os.openpty()
    try:
        p = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env,
                             start_new_session=True, close_fds=True)
    finally:
        os.close(slave)
    out = b""
    deadline = time.monotonic() + timeout
    try:
        while p.poll() is None and time.monotonic() < deadline:
            r, _, _ = select.select([master], [], [], 0.2)
            if r:
                try:
                    data = os.read(master, 65536)
                except OSError:
                    data = b""
                out += data
        if p.poll() is None:
            os.kill(p.pid, signal.SIGKILL)
            p.wait(10)
            raise AssertionError("%s did not finish in %.0fs; screen:\n%s"
                                 % (argv[0], timeout, out[-3000:].decode("utf-8", "replace")))
        for _ in range(50):                           # what is still buffered
            r, _, _ = select.select([master], [], [], 0.05)
            if not r:
                break
            try:
                data = os.read(master, 65536)
            except OSError:
                break
            if not data:
                break
            out += data
    finally:
        os.close(master)
    return p.returncode, out


def mutt_rc(t, port):
    rc = os.path.join(t.dir, "muttrc")
    with open(rc, "w") as f:
        f.write('set folder="imap://user%%40example.test@127.0.0.1:%d/"\n' % port)
        f.write('set spoolfile="+INBOX"\n')
        f.write('set imap_user="%s"\n' % USER)
        f.write('set imap_pass="%s"\n' % PASSWORD)
        f.write('set imap_authenticators="login"\n')
        f.write("set ssl_starttls=no\nset ssl_force_tls=no\n")
        f.write('set header_cache=""\nset message_cachedir=""\n')
        f.write("set wait_key=no\nset quit=yes\nset move=no\nset delete=yes\n")
        f.write("set confirmappend=no\nset mark_old=no\nset pipe_decode=no\n")
        f.write("set sort=mailbox-order\nset beep=no\nset imap_check_subscribed=no\n")
        f.write('set record=""\nset postponed=""\nset mbox_type=Maildir\n')
        f.write("set timeout=2\nset mail_check=60\nset imap_keepalive=300\n")
    return rc


def test_mutt_reads_and_deletes(tern):
    mutt = need("mutt")
    port = tern.ports["imap"]
    deliver(tern, "m1@test", subject="for mutt one", body=b"Line one\r\n\r\n.dot\r\n")
    deliver(tern, "m2@test", subject="for mutt two")
    files = stored(tern)
    rc = mutt_rc(tern, port)
    out_file = os.path.join(tern.dir, "piped.eml")
    env = dict(os.environ, HOME=tern.dir, TERM="vt100", LANG="C.UTF-8", LC_ALL="C.UTF-8",
               MAIL="", MAILDIR="")
    # pipe the first message to a file, then quit
    cmd = 'push "<pipe-message>cat > %s<enter><quit>"' % out_file
    status, screen = run_tty([mutt, "-n", "-F", rc, "-e", cmd], env)
    assert status == 0, screen[-2000:]
    with open(out_file, "rb") as f:
        got = f.read()
    # mutt hands pipes LF line ends; the bytes are the message's
    assert got.replace(b"\r\n", b"\n") == files[0].replace(b"\r\n", b"\n"), got[:500]
    assert len(stored(tern)) == 2
    # delete the first message and sync: STORE \Deleted + EXPUNGE on the server
    cmd = 'push "<delete-message><sync-mailbox><quit>"'
    status, screen = run_tty([mutt, "-n", "-F", rc, "-e", cmd], env)
    assert status == 0, screen[-2000:]
    assert stored(tern) == [files[1]]
    assert "user=user@example.test method=LOGIN" in tern.log


# ---------------------------------------------------------------- mbsync

FLAG_LETTERS = {"D": "\\Draft", "F": "\\Flagged", "R": "\\Answered", "S": "\\Seen",
                "T": "\\Deleted"}


def mbsync_conf(t, port, local):
    path = os.path.join(t.dir, "mbsyncrc")
    with open(path, "w") as f:
        f.write("IMAPAccount tern\nHost 127.0.0.1\nPort %d\nUser %s\nPass %s\n"
                "SSLType None\nAuthMechs LOGIN\nTimeout 30\nPipelineDepth 20\n\n"
                "IMAPStore remote\nAccount tern\n\n"
                "MaildirStore local\nPath %s/\nInbox %s/INBOX\nSubFolders Verbatim\n\n"
                "Channel ch\nFar :remote:\nNear :local:\nPatterns INBOX\nCreate Both\n"
                "Expunge Both\nSyncState *\nSync All\nCopyArrivalDate yes\n"
                % (port, USER, PASSWORD, local, local))
    return path


def run_mbsync(t, conf):
    env = dict(os.environ, HOME=t.dir)
    p = run(["mbsync", "-c", conf, "-V", "ch"], timeout=120, env=env)
    text = (p.stdout + p.stderr).decode("utf-8", "replace")
    assert p.returncode == 0, text[-4000:]
    # plaintext on loopback (allowed by the test config): mbsync warns about it
    checked = text.replace("*** IMAP Warning *** Password is being sent in the clear", "")
    for bad in ("Error", "error:", "IMAP error", "Warning", "unexpected", "refusing"):
        assert bad not in checked, "%r in mbsync output:\n%s" % (bad, text[-4000:])
    return text


def remote_state(t):
    """{Message-ID: set of system flags} of INBOX, and (UIDNEXT,
    HIGHESTMODSEQ, [(uid, flags)]) to see that nothing changed."""
    r = t.imap_raw(login=True, timeout=30)
    untagged = r.ok('EXAMINE INBOX')
    hms = [int(m.group(1)) for m in (re.match(rb"^\* OK \[HIGHESTMODSEQ (\d+)\]", l)
                                     for l in untagged) if m]
    uidnext = [int(m.group(1)) for m in (re.match(rb"^\* OK \[UIDNEXT (\d+)\]", l)
                                         for l in untagged) if m]
    exists = [int(m.group(1)) for m in (re.match(rb"^\* (\d+) EXISTS", l)
                                        for l in untagged) if m]
    by_id = {}
    rows = []
    if exists[0] > 0:
        untagged = r.ok("FETCH 1:* (UID FLAGS BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])",
                        timeout=30)
        for l in untagged:
            m = re.search(rb"UID (\d+)", l)
            flags = set(re.search(rb"FLAGS \(([^)]*)\)", l).group(1).decode().split())
            mid = re.search(rb"Message-ID:\s*<([^>]+)>", l, re.I).group(1).decode()
            system = {f for f in flags if f.startswith("\\")}
            assert mid not in by_id, "duplicate on the server: %s" % mid
            by_id[mid] = system
            rows.append((int(m.group(1)), tuple(sorted(flags))))
    r.close()
    return by_id, (uidnext[0], hms[0], sorted(rows))


def local_state(inbox):
    by_id = {}
    names = []
    for sub in ("cur", "new"):
        d = os.path.join(inbox, sub)
        for n in sorted(os.listdir(d)):
            names.append(sub + "/" + n)
            with open(os.path.join(d, n), "rb") as f:
                head = f.read(8192)
            mid = re.search(rb"Message-ID:\s*<([^>]+)>", head, re.I).group(1).decode()
            letters = n.rsplit(":2,", 1)[1] if ":2," in n else ""
            assert mid not in by_id, "duplicate in the local Maildir: %s" % mid
            by_id[mid] = {FLAG_LETTERS[c] for c in letters if c in FLAG_LETTERS}
    return by_id, sorted(names)


def local_file(inbox, msgid):
    for sub in ("cur", "new"):
        for n in os.listdir(os.path.join(inbox, sub)):
            with open(os.path.join(inbox, sub, n), "rb") as f:
                if b"<%s>" % msgid.encode() in f.read(8192):
                    return os.path.join(inbox, sub, n)
    raise AssertionError("%s not in the local Maildir" % msgid)


def test_mbsync_two_way(tern):
    need("mbsync")
    port = tern.ports["imap"]
    n = 300
    # n APPENDs pipelined with LITERAL+ (a synchronising literal per message
    # would cost a round trip each)
    r = tern.imap_raw(login=True, timeout=60)
    batch = b""
    for i in range(n):
        msg = harness.message("mb%03d@test" % i, subject="mbsync %d" % i,
                              body=b"message %d\r\n" % i)
        batch += b"p%03d APPEND INBOX %s{%d+}\r\n%s\r\n" % (
            i, b"(\\Seen) " if i % 3 == 0 else b"", len(msg), msg)
    r.send(batch)
    for i in range(n):
        tagged = r.until_tagged("p%03d" % i, timeout=60)[1]
        assert tagged.startswith(b"p%03d OK [APPENDUID " % i), tagged
    r.close()
    local = os.path.join(tern.dir, "local")
    os.makedirs(local)
    conf = mbsync_conf(tern, port, local)
    inbox = os.path.join(local, "INBOX")

    # 1. the first sync copies everything
    run_mbsync(tern, conf)
    remote, _ = remote_state(tern)
    near, _ = local_state(inbox)
    assert len(remote) == n and near == remote

    # 2. changes on both sides
    r = tern.imap_raw(login=True, timeout=30)
    r.ok("SELECT INBOX")
    r.ok("UID STORE 11 +FLAGS (\\Flagged)")                    # mb010 flagged remotely
    r.ok("UID STORE 51 +FLAGS (\\Seen \\Answered)")            # mb050 read and answered
    r.ok("UID STORE 21 +FLAGS.SILENT (\\Deleted)")             # mb020 deleted remotely
    r.ok("EXPUNGE")
    new_remote = harness.message("remote-new@test", subject="new on the server")
    r.send("x1 APPEND INBOX {%d+}\r\n" % len(new_remote))
    r.send(new_remote + b"\r\n")
    assert r.until_tagged("x1")[1].startswith(b"x1 OK")
    r.ok("LOGOUT")
    r.close()
    f = local_file(inbox, "mb030@test")                        # mb030 flagged locally
    base, _, letters = f.rpartition(":2,")
    os.rename(f, base + ":2," + "".join(sorted(set(letters) | {"F"})))
    f = local_file(inbox, "mb061@test")                        # mb061 read locally
    base, _, letters = f.rpartition(":2,")
    os.rename(f, base + ":2," + "".join(sorted(set(letters) | {"S"})))
    f = local_file(inbox, "mb090@test")                        # mb090: \Seen taken away
    base, _, letters = f.rpartition(":2,")
    assert "S" in letters
    os.rename(f, base + ":2," + letters.replace("S", ""))
    os.unlink(local_file(inbox, "mb040@test"))                 # mb040 deleted locally
    new_local = harness.message("local-new@test", subject="new in the Maildir")
    with open(os.path.join(inbox, "new", "%d.P1Q1.client" % int(time.time())), "wb") as f:
        f.write(new_local)

    run_mbsync(tern, conf)
    remote, (uidnext, hms, rows) = remote_state(tern)
    near, names = local_state(inbox)
    assert near == remote, sorted(set(near.items()) ^ set(remote.items()))
    assert len(remote) == n - 2 + 2
    assert "mb020@test" not in remote and "mb040@test" not in remote
    assert remote["mb010@test"] == {"\\Flagged"}
    assert remote["mb050@test"] == {"\\Seen", "\\Answered"}
    assert remote["mb030@test"] == {"\\Seen", "\\Flagged"}      # 30 % 3 == 0: was \Seen
    assert remote["mb061@test"] == {"\\Seen"}
    assert remote["mb090@test"] == set()
    assert remote["remote-new@test"] == set() and remote["local-new@test"] == set()
    assert not any("\\Deleted" in fl for fl in remote.values())
    # the server has the bytes the client wrote (mbsync adds an X-TUID field)
    assert sum(re.sub(rb"X-TUID: [^\r\n]*\r\n", b"", data) == new_local
               for data in stored(tern)) == 1

    # 3. a second run changes nothing on either side
    run_mbsync(tern, conf)
    remote2, state2 = remote_state(tern)
    near2, names2 = local_state(inbox)
    assert state2 == (uidnext, hms, rows)
    assert names2 == names and near2 == near
