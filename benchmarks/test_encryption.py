"""Encrypting the device's dataset archive before upload, and decrypting it at the edge.

Hybrid (RSA-OAEP wraps a fresh AES-256-GCM key; the data is AES-GCM in
authenticated chunks) is what a real system does; pure RSA, block by block as
the study's wording suggests, is timed on a small input to show why.
"""

from __future__ import annotations

import pytest

from benchmarks.grid import PURE_RSA_INPUT_BYTES
from harness.record import case_info


@pytest.fixture(scope="session")
def private_key():
    """The edge's RSA key pair (3072 bits); the device encrypts with its public half."""
    from pipeline.encrypt import generate_keypair

    return generate_keypair()


@pytest.fixture(scope="session")
def archive(dataset, tmp_path_factory):
    from pipeline.archive import archive_dataset

    return archive_dataset(dataset.root, tmp_path_factory.mktemp("archive") / "dataset.tar")


@pytest.fixture(scope="session")
def ciphertext(archive, private_key, tmp_path_factory):
    from pipeline.encrypt import encrypt_file

    path = tmp_path_factory.mktemp("cipher") / "dataset.tar.enc"
    encrypt_file(archive.path, path, private_key.public_key())
    return path


@pytest.mark.benchmark_op("encryption")
def test_encrypt_dataset_hybrid(benchmark, preset, archive, private_key, tmp_path):
    from pipeline.encrypt import encrypt_file

    out = tmp_path / "dataset.tar.enc"
    result = benchmark.pedantic(
        encrypt_file, args=(archive.path, out, private_key.public_key()), rounds=preset.rounds.crypto_rounds, iterations=1
    )
    assert result.ciphertext_bytes == out.stat().st_size
    assert result.plaintext_bytes == archive.bytes
    benchmark.extra_info.update(
        case_info(
            preset,
            "encryption",
            scheme="rsa-oaep+aes-256-gcm",
            chunk_bytes=result.chunk_bytes,
            key_bits=private_key.key_size,
            dataset_bytes=archive.bytes,
            ciphertext_bytes=result.ciphertext_bytes,
            overhead_bytes=result.overhead_bytes,
        )
    )


@pytest.mark.benchmark_op("decryption")
def test_decrypt_dataset_hybrid(benchmark, preset, archive, ciphertext, private_key, tmp_path):
    from pipeline.encrypt import decrypt_file

    out = tmp_path / "dataset.tar"
    benchmark.pedantic(
        decrypt_file, args=(ciphertext, out, private_key), rounds=preset.rounds.crypto_rounds, iterations=1
    )
    assert out.read_bytes() == archive.path.read_bytes()
    benchmark.extra_info.update(
        case_info(
            preset,
            "decryption",
            scheme="rsa-oaep+aes-256-gcm",
            key_bits=private_key.key_size,
            dataset_bytes=archive.bytes,
            ciphertext_bytes=ciphertext.stat().st_size,
        )
    )


@pytest.mark.benchmark_op("encryption")
def test_encrypt_pure_rsa(benchmark, preset, private_key):
    from pipeline.encrypt import rsa_encrypt_blocks

    data = bytes(range(256)) * (PURE_RSA_INPUT_BYTES // 256)
    ciphertext = benchmark.pedantic(
        rsa_encrypt_blocks, args=(data, private_key.public_key()), rounds=preset.rounds.crypto_rounds, iterations=1
    )
    ciphertext_bytes = len(ciphertext)
    benchmark.extra_info.update(
        case_info(
            preset,
            "encryption",
            scheme="rsa-oaep-blocks",
            key_bits=private_key.key_size,
            dataset_bytes=len(data),
            ciphertext_bytes=ciphertext_bytes,
            overhead_bytes=ciphertext_bytes - len(data),
        )
    )
