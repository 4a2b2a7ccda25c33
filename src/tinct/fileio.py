"""Writing files so that nothing is ever half-written or lost: temporary sibling, fsync,
rename; new files get the permissions any program's files get (0o666 minus the umask, or
those of the file they replace), not the owner-only mode of a temporary file; and temporary
files that a killed process left behind are cleaned by the next run.

Every temporary file tinct writes is hidden and named ``.<final name>.<random>.tmp`` (or,
for films, ``.<final name>.tinct-<random><suffix>``), so :func:`remove_stale_temp_files` can
recognise its own and never touch anything else.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
from contextlib import suppress
from pathlib import Path

# .NAME.RANDOM.tmp (mkstemp's random part is 8 characters) or .NAME.tinct-RANDOM.SUFFIX
TEMP_NAME = re.compile(r"^\..+\.([A-Za-z0-9_]{8}\.tmp|tinct-[A-Za-z0-9_]{8}(\.[A-Za-z0-9]+)?)$")
STALE_AFTER_S = 15 * 60  # a temp file untouched this long belongs to no running write


def new_file_mode(path: Path) -> int:
    """Permissions for a file about to be written at ``path``: those of the file it
    replaces, else 0o666 minus the process's umask."""
    with suppress(OSError):
        return Path(path).stat().st_mode & 0o7777
    umask = 0o022
    with suppress(OSError, ValueError), open("/proc/self/status") as status:
        for line in status:
            if line.startswith("Umask:"):
                umask = int(line.split()[1], 8)
    return 0o666 & ~umask


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Writes ``text`` (UTF-8) to ``path`` via a temporary sibling, fsync and a rename, with
    :func:`new_file_mode` permissions; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = new_file_mode(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with suppress(OSError):
            os.unlink(tmp)
        raise
    return path


def remove_stale_temp_files(folder: str | os.PathLike, recursive: bool = True,
                            older_than_s: float = STALE_AFTER_S) -> list[Path]:
    """Deletes tinct's own temporary files (see :data:`TEMP_NAME`) under ``folder`` that
    have not been touched for ``older_than_s`` seconds (a write in progress touches its file
    continuously); returns what was removed. Finished files are never touched."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    removed = []
    now = time.time()
    walker = os.walk(folder) if recursive else [(str(folder), [], os.listdir(folder))]
    for where, dirnames, names in walker:
        for name in [*names, *dirnames]:
            if not TEMP_NAME.match(name):
                continue
            path = Path(where, name)
            with suppress(OSError):
                st = path.lstat()
                if now - st.st_mtime < older_than_s or path.is_symlink():
                    continue
                if path.is_dir():  # a film's frame folder being written
                    shutil.rmtree(path)
                    if name in dirnames:
                        dirnames.remove(name)
                else:
                    path.unlink()
                removed.append(path)
    return removed
