"""Where an edit may write: regular text files inside the repository, never its ``.git`` folder.

A model names files with paths relative to the repository root. :func:`check_path` turns such a path into
an absolute one, or refuses it with :class:`UnsafePath` saying why: an empty or absolute path, a ``..``
component, any ``.git`` component, a control, format or bidirectional character (a NUL byte among them), a
name too long for a file system, a symlink on the way that leads outside the root, a target that is itself a
symlink or anything but a regular file, or a file that is binary. ``./a/b`` and ``a\\b`` both mean ``a/b``.
Every refusal is an :class:`UnsafePath`; no path, however odd, raises anything else.
"""

from __future__ import annotations

import os
import re
import stat
import unicodedata
from pathlib import Path

#: How much of a file is searched for a NUL byte.
HEAD_BYTES = 8192

_DRIVE = re.compile(r"^[A-Za-z]:")
#: The longest name of one folder or file, and of a whole path, in bytes (what common file systems allow).
NAME_BYTES, PATH_BYTES = 255, 4096
#: Unicode categories never allowed in a path: controls (NUL, ESC, newlines, C1), format characters (the
#: bidirectional overrides), surrogates (bytes that were not UTF-8), line and paragraph separators.
_UNPRINTABLE = {"Cc", "Cf", "Cs", "Zl", "Zp"}


class UnsafePath(Exception):
    """An edit's path that moot will not write to; ``str()`` is ``"path: reason"``."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class BinaryFile(UnsafePath):
    """The path names an existing binary file, which SEARCH/REPLACE edits cannot change."""


def is_binary(path: Path) -> bool:
    """Whether the file at ``path`` is binary: a NUL byte in its first 8 KiB, or not valid UTF-8.

    Args:
        path: an existing regular file.

    Returns:
        True for binary content.

    Raises:
        OSError: the file cannot be read.
    """
    data = path.read_bytes()
    if b"\0" in data[:HEAD_BYTES]:
        return True
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def normalise(rel: str) -> list[str]:
    """The components of a relative path, with backslashes read as slashes and ``.`` / empty parts dropped.

    Args:
        rel: the path as a model wrote it.

    Returns:
        The components, e.g. ``["src", "app.py"]`` for ``./src\\app.py``.

    Raises:
        UnsafePath: the path is empty, absolute, or climbs out with ``..``, enters a ``.git`` folder, holds a
            character that is not printable, or is too long.
    """
    odd = next((c for c in rel if unicodedata.category(c) in _UNPRINTABLE), None)
    if odd is not None:
        what = "a NUL byte" if odd == "\0" else f"the unprintable character U+{ord(odd):04X}"
        raise UnsafePath(_shown(rel), f"the path holds {what}; file names are printable text")
    try:
        size = len(os.fsencode(rel))
    except (UnicodeError, ValueError):
        raise UnsafePath(_shown(rel), "the path cannot be written as a file name on this system") from None
    if size > PATH_BYTES:
        raise UnsafePath(_shown(rel), f"the path is too long ({size} bytes; at most {PATH_BYTES})")
    text = rel.strip()
    if not text:
        raise UnsafePath(rel, "the path is empty")
    if text.startswith(("/", "\\")) or _DRIVE.match(text):
        raise UnsafePath(rel, "absolute paths are not allowed; give a path relative to the repository root")
    parts = [p for p in text.replace("\\", "/").split("/") if p not in ("", ".")]
    if not parts:
        raise UnsafePath(rel, "the path names the repository root, not a file")
    if ".." in parts:
        raise UnsafePath(rel, "'..' is not allowed; paths stay inside the repository")
    if any(p.rstrip(" .").lower() == ".git" for p in parts):
        raise UnsafePath(rel, "files inside .git cannot be edited")
    long = next((p for p in parts if len(os.fsencode(p)) > NAME_BYTES), None)
    if long is not None:
        raise UnsafePath(_shown(rel), f"the name '{_shown(long)}' is too long (at most {NAME_BYTES} bytes)")
    return parts


def _shown(text: str, limit: int = 80) -> str:
    """``text`` safe to show in a message: unprintable characters escaped, cut to ``limit`` characters."""
    out = "".join(c if unicodedata.category(c) not in _UNPRINTABLE else
                  (f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}") for c in text)
    return out if len(out) <= limit else out[:limit - 1] + "…"


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def check_path(root: Path, rel: str) -> Path:
    """The absolute path an edit of ``rel`` may write, after every check.

    Args:
        root: the repository root.
        rel: the path as the model wrote it, relative to ``root``.

    Returns:
        The absolute target path (it may not exist yet: a file to create).

    Raises:
        UnsafePath: the path is refused; ``reason`` says why.
        BinaryFile: the path names an existing binary file (a subclass of UnsafePath).
    """
    try:
        return _check_path(root, rel)
    except UnsafePath:
        raise
    except (OSError, ValueError) as e:  # whatever the checks did not foresee is still a refusal
        raise UnsafePath(_shown(rel), f"cannot be checked: {getattr(e, 'strerror', None) or e}") from None


def _check_path(root: Path, rel: str) -> Path:
    parts = normalise(rel)
    real_root = os.path.realpath(root)
    current = real_root
    for i, part in enumerate(parts):
        current = os.path.join(current, part)
        last = i == len(parts) - 1
        try:
            st = os.lstat(current)
        except FileNotFoundError:
            break  # the rest does not exist yet: a new file (and folders) under a checked parent
        except OSError as e:
            raise UnsafePath(rel, f"cannot be inspected: {e.strerror}") from None
        if stat.S_ISLNK(st.st_mode):
            if not _inside(os.path.realpath(current), real_root):
                raise UnsafePath(rel, f"'{'/'.join(parts[:i + 1])}' is a symlink that leads outside the repository")
            if last:
                raise UnsafePath(rel, "is a symlink; edits change regular files only")
            if not os.path.isdir(current):
                raise UnsafePath(rel, f"'{'/'.join(parts[:i + 1])}' is not a folder")
        elif last:
            if not stat.S_ISREG(st.st_mode):
                kind = "a folder" if stat.S_ISDIR(st.st_mode) else "not a regular file"
                raise UnsafePath(rel, f"is {kind}; edits change regular files only")
        elif not stat.S_ISDIR(st.st_mode):
            raise UnsafePath(rel, f"'{'/'.join(parts[:i + 1])}' is a file, not a folder")
    target = os.path.join(real_root, *parts)
    real_target = os.path.realpath(target)
    if not _inside(real_target, real_root):  # belt and braces: a race, a loop of links
        raise UnsafePath(rel, "leads outside the repository")
    if any(p.rstrip(" .").lower() == ".git" for p in Path(os.path.relpath(real_target, real_root)).parts):
        raise UnsafePath(rel, "leads into .git through a symlink; files inside .git cannot be edited")
    path = Path(target)
    if os.path.lexists(target):
        try:
            binary = is_binary(path)
        except OSError as e:
            raise UnsafePath(rel, f"cannot be read: {e.strerror}") from None
        if binary:
            raise BinaryFile(rel, "is a binary file; SEARCH/REPLACE edits change text files only")
    return path
