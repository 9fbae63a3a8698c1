"""The doorbell of plugins/wire/doorbell.go: model calls rung in the first
4096 bytes of the shared memory region and a futex on that memory, without
gRPC. The host answers them on the session's counted model, exactly as the
Model service would.

Layout (little endian, offsets in bytes):

    0  uint32 seq      request number, advanced by the plugin
    4  uint32 done     last request answered, set by the host
    8  uint32 stop     (the host's)
   12  uint32 op       1 Denoise, 2 VJP, 3 DenoiseEPS, 4 Restore
   16  float64 sigma
   24  uint64 n
   32  uint64 d
   40  uint64 x        offset of x
   48  uint64 v        offset of v, or 2^64 - 1
   56  uint64 out      offset of the output
   64  uint32 status   0 ok, 1 error
   68  uint32 errlen
   72  the error message

The plugin writes the operands, then seq (publishing them), and wakes the
host with FUTEX_WAKE on seq; it sleeps with FUTEX_WAIT on done until done
equals seq. Only on x86-64 here: its stores are not reordered, so writing
the operands before seq through the mapped memory publishes them as Go's
atomic store does; elsewhere the Model service is used.
"""

import ctypes
import platform
import sys

import numpy as np

OP_DENOISE, OP_VJP, OP_DENOISE_EPS, OP_RESTORE = 1, 2, 3, 4
NO_V = (1 << 64) - 1
_SYS_FUTEX = {"x86_64": 202, "amd64": 202}.get(platform.machine().lower())
_FUTEX_WAIT, _FUTEX_WAKE = 0, 1  # not private: the word is shared between processes


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


_syscall = None
if sys.platform.startswith("linux") and _SYS_FUTEX is not None:
    try:
        _syscall = ctypes.CDLL(None, use_errno=True).syscall  # releases the GIL while it blocks
        _syscall.restype = ctypes.c_long
    except (OSError, AttributeError):
        _syscall = None

SUPPORTED = _syscall is not None
_WAIT = _Timespec(0, 50_000_000)  # wake every 50 ms to see whether the call is still wanted


def _wait(addr, val):
    _syscall(_SYS_FUTEX, ctypes.c_void_p(addr), _FUTEX_WAIT, ctypes.c_uint32(val), ctypes.byref(_WAIT), None, 0)


def _wake(addr):
    _syscall(_SYS_FUTEX, ctypes.c_void_p(addr), _FUTEX_WAKE, 1 << 30, None, None, 0)


class DoorbellError(RuntimeError):
    pass


class Doorbell:
    """The doorbell at offset 0 of a region whose first 4096 bytes the
    plugin has reserved."""

    def __init__(self, region):
        self.mm = region.mm
        head = region.buf[:4096]
        self.u32 = head.view("<u4")
        self.u64 = head.view("<u8")
        self.f64 = head.view("<f8")
        self.addr = region.base

    def ring(self, op, sigma, n, d, x, v, out, alive=None):
        """Makes one call and waits for the host's answer; alive, if given,
        is asked every 50 ms whether to keep waiting."""
        u32, u64 = self.u32, self.u64
        u64[3] = n
        u64[4] = d
        u64[5] = x
        u64[6] = NO_V if v is None else v
        u64[7] = out
        self.f64[2] = sigma
        u32[3] = op
        seq = (int(u32[0]) + 1) & 0xFFFFFFFF
        u32[0] = seq  # publishes the fields above
        _wake(self.addr)
        while True:
            done = int(u32[1])
            if done == seq:
                break
            if alive is not None and not alive():
                raise DoorbellError("doorbell: the call was abandoned by the host")
            _wait(self.addr + 4, done)
        if u32[16] != 0:
            k = min(int(u32[17]), 4096 - 72)
            raise DoorbellError(bytes(self.mm[72:72 + k]).decode("utf-8", "replace"))


def reserve(region):
    """Reserves the doorbell block, the first allocation after a reset;
    returns whether it got offset 0."""
    off = region.alloc(4096)
    if off == 0:
        return True
    if off is not None:
        region.free(off)
    return False


def available():
    return SUPPORTED and np.little_endian
