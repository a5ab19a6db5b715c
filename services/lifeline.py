"""Child processes die with their parent, whatever kills the parent (kill -9 included).

Without this, a `taskiq worker` supervisor killed with -9 left its worker child running (54 piled up
in one afternoon and used up PostgreSQL's connections), and a stopped web process left its
phone-check pool running. Two mechanisms, chosen by how the child was started:

- `die_with_parent`: Linux's PR_SET_PDEATHSIG. The kernel sends the signal when the *thread* that
  forked the child exits, not its process, so it is only for children forked from a thread that lives
  as long as its process: `cli.py run`'s children (Popen's preexec_fn, from cli.py's main thread) and
  the taskiq worker child (forked by the supervisor's main thread; set in the worker's startup hook).
- `watch_parent`: a daemon thread that polls os.getppid(), for children started from any thread
  (the web process's ProcessPoolExecutor, as its initializer).

Both handle the parent dying before the child got there: the child was then already handed to
another parent (init or a subreaper), so it stops at once.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
import threading
import time

_PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True) if sys.platform == "linux" else None


def original_parent() -> int:
    """The pid of the process that started this one (multiprocessing remembers it across a spawn)."""
    parent = multiprocessing.parent_process()
    return parent.pid if parent is not None and parent.pid else os.getppid()


def die_with_parent(parent_pid: int, sig: int = signal.SIGTERM) -> None:
    """Have the kernel send `sig` to this process when its parent's forking thread ends (Linux).

    Safe in a Popen preexec_fn (no allocation beyond the call). If the parent is already gone,
    this process exits now."""
    if _libc is not None and _libc.prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if os.getppid() != parent_pid:
        os._exit(1)


def watch_parent(interval_s: float = 0.2) -> None:
    """Exit this process within `interval_s` of its parent's end, from a daemon thread."""
    parent_pid = original_parent()

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(interval_s)
        os._exit(1)

    threading.Thread(target=watch, name="lifeline", daemon=True).start()
