"""Encryption of the device's dataset archive: hybrid RSA-OAEP + chunked AES-256-GCM, and pure RSA for timing.

The study says the device encrypts its dataset "with RSA". RSA-OAEP alone
encrypts at most ``key_bytes - 2 * hash_bytes - 2`` bytes per operation (318
bytes for a 3072-bit key, RFC 8017 sec. 7.1.1), so a real system wraps a fresh
symmetric key with RSA and encrypts the data with it. Hybrid file format::

    header  = MAGIC (8) | version (1) | chunk size [bytes] (4, big endian)
              | nonce prefix (8, random per file) | wrapped key length (2)
              | RSA-OAEP(SHA-256) of the 32-byte AES-256 key
    chunk i = AES-256-GCM(key, nonce = prefix | i (4, big endian),
                          data = plaintext[i * chunk : (i + 1) * chunk],
                          aad = sha256(header) | i (8) | final flag (1)) -- ciphertext and 16-byte tag

Every chunk but the last holds exactly ``chunk size`` plaintext bytes; the last
one (possibly empty) carries the final flag. Binding the header, the index and
the flag into each tag detects a flipped byte anywhere, reordered or dropped
chunks and truncation, also at a chunk boundary. Files are streamed chunk by
chunk: memory stays around two chunks whatever the archive size. Decryption
writes to a temporary file beside the destination and moves it into place only
after the last chunk verified; on any failure the temporary file is deleted.
"""

from __future__ import annotations

import hashlib
import os
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

#: Smallest RSA modulus accepted [bits] (NIST SP 800-57: 3072 bits for 128-bit security beyond 2030).
MIN_RSA_BITS = 3072
DEFAULT_RSA_BITS = 3072
RSA_PUBLIC_EXPONENT = 65537
#: Plaintext bytes per AES-GCM chunk.
DEFAULT_CHUNK_BYTES = 1 << 20
AES_KEY_BYTES = 32
GCM_TAG_BYTES = 16
NONCE_PREFIX_BYTES = 8
MAGIC = b"CBENC\x00\x01\x00"
FORMAT_VERSION = 1
#: MAGIC, version, chunk size, nonce prefix, wrapped-key length.
_FIXED_HEADER = struct.Struct(f">8sBI{NONCE_PREFIX_BYTES}sH")
#: SHA-256 digest size [bytes], the OAEP hash and MGF1 hash.
OAEP_HASH_BYTES = 32
#: Largest chunk size accepted when reading (guards against a forged header asking for huge reads).
MAX_CHUNK_BYTES = 1 << 30


class DecryptionError(ValueError):
    """A ciphertext that cannot be decrypted: wrong key, tampered, truncated or not ours. Names the file."""


@dataclass(frozen=True)
class EncryptResult:
    """One encrypted file: sizes in bytes; ``overhead_bytes`` = ciphertext - plaintext (header + tags)."""

    path: Path
    plaintext_bytes: int
    ciphertext_bytes: int
    overhead_bytes: int
    chunks: int
    chunk_bytes: int


@dataclass(frozen=True)
class DecryptResult:
    """One decrypted file: where the plaintext is and its size [bytes]."""

    path: Path
    plaintext_bytes: int
    chunks: int


def _oaep() -> padding.OAEP:
    return padding.OAEP(mgf=padding.MGF1(algorithm=hashes.SHA256()), algorithm=hashes.SHA256(), label=None)


# --------------------------------------------------------------------------- keys


def generate_keypair(bits: int = DEFAULT_RSA_BITS) -> rsa.RSAPrivateKey:
    """A fresh RSA private key of ``bits`` bits (its ``.public_key()`` is the pair's other half).

    ``bits`` below ``MIN_RSA_BITS`` (3072) raises ``ValueError``.
    """
    if isinstance(bits, bool) or not isinstance(bits, int) or bits < MIN_RSA_BITS:
        raise ValueError(f"RSA key size must be an integer >= {MIN_RSA_BITS} bits, got {bits!r}")
    return rsa.generate_private_key(public_exponent=RSA_PUBLIC_EXPONENT, key_size=bits)


