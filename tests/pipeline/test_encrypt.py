"""Hybrid RSA-OAEP + chunked AES-256-GCM encryption of the dataset archive, and pure block-by-block RSA."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pipeline.encrypt import (
    AES_KEY_BYTES,
    DecryptionError,
    GCM_TAG_BYTES,
    ciphertext_overhead,
    decrypt_file,
    encrypt_file,
    generate_keypair,
    load_private_key_pem,
    load_public_key_pem,
    private_key_to_pem,
    public_key_to_pem,
    rsa_block_bytes,
    rsa_ciphertext_overhead,
    rsa_decrypt_blocks,
    rsa_encrypt_blocks,
    write_private_key,
)

#: Small chunks so a few kB exercise many chunks.
CHUNK = 1024
#: 3072-bit key: header = 23 fixed bytes + 384 wrapped-key bytes.
HEADER_BYTES = 23 + 384


@pytest.fixture(scope="module")
def key():
    return generate_keypair()


@pytest.fixture(scope="module")
def other_key():
    return generate_keypair()


@pytest.fixture()
def plaintext(tmp_path) -> Path:
    path = tmp_path / "archive.tar"
    path.write_bytes(os.urandom(5 * CHUNK + 123))
    return path


@pytest.fixture()
def ciphertext(plaintext, key, tmp_path) -> Path:
    return encrypt_file(plaintext, tmp_path / "archive.tar.enc", key.public_key(), chunk_bytes=CHUNK).path


def _refused(src: Path, key, tmp_path: Path, match: str = "") -> None:
    dst = tmp_path / "out" / "plain.tar"
    with pytest.raises(DecryptionError, match=str(src)) as info:
        decrypt_file(src, dst, key)
    assert match in str(info.value)
    assert not dst.exists()
    assert list(dst.parent.iterdir()) == []  # no partial plaintext, no temporary file


def _flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, 3 * CHUNK, 3 * CHUNK + 7], ids=lambda n: f"bytes={n}")
def test_round_trip(key, tmp_path, size):
    src = tmp_path / "plain"
    src.write_bytes(os.urandom(size))
    enc = encrypt_file(src, tmp_path / "enc", key.public_key(), chunk_bytes=CHUNK)
    chunks = max(1, -(-size // CHUNK))  # an exact multiple ends with a full final chunk, not an empty one
    assert enc.plaintext_bytes == size
    assert enc.chunks == chunks
    assert enc.overhead_bytes == enc.ciphertext_bytes - size == HEADER_BYTES + chunks * GCM_TAG_BYTES
    assert enc.overhead_bytes == ciphertext_overhead(size, 3072, CHUNK)
    dec = decrypt_file(enc.path, tmp_path / "dec", key)
    assert dec.plaintext_bytes == size
    assert (tmp_path / "dec").read_bytes() == src.read_bytes()


def test_each_encryption_uses_a_fresh_key_and_nonce(plaintext, key, tmp_path):
    a = encrypt_file(plaintext, tmp_path / "a", key.public_key(), chunk_bytes=CHUNK).path.read_bytes()
    b = encrypt_file(plaintext, tmp_path / "b", key.public_key(), chunk_bytes=CHUNK).path.read_bytes()
    assert a[:8] == b[:8] and a[8 + 1 + 4:8 + 1 + 4 + 8] != b[8 + 1 + 4:8 + 1 + 4 + 8]
    assert a[HEADER_BYTES:] != b[HEADER_BYTES:]


def test_wrong_private_key_is_refused(ciphertext, other_key, tmp_path):
    _refused(ciphertext, other_key, tmp_path, "wrong private key")


@pytest.mark.parametrize(
    "where",
    ["magic", "chunk-size", "nonce-prefix", "wrapped-key", "first-chunk", "middle-chunk", "last-tag"],
)
def test_a_flipped_byte_anywhere_is_detected(ciphertext, key, tmp_path, where):
    size = ciphertext.stat().st_size
    offset = {
        "magic": 0,
        "chunk-size": 11,
        "nonce-prefix": 14,
        "wrapped-key": 100,
        "first-chunk": HEADER_BYTES + 5,
        "middle-chunk": HEADER_BYTES + 2 * (CHUNK + GCM_TAG_BYTES) + 17,
        "last-tag": size - 1,
    }[where]
    _flip(ciphertext, offset)
    _refused(ciphertext, key, tmp_path)


@pytest.mark.parametrize("keep", ["header-only", "half-header", "chunk-boundary", "mid-chunk", "one-byte-short"])
def test_truncation_is_detected(ciphertext, key, tmp_path, keep):
    data = ciphertext.read_bytes()
    record = CHUNK + GCM_TAG_BYTES
    length = {
        "header-only": HEADER_BYTES,
        "half-header": HEADER_BYTES // 2,
        "chunk-boundary": HEADER_BYTES + 3 * record,  # whole chunks, only the final one missing
        "mid-chunk": HEADER_BYTES + 2 * record + 100,
        "one-byte-short": len(data) - 1,
    }[keep]
    ciphertext.write_bytes(data[:length])
    _refused(ciphertext, key, tmp_path)


def test_appended_data_is_detected(ciphertext, key, tmp_path):
    ciphertext.write_bytes(ciphertext.read_bytes() + b"\x00" * (CHUNK + GCM_TAG_BYTES))
    _refused(ciphertext, key, tmp_path)


def test_reordered_chunks_are_detected(ciphertext, key, tmp_path):
    data = ciphertext.read_bytes()
    record = CHUNK + GCM_TAG_BYTES
    header, body = data[:HEADER_BYTES], data[HEADER_BYTES:]
    chunks = [body[i:i + record] for i in range(0, len(body), record)]
    chunks[1], chunks[2] = chunks[2], chunks[1]
    ciphertext.write_bytes(header + b"".join(chunks))
    _refused(ciphertext, key, tmp_path, "chunk 1")


def test_failed_decryption_keeps_an_existing_destination(ciphertext, key, other_key, tmp_path):
    dst = tmp_path / "keep.tar"
    dst.write_bytes(b"previous")
    with pytest.raises(DecryptionError):
        decrypt_file(ciphertext, dst, other_key)
    assert dst.read_bytes() == b"previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["archive.tar", "archive.tar.enc", "keep.tar"]


def test_not_our_format_is_refused(tmp_path, key):
    junk = tmp_path / "junk"
    junk.write_bytes(os.urandom(2000))
    _refused(junk, key, tmp_path, "bad magic")


def test_missing_file_is_a_decryption_error(tmp_path, key):
    with pytest.raises(DecryptionError, match="nope"):
        decrypt_file(tmp_path / "nope", tmp_path / "out", key)


def test_keys_round_trip_through_pem(key, tmp_path, plaintext):
    private = load_private_key_pem(private_key_to_pem(key, password=b"pw"), password=b"pw")
    public = load_public_key_pem(public_key_to_pem(key))
    enc = encrypt_file(plaintext, tmp_path / "enc", public, chunk_bytes=CHUNK)
    decrypt_file(enc.path, tmp_path / "dec", private)
    assert (tmp_path / "dec").read_bytes() == plaintext.read_bytes()
    assert b"ENCRYPTED" in private_key_to_pem(key, password=b"pw")


@pytest.mark.parametrize("bits", [1024, 2048, 3071, "3072"], ids=str)
def test_small_or_odd_key_sizes_are_refused(bits):
    with pytest.raises(ValueError, match="3072"):
        generate_keypair(bits)


def test_aes_key_is_256_bits():
    assert AES_KEY_BYTES * 8 == 256


# --------------------------------------------------------------------------- pure RSA


def test_rsa_block_size_follows_oaep_sha256():
    assert rsa_block_bytes(3072) == 384 - 2 * 32 - 2 == 318
    assert rsa_block_bytes(4096) == 446


@pytest.mark.parametrize("size", [0, 1, 318, 319, 1000], ids=lambda n: f"bytes={n}")
def test_rsa_blocks_round_trip(key, size):
    data = os.urandom(size)
    ciphertext = rsa_encrypt_blocks(data, key.public_key())
    assert len(ciphertext) == max(1, -(-size // 318)) * 384
    assert len(ciphertext) - size == rsa_ciphertext_overhead(size)
    assert rsa_decrypt_blocks(ciphertext, key) == data


def test_rsa_blocks_refuse_wrong_key_and_tampering(key, other_key):
    ciphertext = bytearray(rsa_encrypt_blocks(b"secret" * 100, key.public_key()))
    with pytest.raises(DecryptionError, match="block 0"):
        rsa_decrypt_blocks(bytes(ciphertext), other_key)
    ciphertext[400] ^= 1
    with pytest.raises(DecryptionError, match="block 1"):
        rsa_decrypt_blocks(bytes(ciphertext), key)
    with pytest.raises(DecryptionError, match="whole number"):
        rsa_decrypt_blocks(bytes(ciphertext[:-1]), key)


def _blocks(ciphertext: bytes, size: int = 384) -> list[bytes]:
    return [ciphertext[i:i + size] for i in range(0, len(ciphertext), size)]


@pytest.mark.parametrize("change", ["swap", "drop last", "drop first", "duplicate", "append a block of another message"])
def test_rsa_blocks_refuse_reordered_dropped_or_duplicated_blocks(key, change):
    """Each block decrypts only in its own place of a sequence of its length."""
    data = bytes(range(256)) * 4  # 1024 bytes: 4 blocks of 318
    blocks = _blocks(rsa_encrypt_blocks(data, key.public_key()))
    assert len(blocks) == 4
    forged = {
        "swap": [blocks[1], blocks[0], *blocks[2:]],
        "drop last": blocks[:-1],
        "drop first": blocks[1:],
        "duplicate": [*blocks, blocks[-1]],
        "append a block of another message": [*blocks, _blocks(rsa_encrypt_blocks(b"x" * 400, key.public_key()))[1]],
    }[change]
    with pytest.raises(DecryptionError, match=r"RSA block \d+ of \d+ cannot be decrypted.*reordered, dropped"):
        rsa_decrypt_blocks(b"".join(forged), key)


def test_an_empty_password_is_refused_not_an_unencrypted_key(key):
    with pytest.raises(ValueError, match="non-empty bytes"):
        private_key_to_pem(key, password=b"")
    assert b"ENCRYPTED" not in private_key_to_pem(key)  # None: unencrypted, and said so


def test_a_private_key_file_is_owner_only_and_never_written_through_a_symlink(key, tmp_path):
    path = write_private_key(tmp_path / "key.pem", key, password=b"pw")
    assert path.stat().st_mode & 0o777 == 0o600
    assert load_private_key_pem(path.read_bytes(), password=b"pw").private_numbers() == key.private_numbers()
    victim = tmp_path / "victim"
    victim.write_text("precious")
    (tmp_path / "planted.pem").symlink_to(victim)
    with pytest.raises(FileExistsError):
        write_private_key(tmp_path / "planted.pem", key)
    with pytest.raises(FileExistsError):
        write_private_key(path, key)
    assert victim.read_text() == "precious"
