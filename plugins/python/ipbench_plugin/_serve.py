"""The go-plugin protocol, plugin side, for a Python solver.

What a Go plugin gets from plugin.Serve, written out: the magic cookie, a
gRPC server on a Unix socket (with AutoMTLS when the host asks for it), the
handshake line on stdout, and the services go-plugin's host expects beside
the solver: the health service ("plugin" is SERVING), GRPCBroker (the
stream on which the host announces the services it serves back, here
Operator and Model), GRPCController (Shutdown) and GRPCStdio.
"""

import os
import signal
import sys
import tempfile
import threading
import time
import traceback
from concurrent import futures

import grpc

from . import _doorbell, _handles, _proc, _tls
from . import ipbench_pb2 as pb
from . import ipbench_pb2_grpc as pbg
from ._tensor import Region, decode, encode, shm_tensor
from .goplugin import grpc_broker_pb2_grpc as brokerg
from .goplugin import grpc_controller_pb2 as controller
from .goplugin import grpc_controller_pb2_grpc as controllerg
from .goplugin import grpc_stdio_pb2_grpc as stdiog
from .health import health_pb2 as health
from .health import health_pb2_grpc as healthg

MAX_MESSAGE = 1 << 30  # plugins/wire.MaxMessage, both ways
_OPTIONS = [("grpc.max_send_message_length", MAX_MESSAGE), ("grpc.max_receive_message_length", MAX_MESSAGE)]
SOLVER_PLUGIN_NAME = "solver"  # plugins/wire.SolverPluginName (the host's plugin set; no wire effect)


class _Broker(brokerg.GRPCBrokerServicer):
    """go-plugin's GRPCBroker, plugin side, without multiplexing: the host
    sends ConnInfo{service_id, network, address} on the stream for each
    service it serves (AcceptAndServe), and the plugin dials that address
    itself, with TLS when AutoMTLS is on."""

    def __init__(self, tls):
        self._tls = tls
        self._cond = threading.Condition()
        self._infos = {}
        self._channels = {}

    def StartStream(self, request_iterator, context):
        context.send_initial_metadata(())
        for info in request_iterator:
            if info.HasField("knock"):
                continue  # multiplexing only; never asked for here
            with self._cond:
                self._infos[info.service_id] = info
                self._cond.notify_all()
        return iter(())

    def dial(self, service_id, timeout=10.0):
        """The channel to the host's services on stream service_id, dialled
        once."""
        with self._cond:
            ch = self._channels.get(service_id)
            if ch is not None:
                return ch
            if not self._cond.wait_for(lambda: service_id in self._infos, timeout):
                raise TimeoutError("no connection info for broker stream %d within %g s" % (service_id, timeout))
            info = self._infos[service_id]
        if info.network == "unix":
            target = "unix:" + info.address
        elif info.network == "tcp":
            target = info.address
        else:
            raise ValueError("broker stream %d: unknown network %r" % (service_id, info.network))
        if self._tls is not None:
            ch = grpc.secure_channel(target, self._tls.channel_credentials(), options=_OPTIONS + [
                ("grpc.ssl_target_name_override", "localhost"), ("grpc.default_authority", "localhost")])
        else:
            ch = grpc.insecure_channel(target, options=_OPTIONS)
        try:
            grpc.channel_ready_future(ch).result(timeout=timeout)
        except grpc.FutureTimeoutError:
            ch.close()
            raise ConnectionError("could not connect to the host's services at %s (%s) within %g s"
                                  % (target, "TLS" if self._tls else "plain", timeout)) from None
        with self._cond:
            self._channels.setdefault(service_id, ch)
            return self._channels[service_id]


class _Controller(controllerg.GRPCControllerServicer):
    def __init__(self, done):
        self._done = done

    def Shutdown(self, request, context):
        self._done.set()
        return controller.Empty()


class _Stdio(stdiog.GRPCStdioServicer):
    """go-plugin's host connects to this at once; the plugin's stdout and
    stderr go to the host's log through the process's stderr instead, so the
    stream stays open and sends nothing."""

    def StreamStdio(self, request, context):
        ended = threading.Event()
        context.add_callback(ended.set)
        ended.wait()
        return iter(())


class _Health(healthg.HealthServicer):
    def Check(self, request, context):
        if request.service in ("", "plugin"):
            return health.HealthCheckResponse(status=health.HealthCheckResponse.SERVING)
        context.abort(grpc.StatusCode.NOT_FOUND, "unknown service %r" % request.service)

    def Watch(self, request, context):
        yield self.Check(request, context)
        ended = threading.Event()
        context.add_callback(ended.set)
        ended.wait()