def private_key_to_pem(key: rsa.RSAPrivateKey, password: bytes | None = None) -> bytes:
    """PKCS#8 PEM of a private key, encrypted with ``password`` when given (None: unencrypted).

    An empty ``password`` raises ``ValueError``: it would silently write the key unencrypted.
    """
    if password is not None and (not isinstance(password, bytes) or not password):
        raise ValueError(f"password must be non-empty bytes, or None for an unencrypted key; got {password!r}")
    encryption = (
        serialization.BestAvailableEncryption(password) if password is not None else serialization.NoEncryption()
    )
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)


def write_private_key(path: Path | str, key: rsa.RSAPrivateKey, password: bytes | None = None) -> Path:
    """Write :func:`private_key_to_pem` to a new file ``path`` readable by its owner only (0600).

    The file is created with O_CREAT|O_EXCL|O_NOFOLLOW: an existing file or a
    symlink at ``path`` raises ``FileExistsError`` and is not touched.
    """
    path = Path(path)
    pem = private_key_to_pem(key, password)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            os.fchmod(fh.fileno(), 0o600)  # whatever the umask
            fh.write(pem)
    except BaseException:
        path.unlink(missing_ok=True)  # O_EXCL made it: it is ours, and half a key is no key
        raise
    return path


def public_key_to_pem(key: rsa.RSAPublicKey | rsa.RSAPrivateKey) -> bytes:
    """SubjectPublicKeyInfo PEM of a public key (a private key gives its public half)."""
    if isinstance(key, rsa.RSAPrivateKey):
        key = key.public_key()
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def load_private_key_pem(data: bytes, password: bytes | None = None) -> rsa.RSAPrivateKey:
    """The RSA private key in PEM ``data``; anything else raises ``ValueError``."""
    key = serialization.load_pem_private_key(data, password=password)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError(f"expected an RSA private key, got {type(key).__name__}")
    return key


def load_public_key_pem(data: bytes) -> rsa.RSAPublicKey:
    """The RSA public key in PEM ``data``; anything else raises ``ValueError``."""
    key = serialization.load_pem_public_key(data)
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError(f"expected an RSA public key, got {type(key).__name__}")
    return key


def _check_key_size(key_size: int) -> None:
    if key_size < MIN_RSA_BITS:
        raise ValueError(f"RSA key of {key_size} bits is too small: at least {MIN_RSA_BITS} bits are required")


# --------------------------------------------------------------------------- hybrid, chunked


