"""Packing the device's dataset folder into one archive: its size is what the device uploads.

The archive is an uncompressed tar (the images are already compressed) written
deterministically: members sorted by path, fixed mtime, owner and mode, so the
same folder gives byte-identical archives on any machine. Extraction refuses
anything that could land outside the destination (absolute paths, ``..``,
links, devices).
"""

from __future__ import annotations

import os
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

#: Fixed metadata of every member, so archives do not depend on who made them or when.
MEMBER_MTIME = 0
FILE_MODE = 0o644
DIR_MODE = 0o755
TAR_FORMAT = tarfile.PAX_FORMAT


class ArchiveError(ValueError):
    """An archive that is refused (unsafe member, not a tar, missing folder); the message names the path."""


@dataclass(frozen=True)
class ArchiveResult:
    """One archive: its path, its size [bytes] and how many regular files it holds."""

    path: Path
    bytes: int
    files: int


def _tarinfo(name: str, *, size: int = 0, is_dir: bool = False) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE if is_dir else tarfile.REGTYPE
    info.size = 0 if is_dir else size
    info.mode = DIR_MODE if is_dir else FILE_MODE
    info.mtime = MEMBER_MTIME
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def archive_dataset(folder: Path | str, dst: Path | str) -> ArchiveResult:
    """Pack ``folder`` into the tar file ``dst`` (deterministic; written atomically) and return its size.

    Members are named relative to ``folder``; hidden entries (names starting
    with ``.``) and symbolic links are left out.
    """
    folder, dst = Path(folder), Path(dst)
    if not folder.is_dir():
        raise ArchiveError(f"dataset folder {folder} does not exist or is not a folder")
    entries: list[tuple[str, Path]] = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and not os.path.islink(os.path.join(dirpath, d)))
        rel = Path(dirpath).relative_to(folder)
        if rel != Path("."):
            entries.append((rel.as_posix(), Path(dirpath)))
        for name in sorted(filenames):
            path = Path(dirpath) / name
            if not name.startswith(".") and path.is_file() and not path.is_symlink():
                entries.append(((rel / name).as_posix(), path))
    entries.sort(key=lambda item: item[0])

    dst.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dst.name}.", suffix=".partial", dir=dst.parent)
    tmp = Path(tmp_name)
    files = 0
    try:
        with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w", format=TAR_FORMAT) as tar:
            for name, path in entries:
                if path.is_dir():
                    tar.addfile(_tarinfo(name, is_dir=True))
                else:
                    with open(path, "rb") as f:
                        tar.addfile(_tarinfo(name, size=os.fstat(f.fileno()).st_size), f)
                    files += 1
        os.replace(tmp, dst)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return ArchiveResult(dst, dst.stat().st_size, files)


def _check_member(archive: Path, member: tarfile.TarInfo) -> None:
    name = PurePosixPath(member.name)
    if name.is_absolute() or ".." in name.parts or member.name.startswith(("/", "\\")):
        raise ArchiveError(f"archive {archive}: member {member.name!r} would land outside the destination")
    if not (member.isfile() or member.isdir()):
        raise ArchiveError(f"archive {archive}: member {member.name!r} is not a regular file or folder (links refused)")


def extract_archive(archive: Path | str, dst: Path | str) -> Path:
    """Unpack the tar ``archive`` into folder ``dst`` (created) and return ``dst``.

    Every member is checked before anything is written: absolute paths, ``..``
    components, links and special files raise :class:`ArchiveError` naming the
    archive and the member. Extraction also uses tarfile's ``data`` filter.
    """
    archive, dst = Path(archive), Path(dst)
    try:
        with tarfile.open(archive, mode="r:") as tar:
            members = tar.getmembers()
            for member in members:
                _check_member(archive, member)
            dst.mkdir(parents=True, exist_ok=True)
            tar.extractall(dst, members=members, filter="data")
    except tarfile.TarError as error:
        raise ArchiveError(f"archive {archive} cannot be read as a tar file: {error}") from None
    return dst
