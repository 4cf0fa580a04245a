"""The dataset archive: deterministic, complete, and safe to extract."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import pytest

from pipeline.archive import ArchiveError, archive_dataset, extract_archive


@pytest.fixture()
def folder(tmp_path) -> Path:
    root = tmp_path / "data"
    for cls in ("b_dog", "a_cat"):
        (root / cls).mkdir(parents=True)
        for i in range(3):
            (root / cls / f"{i}.png").write_bytes(os.urandom(100 + i))
    (root / ".hidden").write_text("left out")
    return root


def _contents(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_archive_round_trip(folder, tmp_path):
    result = archive_dataset(folder, tmp_path / "out" / "data.tar")
    assert result.files == 6
    assert result.bytes == result.path.stat().st_size
    out = extract_archive(result.path, tmp_path / "unpacked")
    expected = {k: v for k, v in _contents(folder).items() if not k.startswith(".")}
    assert _contents(out) == expected


def test_archive_is_byte_identical_regardless_of_time_and_order(folder, tmp_path):
    a = archive_dataset(folder, tmp_path / "a.tar").path.read_bytes()
    for p in folder.rglob("*"):
        os.utime(p, (1_000_000, 1_000_000))
    b = archive_dataset(folder, tmp_path / "b.tar").path.read_bytes()
    assert a == b
    with tarfile.open(tmp_path / "a.tar") as tar:
        names = tar.getnames()
        assert names == sorted(names)
        assert {m.mtime for m in tar.getmembers()} == {0}
        assert {(m.uid, m.gid, m.uname, m.gname) for m in tar.getmembers()} == {(0, 0, "", "")}


def test_missing_folder_is_refused(tmp_path):
    with pytest.raises(ArchiveError, match="nope"):
        archive_dataset(tmp_path / "nope", tmp_path / "x.tar")


def _evil_tar(path: Path, member: tarfile.TarInfo, data: bytes = b"x") -> Path:
    with tarfile.open(path, "w") as tar:
        member.size = len(data) if member.isfile() else 0
        tar.addfile(member, io.BytesIO(data) if member.isfile() else None)
    return path


def _symlink(name: str, target: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = tarfile.SYMTYPE, target
    return info


@pytest.mark.parametrize(
    "member",
    [tarfile.TarInfo("../escape.txt"), tarfile.TarInfo("/abs/escape.txt"), tarfile.TarInfo("a/../../escape.txt"),
     _symlink("link", "/etc/passwd")],
    ids=["dotdot", "absolute", "nested-dotdot", "symlink"],
)
def test_extraction_refuses_members_outside_the_destination(tmp_path, member):
    evil = _evil_tar(tmp_path / "evil.tar", member)
    dst = tmp_path / "sub" / "dst"
    with pytest.raises(ArchiveError, match=f"{evil}.*{member.name}"):
        extract_archive(evil, dst)
    assert not dst.exists()
    assert not (tmp_path / "sub" / "escape.txt").exists()


def test_not_a_tar_is_refused(tmp_path):
    junk = tmp_path / "junk.tar"
    junk.write_bytes(os.urandom(3000))
    with pytest.raises(ArchiveError, match=str(junk)):
        extract_archive(junk, tmp_path / "dst")