def ciphertext_overhead(plaintext_bytes: int, key_bits: int = DEFAULT_RSA_BITS, chunk_bytes: int = DEFAULT_CHUNK_BYTES) -> int:
    """Bytes the hybrid format adds to ``plaintext_bytes``: header with the wrapped key, plus one tag per chunk."""
    if plaintext_bytes < 0 or chunk_bytes < 1:
        raise ValueError(f"need plaintext_bytes >= 0 and chunk_bytes >= 1, got {plaintext_bytes!r}, {chunk_bytes!r}")
    chunks = max(1, -(-plaintext_bytes // chunk_bytes))
    return _FIXED_HEADER.size + (key_bits + 7) // 8 + chunks * GCM_TAG_BYTES


def _nonce(prefix: bytes, index: int) -> bytes:
    return prefix + struct.pack(">I", index)


def _aad(header_digest: bytes, index: int, final: bool) -> bytes:
    return header_digest + struct.pack(">QB", index, 1 if final else 0)


def encrypt_file(
    src: Path | str,
    dst: Path | str,
    public_key: rsa.RSAPublicKey,
    *,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
) -> EncryptResult:
    """Encrypt file ``src`` into ``dst`` (hybrid format above) for the holder of ``public_key``'s private half.

    A fresh AES-256 key and nonce prefix are drawn per call. ``dst`` appears
    only once complete (temporary file + ``os.replace``).
    """
    src, dst = Path(src), Path(dst)
    _check_key_size(public_key.key_size)
    if not 1 <= chunk_bytes <= MAX_CHUNK_BYTES or chunk_bytes >= 1 << 32:
        raise ValueError(f"chunk_bytes must be in [1, {MAX_CHUNK_BYTES}], got {chunk_bytes!r}")
    if chunk_bytes * (1 << 32) < src.stat().st_size:
        raise ValueError(f"{src} is too large for chunk_bytes={chunk_bytes} (at most 2**32 chunks)")
    key = AESGCM.generate_key(bit_length=8 * AES_KEY_BYTES)
    prefix = os.urandom(NONCE_PREFIX_BYTES)
    wrapped = public_key.encrypt(key, _oaep())
    header = _FIXED_HEADER.pack(MAGIC, FORMAT_VERSION, chunk_bytes, prefix, len(wrapped)) + wrapped
    header_digest = hashlib.sha256(header).digest()
    aes = AESGCM(key)

    plaintext_bytes = chunks = 0
    with _staged_output(dst) as (out, _):
        out.write(header)
        with open(src, "rb") as f:
            block = f.read(chunk_bytes)
            while True:
                following = f.read(chunk_bytes) if len(block) == chunk_bytes else b""
                final = not following
                out.write(aes.encrypt(_nonce(prefix, chunks), block, _aad(header_digest, chunks, final)))
                plaintext_bytes += len(block)
                chunks += 1
                if final:
                    break
                block = following
    ciphertext_bytes = dst.stat().st_size
    return EncryptResult(dst, plaintext_bytes, ciphertext_bytes, ciphertext_bytes - plaintext_bytes, chunks, chunk_bytes)


class _staged_output:
    """Context manager: a temporary file beside ``dst``, moved onto ``dst`` on success, deleted on failure."""

    def __init__(self, dst: Path) -> None:
        self.dst = dst

    def __enter__(self):
        self.dst.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f".{self.dst.name}.", suffix=".partial", dir=self.dst.parent)
        self.tmp = Path(name)
        self.handle = os.fdopen(fd, "wb")
        return self.handle, self.tmp

    def __exit__(self, exc_type, exc, tb) -> bool:
        try:
            self.handle.close()
            if exc_type is None:
                os.replace(self.tmp, self.dst)
        finally:
            if exc_type is not None or self.tmp.exists():
                self.tmp.unlink(missing_ok=True)
        return False


def decrypt_file(src: Path | str, dst: Path | str, private_key: rsa.RSAPrivateKey) -> DecryptResult:
    """Decrypt ``src`` (written by :func:`encrypt_file`) into ``dst`` with ``private_key``.

    Raises :class:`DecryptionError` naming ``src`` for a wrong key, a file that
    is not in this format, a flipped byte anywhere, reordered, missing or extra
    chunks and truncation. ``dst`` is created only when every chunk verified;
    nothing is left behind otherwise (an existing ``dst`` is not touched).
    """
    src, dst = Path(src), Path(dst)
    try:
        with open(src, "rb") as f, _staged_output(dst) as (out, _):
            fixed = f.read(_FIXED_HEADER.size)
            if len(fixed) != _FIXED_HEADER.size:
                raise DecryptionError(f"{src}: too short for an encrypted archive header (truncated?)")
            magic, version, chunk_bytes, prefix, wrapped_len = _FIXED_HEADER.unpack(fixed)
            if magic != MAGIC or version != FORMAT_VERSION:
                raise DecryptionError(f"{src}: not an encrypted archive of format version {FORMAT_VERSION} (bad magic)")
            if not 1 <= chunk_bytes <= MAX_CHUNK_BYTES:
                raise DecryptionError(f"{src}: corrupt header (chunk size {chunk_bytes})")
            if wrapped_len != (private_key.key_size + 7) // 8:
                raise DecryptionError(
                    f"{src}: wrapped key is {wrapped_len} bytes but the private key is {private_key.key_size} bits "
                    "(wrong key or corrupt header)"
                )
            wrapped = f.read(wrapped_len)
            if len(wrapped) != wrapped_len:
                raise DecryptionError(f"{src}: truncated in the header")
            try:
                key = private_key.decrypt(wrapped, _oaep())
            except ValueError:
                raise DecryptionError(f"{src}: cannot unwrap the AES key: wrong private key or tampered header") from None
            if len(key) != AES_KEY_BYTES:
                raise DecryptionError(f"{src}: unwrapped key has {len(key)} bytes, expected {AES_KEY_BYTES}")
            header_digest = hashlib.sha256(fixed + wrapped).digest()
            aes = AESGCM(key)
            record = chunk_bytes + GCM_TAG_BYTES
            plaintext_bytes = index = 0
            block = f.read(record)
            while True:
                following = f.read(record) if len(block) == record else b""
                final = not following
                if len(block) < GCM_TAG_BYTES:
                    raise DecryptionError(f"{src}: truncated (chunk {index} is shorter than its tag)")
                if index >= 1 << 32:
                    raise DecryptionError(f"{src}: too many chunks")
                try:
                    plain = aes.decrypt(_nonce(prefix, index), block, _aad(header_digest, index, final))
                except InvalidTag:
                    raise DecryptionError(
                        f"{src}: chunk {index} failed authentication (tampered, reordered or truncated ciphertext)"
                    ) from None
                out.write(plain)
                plaintext_bytes += len(plain)
                index += 1
                if final:
                    break
                block = following
    except OSError as error:
        raise DecryptionError(f"{src}: cannot decrypt: {error}") from error
    return DecryptResult(dst, plaintext_bytes, index)


# --------------------------------------------------------------------------- pure RSA (for timing only)

#: Start of every pure-RSA block's OAEP label; the block's index and the block count follow.
RSA_BLOCK_LABEL = b"continuum-bench pure RSA block"
#: Shared by every block's padding: only the label differs, so the timed loop builds no more than it must.
_SHA256 = hashes.SHA256()
_MGF1_SHA256 = padding.MGF1(algorithm=_SHA256)


def _block_oaep(index: int, total: int) -> padding.OAEP:
    """OAEP(SHA-256) whose label names block ``index`` of ``total``: a block decrypts only in its place
    of a sequence of that length (RFC 8017 sec. 7.1.2 checks the label's hash), at no extra ciphertext byte."""
    return padding.OAEP(mgf=_MGF1_SHA256, algorithm=_SHA256, label=RSA_BLOCK_LABEL + struct.pack(">QQ", index, total))


def rsa_block_bytes(key_bits: int) -> int:
    """Largest plaintext per RSA-OAEP(SHA-256) operation [bytes]: ``k - 2 * 32 - 2`` (RFC 8017 sec. 7.1.1)."""
    return (key_bits + 7) // 8 - 2 * OAEP_HASH_BYTES - 2


def rsa_encrypt_blocks(data: bytes, public_key: rsa.RSAPublicKey) -> bytes:
    """Encrypt ``data`` with RSA-OAEP alone, block by block (the study's wording; slow, for timing).

    Output: one ``key_bytes`` ciphertext block per ``rsa_block_bytes`` of input
    (at least one, so empty input round-trips). Each block's OAEP label holds
    its index and the block count, so :func:`rsa_decrypt_blocks` refuses
    reordered, dropped, duplicated or appended blocks. Not bound: which message
    a block came from (a block can be swapped with the block at the same place
    of another message of as many blocks under the same key), nor who sent it:
    OAEP encrypts, it does not authenticate. The hybrid format of
    :func:`encrypt_file` is the one to protect data with.
    """
    _check_key_size(public_key.key_size)
    step = rsa_block_bytes(public_key.key_size)
    blocks = [data[i:i + step] for i in range(0, len(data), step)] or [b""]
    return b"".join(public_key.encrypt(block, _block_oaep(i, len(blocks))) for i, block in enumerate(blocks))


def rsa_decrypt_blocks(ciphertext: bytes, private_key: rsa.RSAPrivateKey) -> bytes:
    """Inverse of :func:`rsa_encrypt_blocks`.

    Raises :class:`DecryptionError` for a wrong key, a tampered block, and
    blocks reordered, dropped, duplicated or appended (each block's label names
    its place and the count); see :func:`rsa_encrypt_blocks` for what is not bound.
    """
    size = (private_key.key_size + 7) // 8
    if len(ciphertext) % size or not ciphertext:
        raise DecryptionError(f"RSA ciphertext of {len(ciphertext)} bytes is not a whole number of {size}-byte blocks")
    total = len(ciphertext) // size
    out = []
    for index in range(total):
        try:
            out.append(private_key.decrypt(ciphertext[index * size:(index + 1) * size], _block_oaep(index, total)))
        except ValueError:
            raise DecryptionError(
                f"RSA block {index} of {total} cannot be decrypted: wrong private key, tampered data, or blocks "
                "reordered, dropped, duplicated or appended") from None
    return b"".join(out)


def rsa_ciphertext_overhead(plaintext_bytes: int, key_bits: int = DEFAULT_RSA_BITS) -> int:
    """Bytes pure block-by-block RSA adds to ``plaintext_bytes`` (OAEP padding of every block)."""
    blocks = max(1, -(-plaintext_bytes // rsa_block_bytes(key_bits)))
    return blocks * ((key_bits + 7) // 8) - plaintext_bytes

