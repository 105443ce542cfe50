"""Fixtures for the end-to-end tests.

`tern` gives each test a fresh ternd in its own temporary directory with the
users user@, other@ and a relay-free default config; a test changes the
config with the marker

    @pytest.mark.tern(smtp={"max_recipients": "3"}, server={...}, start=False)

(start=False: the test adds its own users/aliases, then calls tern.start()).
On a failure the ternd log is attached to the report and the directory is
kept; otherwise it is removed.
"""

import os
import shutil
import sys
import tempfile

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402

DEFAULT_USERS = ("user@example.test", "other@example.test")


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "tern(smtp=None, server=None, listen=None, auth=None, start=True, users=None): "
        "ternd setup for a test")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)
    t = getattr(item, "_tern", None)
    if rep.failed and t is not None:
        log = t.log
        if len(log) > 60000:
            log = "[... %d bytes cut ...]\n" % (len(log) - 60000) + log[-60000:]
        rep.sections.append(("ternd log (%s)" % t.logfile, log))


def _tempdir():
    base = os.environ.get("TERN_E2E_TMP") or tempfile.gettempdir()
    return tempfile.mkdtemp(prefix="tern-e2e-", dir=base)


@pytest.fixture
def tern(request):
    marker = request.node.get_closest_marker("tern")
    opts = dict(marker.kwargs) if marker else {}
    workdir = _tempdir()
    t = None
    try:
        t = harness.Tern(workdir, smtp=opts.get("smtp"), server=opts.get("server"),
                         listen_extra=opts.get("listen"), auth=opts.get("auth"))
        request.node._tern = t
        for addr in opts.get("users", DEFAULT_USERS):
            t.add_user(addr)
        if opts.get("start", True):
            t.start()
        yield t
    finally:
        rc = t.stop() if t is not None else None
        failed = any(getattr(request.node, "rep_" + w, None) is not None
                     and getattr(request.node, "rep_" + w).failed for w in ("setup", "call"))
        log = t.log if t is not None else ""
        if failed:
            print("kept %s" % workdir)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    # Problems that show only at the end: a ternd that did not stop cleanly on
    # SIGTERM, or a sanitizer report anywhere in the log.
    if t is not None and not failed:
        for bad in ("AddressSanitizer", "LeakSanitizer", "runtime error:"):
            assert bad not in log, "sanitizer report in ternd log:\n" + log[-20000:]
        if not getattr(t, "expect_unclean_exit", False):
            assert rc in (0, None), "ternd exit status after SIGTERM: %r\n%s" % (rc, log[-20000:])


def _need(tool):
    path = shutil.which(tool)
    if path is None:
        pytest.skip("%s not installed (scripts/install-deps installs it)" % tool)
    return path


@pytest.fixture
def swaks():
    return _need("swaks")


@pytest.fixture
def curl():
    return _need("curl")
