"""The plugin process itself: its standard output, its log lines and the
magic cookie. Imported first, before any third-party module, and with no
imports beyond the standard library."""

import os
import sys
import threading
import traceback

# The go-plugin handshake of ipbench (plugins/wire.Handshake): a plugin
# started without the cookie says so and exits; the host refuses any other
# protocol version.
COOKIE_KEY = "IPBENCH_PLUGIN"
COOKIE_VALUE = "5f0c2d1e-exact-posterior-score"
CORE_PROTOCOL_VERSION = 1  # go-plugin's CoreProtocolVersion
APP_PROTOCOL_VERSION = 1  # plugins/wire.ProtocolVersion

_handshake_fd = None  # the real standard output, kept for the handshake line


def as_plugin():
    """Whether this process was started by an ipbench host."""
    return os.environ.get(COOKIE_KEY) == COOKIE_VALUE


def log(level, msg):
    """Writes msg to stderr, one line per line, each prefixed by [LEVEL]:
    go-plugin's host shows a plugin's stderr lines at the level their prefix
    names (ipbench's host shows WARN and ERROR; unprefixed lines are DEBUG
    and not shown)."""
    lines = str(msg).rstrip("\n").split("\n")
    try:
        sys.stderr.write("".join("[%s] %s\n" % (level, line) for line in lines))
        sys.stderr.flush()
    except Exception:
        pass


def _excepthook(kind, value, tb):
    log("ERROR", "".join(traceback.format_exception(kind, value, tb)))


def _thread_excepthook(args):
    if args.exc_type is SystemExit:
        return
    _excepthook(args.exc_type, args.exc_value, args.exc_traceback)


def guard_stdout():
    """Keeps the process's standard output for the handshake line alone.

    go-plugin reads the first line a plugin writes to stdout as its
    handshake, so anything printed before it breaks the start. From the
    import of ipbench_plugin on, fd 1 and sys.stdout go to stderr (the
    host's log), and the real stdout is kept for the handshake. Uncaught
    exceptions are logged as [ERROR] lines, so that the host shows them.
    Only done when the process runs as a plugin."""
    global _handshake_fd
    if _handshake_fd is not None or not as_plugin():
        return
    try:
        sys.stdout.flush()  # what was printed before the import is the host's to judge
    except Exception:
        pass
    _handshake_fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    sys.excepthook = _excepthook
    threading.excepthook = _thread_excepthook


def write_handshake(line):
    """Writes the handshake line to the real standard output."""
    fd = _handshake_fd if _handshake_fd is not None else 1
    data = (line + "\n").encode()
    while data:
        data = data[os.write(fd, data):]


def check_cookie(kind="solver"):
    """Exits with a message when the process was not started by a host.
    kind is "solver" or "model"."""
    if as_plugin():
        return
    exe = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "this program"
    me = sys.argv[0] if sys.argv else exe
    if kind == "model":
        how = ("the ipbench harness starts it (model: {kind: plugin, plugin: %s} in a\n"
               "run's configuration)." % me)
    else:
        how = ("the ipbench harness starts it (ipbench solvers --plugin %s, or put it\n"
               "in a plugin directory as ipbench-solver-NAME)." % me)
    sys.stderr.write(
        "%s is an ipbench %s plugin. It is not meant to be run directly:\n"
        "%s The magic cookie\n"
        "%s is missing or wrong.\n" % (exe, kind, how, COOKIE_KEY))
    sys.stderr.flush()
    sys.exit(1)
