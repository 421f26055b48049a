"""What can go wrong with a run folder, as exceptions whose message is the one line a user sees."""

import errno
import os


class RunFolderBusyError(RuntimeError):
    """Another process holds the lock of the run folder.

    Attributes:
        run_dir: the folder.
        holder: what the lock file says about its holder ({"pid", "host", "since"}),
            or {} when it could not be read.
    """

    def __init__(self, run_dir, holder):
        self.run_dir, self.holder = os.fspath(run_dir), dict(holder or {})
        pid = self.holder.get("pid", "unknown")
        where = f" on {self.holder['host']}" if self.holder.get("host") else ""
        since = f" since {self.holder['since']}" if self.holder.get("since") else ""
        super().__init__(
            f"{self.run_dir} is in use by process {pid}{where}{since}; wait for it to finish, "
            "or pass --wait (wait=True) to start when it does."
        )


class NoSpaceLeftError(OSError):
    """The disk filled while a run wrote `path`; the run can resume from `epoch` (0: from the start).

    An OSError with errno ENOSPC whose message is one line: which file, and
    which epoch a rerun resumes from once there is room.
    """

    def __init__(self, path, epoch, needed=None, free=None):
        self.path, self.epoch = os.fspath(path), int(epoch)
        if self.epoch:
            resume = f"the run can resume from epoch {self.epoch} once there is room"
        else:
            resume = "no epoch of the run is saved yet; it can start once there is room"
        sizes = ""
        if needed is not None and free is not None:
            sizes = f" ({_size(needed)} needed, {_size(free)} free)"
        super().__init__(f"no space left on device while writing {self.path}; {resume}{sizes}")
        self.errno = errno.ENOSPC
        self.filename = self.path

    def __str__(self):
        return self.args[0]

    def __reduce__(self):
        return type(self), (self.path, self.epoch)


class DamagedCheckpointError(ValueError):
    """No checkpoint of the run folder is intact: the message names each one and what to do.

    Attributes:
        run_dir: the folder.
        damaged: [(path, reason)] of every checkpoint tried, newest first.
    """

    def __init__(self, run_dir, damaged):
        self.run_dir, self.damaged = os.fspath(run_dir), list(damaged)
        files = "; ".join(f"{path}: {reason}" for path, reason in self.damaged) or "none found"
        super().__init__(
            f"{self.run_dir} has no intact checkpoint to resume from ({files}). Rerun with "
            "--restart (restart=True) to train this run again from epoch 0 (it deletes the trained "
            "epochs), or put back an intact copy of the files."
        )


def _size(num_bytes):
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if num_bytes < 1024 or unit == "GiB":
            return f"{num_bytes:.0f} {unit}" if unit == "bytes" else f"{num_bytes:.1f} {unit}"
        num_bytes /= 1024
