"""One process at a time per run folder: a lock file that the operating system releases."""

import datetime
import errno
import json
import os
import socket
import sys
import time
import warnings

from keras_gahb.runs.errors import RunFolderBusyError
from keras_gahb.runs.layout import LOCK_FILE

try:
    import fcntl
except ImportError:  # Windows: the lock falls back to the process id in the file
    fcntl = None


class RunLock:
    """Hold the lock of a run folder for the duration of a `with` block.

    The lock is `run_dir/.lock`, locked with `flock` (so the operating system
    releases it when its process ends, however it ends) and holding the
    holder's process id, host and start time. A second process on the same
    folder raises `RunFolderBusyError` at once, naming the folder and the
    holder's process id, or with `wait=True` waits until the folder is free. A
    lock file left by a process that no longer holds it (killed) is taken
    over with a warning. Where the filesystem has no `flock` (some network
    filesystems), the process id in the file decides: a live process on this
    host holds the folder, a dead one left a stale lock.

    The folder is created if needed; a folder created by the lock and still
    empty when it is released (the command was refused later) is removed.

    Args:
        run_dir: the run folder.
        wait: wait for the holder to release it instead of raising. Default False.
        timeout: with `wait`, the most seconds to wait (None: no limit).
        poll: seconds between attempts while waiting. Default 0.5.
        verbose: with `wait`, say once (stderr) that the process waits. Default 1.

    Example:

    >>> with keras_gahb.runs.RunLock("runs/faces"):
    ...     ...  # only this process writes runs/faces
    """

    def __init__(self, run_dir, wait=False, timeout=None, poll=0.5, verbose=1):
        self.run_dir = os.fspath(run_dir)
        self.wait = bool(wait)
        self.timeout = timeout
        self.poll = float(poll)
        self.verbose = verbose
        self.path = os.path.join(self.run_dir, LOCK_FILE)
        self._fd = None
        self._created = False

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()

    @property
    def held(self):
        """Whether this object holds the lock."""
        return self._fd is not None

    def acquire(self):
        """Take the lock (waiting with `wait`); returns self."""
        if self.held:
            return self
        start, announced = time.monotonic(), False
        while True:
            if not os.path.isdir(self.run_dir):  # (again: a holder that created it removes it)
                os.makedirs(self.run_dir, exist_ok=True)
                self._created = True
            try:
                holder = self._try()
            except FileNotFoundError:  # the folder went between the check and the open
                continue
            if holder is None:
                return self
            if not self.wait or (self.timeout is not None
                                 and time.monotonic() - start > self.timeout):
                self._remove_created_folder()
                raise RunFolderBusyError(self.run_dir, holder)
            if self.verbose and not announced:
                print(f"Waiting for process {holder.get('pid', 'unknown')} to release "
                      f"{self.run_dir} ...", file=sys.stderr, flush=True)
                announced = True
            time.sleep(self.poll)

    def release(self):
        """Release the lock (and remove the lock file); harmless when not held."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            if _same_file(fd, self.path):
                os.remove(self.path)
        except OSError:
            pass
        finally:
            os.close(fd)  # releases the flock
        self._remove_created_folder()

    def _try(self):
        """Take the lock and return None, or return the holder's record when it is taken."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            if fcntl is not None:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError as error:
                    if error.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                        holder = _read(fd)
                        os.close(fd)
                        return holder or {"pid": "unknown"}
                    if error.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS):
                        raise
                    holder = _read(fd)  # no flock here: the process id decides
                    if _alive(holder):
                        os.close(fd)
                        return holder
                if not _same_file(fd, self.path):  # removed by a releasing holder: retry
                    os.close(fd)
                    return self._try()
            else:
                holder = _read(fd)
                if _alive(holder):
                    os.close(fd)
                    return holder
            previous = _read(fd)
            if previous and previous.get("pid") != os.getpid():
                warnings.warn(
                    f"{self.run_dir}: taking over the lock of process {previous.get('pid')}"
                    f"{' (since ' + previous['since'] + ')' if previous.get('since') else ''}, "
                    "which no longer runs (it was killed or crashed); its last saved epoch is kept.",
                    stacklevel=4,
                )
            record = json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                                 "since": datetime.datetime.now().isoformat(timespec="seconds"),
                                 "command": " ".join(sys.argv)[:300]}) + "\n"
            os.ftruncate(fd, 0)
            os.pwrite(fd, record.encode(), 0)
        except BaseException:
            try:
                os.close(fd)
            except OSError:
                pass
            raise
        self._fd = fd
        return None

    def _remove_created_folder(self):
        if self._created:
            self._created = False
            try:
                os.rmdir(self.run_dir)  # only when empty: a refused command leaves nothing
            except OSError:
                pass


def lock_holder(run_dir):
    """The record of the process holding the lock of `run_dir` ({"pid", "host", "since"}), or None.

    Example:

    >>> keras_gahb.runs.lock_holder("runs/faces")
    {'pid': 4242, 'host': 'laptop', 'since': '2025-01-01T12:00:00', 'command': 'gahb train ...'}
    """
    path = os.path.join(os.fspath(run_dir), LOCK_FILE)
    try:
        fd = os.open(path, os.O_RDWR)
    except OSError:
        return None
    try:
        holder = _read(fd)
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except OSError as error:
                if error.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    return holder or {"pid": "unknown"}
                return holder if _alive(holder) else None
            return None  # nobody holds it: a stale file
        return holder if _alive(holder) else None
    finally:
        os.close(fd)


def _read(fd):
    try:
        text = os.pread(fd, 4096, 0).decode("utf-8", "replace").strip()
        return json.loads(text) if text else {}
    except (OSError, ValueError):
        return {}


def _alive(holder):
    """Whether the holder's process runs (on this host; another host's lock counts as held)."""
    pid = holder.get("pid") if holder else None
    if not isinstance(pid, int):
        return False
    if holder.get("host") not in (None, socket.gethostname()):
        return True
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _same_file(fd, path):
    try:
        return os.fstat(fd).st_ino == os.stat(path).st_ino
    except OSError:
        return False
