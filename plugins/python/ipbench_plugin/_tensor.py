"""Tensors on the wire (plugins/wire): little-endian float64 bytes inside the
messages, or byte ranges of the shared memory region the host offers each
Solve call (plugins/wire/shm.go)."""

import bisect
import mmap
import os
import threading

import numpy as np

from . import ipbench_pb2 as pb

F64 = np.dtype("<f8")
F32 = np.dtype("<f4")
DOORBELL_SIZE = 4096  # plugins/wire.DoorbellSize


def encode(a):
    """The tensor message of a float64 array, its numbers in the message."""
    a = np.ascontiguousarray(a, dtype=F64)
    return pb.Tensor(shape=list(a.shape), dtype=pb.FLOAT64, data=a.tobytes())


def shm_tensor(off, n, d):
    """The float64 tensor [n, d] at byte offset off of the region."""
    return pb.Tensor(shape=[n, d], dtype=pb.FLOAT64, shm=pb.ShmRef(offset=off, length=8 * n * d))


def decode(t, shape):
    """Decodes a tensor whose numbers are in the message; shape is the one
    expected (None for any length along that axis). Returns a new array."""
    if t is None:
        raise ValueError("tensor missing")
    got = tuple(t.shape)
    if len(got) != len(shape) or any(w is not None and g != w for g, w in zip(got, shape)) or any(g < 0 for g in got):
        raise ValueError("tensor of shape %s, want %s" % (list(got), ["n" if w is None else w for w in shape]))
    count = int(np.prod(got, dtype=np.int64))
    if t.dtype == pb.FLOAT64:
        dt = F64
    elif t.dtype == pb.FLOAT32:
        dt = F32
    else:
        raise ValueError("tensor dtype %s: want FLOAT32 or FLOAT64" % pb.DType.Name(t.dtype))
    if len(t.data) != dt.itemsize * count:
        raise ValueError("%s tensor of shape %s carries %d bytes, want %d" % (
            pb.DType.Name(t.dtype), list(got), len(t.data), dt.itemsize * count))
    return np.frombuffer(t.data, dtype=dt).astype(np.float64).reshape(got)


class Region:
    """The host's shared memory region of a Solve call, mapped read-write.

    The plugin allocates its working arrays and the inputs and outputs of
    host calls here (first fit, 8-byte aligned, as plugins/wire.Region), so
    that a call carries only offsets and shapes."""

    def __init__(self, path, size):
        fd = os.open(path, os.O_RDWR)
        try:
            st = os.fstat(fd)
            if st.st_size != size:
                raise OSError("shared memory: %s has %d bytes, want %d" % (path, st.st_size, size))
            self.mm = mmap.mmap(fd, size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        finally:
            os.close(fd)
        self.path, self.size = path, size
        self.buf = np.frombuffer(self.mm, dtype=np.uint8)
        self.base = self.buf.ctypes.data
        self._lock = threading.Lock()
        self._offs, self._lens = [], []  # allocated blocks, by offset

    def close(self):
        self._offs, self._lens = [], []
        self.buf = None
        try:
            self.mm.close()
        except BufferError:
            pass  # arrays still refer to it: unmapped when they are gone

    def reset(self):
        """Frees every block."""
        with self._lock:
            self._offs, self._lens = [], []

    def alloc(self, nbytes):
        """Reserves nbytes (rounded up to 8); returns the offset or None."""
        nbytes = (nbytes + 7) & ~7
        with self._lock:
            at = 0
            for i, (off, n) in enumerate(zip(self._offs, self._lens)):
                if off - at >= nbytes:
                    self._offs.insert(i, at)
                    self._lens.insert(i, nbytes)
                    return at
                at = off + n
            if self.size - at >= nbytes:
                self._offs.append(at)
                self._lens.append(nbytes)
                return at
        return None

    def free(self, off):
        with self._lock:
            i = bisect.bisect_left(self._offs, off)
            if i < len(self._offs) and self._offs[i] == off:
                del self._offs[i], self._lens[i]

    def view(self, off, n, d):
        """The float64 array [n, d] at byte offset off, in place."""
        if n < 0 or d < 0 or off < 0 or off % 8 or off + 8 * n * d > self.size:
            raise ValueError("shared memory view of shape [%d %d] at offset %d does not fit the %d-byte region or is unaligned"
                             % (n, d, off, self.size))
        return self.buf[off:off + 8 * n * d].view(np.float64).reshape(n, d)

    def rows(self, n, d):
        """A zeroed float64 array [n, d] in the region, kept until the call
        ends; None when the region is full."""
        off = self.alloc(8 * n * d)
        if off is None:
            return None
        a = self.view(off, n, d)
        a.fill(0)
        return a

    def locate(self, a):
        """The offset of a if it is a C-contiguous float64 [n, d] array that
        lies in the region, else None."""
        if not isinstance(a, np.ndarray) or a.ndim != 2 or a.size == 0 or a.dtype != np.float64 \
                or not a.flags.c_contiguous or self.buf is None:
            return None
        p = a.ctypes.data
        if p < self.base or p + a.nbytes > self.base + self.size or (p - self.base) % 8:
            return None
        return p - self.base

    def put(self, a):
        """The offset of a in the region, copying it into a fresh block when
        it is not there; returns (offset, release) or None when full."""
        off = self.locate(a)
        if off is not None:
            return off, None
        n, d = a.shape
        off = self.alloc(8 * n * d)
        if off is None:
            return None
        self.view(off, n, d)[...] = a
        return off, off

    def tensor(self, t, d):
        """The array [n, d] of a reply tensor: a view into the region for a
        shared-memory tensor, decoded otherwise."""
        if not t.HasField("shm"):
            return decode(t, (None, d))
        if t.dtype != pb.FLOAT64 or len(t.shape) != 2 or t.shape[1] != d or t.shape[0] < 0:
            raise ValueError("shared-memory tensor of shape %s and dtype %s, want [n %d] FLOAT64"
                             % (list(t.shape), pb.DType.Name(t.dtype), d))
        n = t.shape[0]
        if t.shm.length != 8 * n * d:
            raise ValueError("shared-memory tensor of shape %s has %d bytes" % (list(t.shape), t.shm.length))
        return self.view(t.shm.offset, n, d)