class _Solver(pbg.SolverServicer):
    def __init__(self, impl, info, broker):
        self.impl, self.info, self.broker = impl, info, broker
        self._lock = threading.Lock()
        self._region = None

    def Info(self, request, context):
        return self.info.proto()

    def _region_for(self, path, size):
        """The host's region, mapped once per file; a region the host
        replaced is unmapped. Each call starts with the whole region free."""
        with self._lock:
            r = self._region
            if r is not None and r.path == path and r.size == size:
                r.reset()
                return r
            if r is not None:
                r.close()
                self._region = None
            self._region = Region(path, size)
            return self._region

    def Solve(self, req, context):
        name = self.info.name
        try:
            ch = self.broker.dial(req.broker_id)
        except Exception as e:
            context.abort(grpc.StatusCode.UNAVAILABLE, "dialling the host's services: %s" % e)
        m, d, n = int(req.m), int(req.d), len(req.seeds)
        try:
            y = decode(req.y, (m,))
        except ValueError as e:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "y: %s" % e)
        try:
            params = _handles.resolve_params(self.info, dict(req.params))
        except ValueError as e:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(e))
        region = None
        if req.shm_path:
            try:
                region = self._region_for(req.shm_path, int(req.shm_size))
            except (OSError, ValueError) as e:
                context.abort(grpc.StatusCode.UNAVAILABLE, str(e))
        bell = None
        if region is not None and req.doorbell and _doorbell.available() and _doorbell.reserve(region):
            bell = _doorbell.Doorbell(region)
        tr = _handles._Transport(region)
        op = _handles.Operator(pbg.OperatorStub(ch), req.session, m, d, tr, req.has_svd)
        model = _handles.Model(pbg.ModelStub(ch), req.session, d, tr, bell, context.is_active)
        problem = _handles.Problem(op, y, req.sigma_y, req.sigma_max)
        seeds = [_handles.Seed(s.hi, s.lo) for s in req.seeds]
        _handles._call.region = region
        failure = None
        try:
            out = self.impl.solve(problem, model, seeds, int(req.nfe), params)
        except Exception as e:
            # The call fails, the process lives on: the host records the
            # batch as failed and goes on with the next.
            failure = _describe("solver", name, e)
            _proc.log("ERROR", "solver %s: %s" % (name, traceback.format_exc()))
        finally:
            _handles._call.region = None
        if failure is not None:
            context.abort(grpc.StatusCode.UNKNOWN, failure)
        try:
            out = _handles.samples_of(out, n, d, name)
        except ValueError as e:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(e))
        if region is not None and n * d > 0:
            put = region.put(out)
            if put is not None:  # the host copies the samples out before it reuses the region
                return pb.SolveResponse(samples=shm_tensor(put[0], n, d))
        return pb.SolveResponse(samples=encode(out))


def _describe(kind, name, e):
    """The error of a plugin's exception: its type, message and the line of
    the plugin's code that raised it; kind is "solver" or "model"."""
    where = ""
    tb = traceback.extract_tb(e.__traceback__)
    if tb:
        f = tb[-1]
        where = " (at %s:%d in %s)" % (os.path.basename(f.filename), f.lineno, f.name)
    msg = str(e)
    if len(msg) > 2000:
        msg = msg[:2000] + "…"
    return "%s %s raised %s: %s%s" % (kind, name, type(e).__name__, msg, where)


def _watch_parent():
    """Ends the plugin when the host is gone (killed with SIGKILL, say), as
    the Go SDK does: the process is then re-parented."""
    parent = os.getppid()
    while True:
        time.sleep(0.5)
        if os.getppid() != parent:
            os._exit(3)


def _socket_path():
    """A fresh path for the Unix socket, in go-plugin's directory when the
    host names one."""
    d = os.environ.get("PLUGIN_UNIX_SOCKET_DIR") or tempfile.gettempdir()
    fd, path = tempfile.mkstemp(prefix="plugin", dir=d)
    os.close(fd)
    os.remove(path)
    return path


def serve(solver):
    """Runs solver as an ipbench solver plugin process; never returns.

    solver has info() -> Info and solve(problem, model, seeds, nfe, params)
    -> samples [len(seeds), d]. The host starts the script; run by hand it
    says that it is a plugin and exits with status 1."""
    _proc.check_cookie()
    _proc.guard_stdout()

    def register(server, broker):
        info = solver.info()
        if not isinstance(info, _handles.Info) or not info.name:
            raise ValueError("info() must return an ipbench_plugin.Info with a name, got %r" % (info,))
        pbg.add_SolverServicer_to_server(_Solver(solver, info, broker), server)

    run_plugin(register)


def run_plugin(register):
    """The plugin side of go-plugin, whatever the plugin serves; never
    returns. register(server, broker) adds the plugin's own services to the
    gRPC server (broker: the GRPCBroker, for the host's services); beside
    them the process serves go-plugin's health, broker, controller and
    stdio services. A failure before the handshake is logged and ends the
    process with status 1."""
    try:
        tls = _tls.from_env()
        path = _socket_path()
        done = threading.Event()
        broker = _Broker(tls)
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=8), options=_OPTIONS)
        register(server, broker)
        healthg.add_HealthServicer_to_server(_Health(), server)
        brokerg.add_GRPCBrokerServicer_to_server(broker, server)
        controllerg.add_GRPCControllerServicer_to_server(_Controller(done), server)
        stdiog.add_GRPCStdioServicer_to_server(_Stdio(), server)
        target = "unix:" + path
        if tls is not None:
            port = server.add_secure_port(target, tls.server_credentials())
        else:
            port = server.add_insecure_port(target)
        if port == 0:
            raise OSError("cannot listen on %s" % target)
        server.start()
    except Exception:
        _proc.log("ERROR", "ipbench_plugin: the plugin could not start:\n" + traceback.format_exc())
        sys.exit(1)
    # Ctrl-C in the host's terminal reaches the plugin too: the host stops
    # its plugins itself, as go-plugin's Go servers do.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_watch_parent, daemon=True).start()
    line = "%d|%d|unix|%s|grpc|%s" % (_proc.CORE_PROTOCOL_VERSION, _proc.APP_PROTOCOL_VERSION, path,
                                      tls.handshake_cert if tls is not None else "")
    if os.environ.get("PLUGIN_MULTIPLEX_GRPC"):
        line += "|false"  # no broker multiplexing: the host then says so
    _proc.write_handshake(line)
    done.wait()
    server.stop(0.2).wait(1)
    try:
        os.remove(path)
    except OSError:
        pass
    sys.stderr.flush()
    os._exit(0)
