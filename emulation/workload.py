"""A CPU-bound workload that shows what a profile's CPU limits allow (the tests and ``measure``).

    cpu_bound_threads(1.5)["cpu_per_wall"]   # <= 1 under device, <= 0.5 with cpu_quota=0.5
"""

from __future__ import annotations

import hashlib
import os
import threading
import time

#: Buffer hashed per step of cpu_bound_threads [B]; hashlib releases the GIL above 2 KiB.
WORKLOAD_BUFFER_BYTES = 4 * 1024**2


def cpu_bound_threads(duration_s: float, n_threads: int = 2) -> dict:
    """Run ``n_threads`` GIL-free sha256 loops for ``duration_s`` [s]; the process's CPU time and wall time [s].

    ``cpu_per_wall`` [CPU-s/s] is what a profile limits: at most its CPU count,
    or its quota; ``bytes_per_s`` [B/s] is the work done.
    """
    buf = os.urandom(WORKLOAD_BUFFER_BYTES)
    stop = time.perf_counter() + duration_s
    done = [0] * n_threads

    def loop(i: int) -> None:
        while time.perf_counter() < stop:
            hashlib.sha256(buf).digest()
            done[i] += 1

    cpu0, wall0 = time.process_time(), time.perf_counter()
    workers = [threading.Thread(target=loop, args=(i,)) for i in range(n_threads)]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    return {"threads": n_threads, "cpu_s": cpu, "wall_s": wall, "cpu_per_wall": cpu / wall,
            "bytes_per_s": sum(done) * WORKLOAD_BUFFER_BYTES / wall}
