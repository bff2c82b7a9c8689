"""Data loaders: digits, CIFAR-10's python batches (a tiny fake in the real format), ImageFolder trees,
and a clear error for a missing directory."""
import os
import pickle

import numpy as np
import pytest
import torch

from scenarios.networks import data


def test_digits_is_standardized_and_shaped():
    digits = data.load_digits()
    assert digits.x_train.shape[1:] == (1, 8, 8) and digits.shape == (1, 8, 8)
    assert len(digits.x_train) + len(digits.x_test) == 1797
    assert float(digits.x_train.mean()) == pytest.approx(0, abs=1e-5)
    assert float(digits.x_train.std()) == pytest.approx(1, abs=1e-4)
    again = data.load("digits")
    assert torch.equal(again.y_test, digits.y_test)  # the split is fixed


def write_cifar(root, per_batch=10):
    rng = np.random.default_rng(0)
    for name in [*data.CIFAR_TRAIN_BATCHES, "test_batch"]:
        batch = {b"batch_label": name.encode(), b"labels": [int(i % 10) for i in range(per_batch)],
                 b"data": rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8),
                 b"filenames": [b"x.png"] * per_batch}
        with open(root / name, "wb") as handle:
            pickle.dump(batch, handle, protocol=2)


def test_cifar_reader_reads_the_python_batches(tmp_path):
    write_cifar(tmp_path)
    cifar = data.load_cifar10(tmp_path)
    assert cifar.x_train.shape == (50, 3, 32, 32) and cifar.x_test.shape == (10, 3, 32, 32)
    assert cifar.y_train.tolist()[:10] == list(range(10))
    with open(tmp_path / "test_batch", "rb") as handle:
        raw = pickle.load(handle, encoding="bytes")[b"data"].reshape(10, 3, 32, 32)
    # channel-major layout: standardization is per channel and preserves the ordering of pixels
    assert torch.equal(cifar.x_test[0, 1].flatten().argsort(), torch.as_tensor(raw[0, 1].flatten().astype(np.float32)).argsort())
    small = data.load_cifar10(tmp_path, train_per_class=2, test_per_class=1)
    assert small.x_train.shape[0] == 20 and small.x_test.shape[0] == 10


def test_cifar_reader_refuses_code_in_a_batch(tmp_path):
    write_cifar(tmp_path)

    class Payload:
        def __reduce__(self):
            return (os.system, ("touch PWNED",))

    with open(tmp_path / "test_batch", "wb") as handle:
        pickle.dump({b"data": Payload(), b"labels": []}, handle)
    with pytest.raises(pickle.UnpicklingError, match="refusing"):
        data.load_cifar10(tmp_path)
    assert not (tmp_path / "PWNED").exists()


def test_cifar_directory_from_environment(tmp_path, monkeypatch):
    write_cifar(tmp_path)
    monkeypatch.setenv(data.DATA_ENV, str(tmp_path))
    assert data.load("cifar10").x_test.shape[0] == 10


def test_imagefolder_reads_a_tiny_tree(tmp_path):
    from PIL import Image

    for label, name in enumerate(["cat", "dog", "emu"]):
        (tmp_path / name).mkdir()
        for i in range(4):
            suffix = [".png", ".jpg", ".ppm", ".PNG"][i]
            Image.fromarray(np.full((6, 5, 3), 40 * label + i, dtype=np.uint8)).save(tmp_path / name / f"{i}{suffix}")
    (tmp_path / "cat" / "notes.txt").write_text("not an image")
    tree = data.load_imagefolder(tmp_path, size=4, test_fraction=0.25)
    assert tree.num_classes == 3 and tree.x_train.shape == (9, 3, 4, 4) and tree.x_test.shape == (3, 3, 4, 4)
    chosen = data.load_imagefolder(tmp_path, classes=["emu", "cat"], per_class=2, size=4, test_fraction=0.5)
    assert chosen.num_classes == 2 and len(chosen.x_train) + len(chosen.x_test) == 4
    with pytest.raises(FileNotFoundError, match="lion"):
        data.load_imagefolder(tmp_path, classes=["lion"])


@pytest.mark.parametrize("loader", [data.load_cifar10, data.load_imagefolder])
def test_missing_directory_gives_a_clear_error(tmp_path, loader, monkeypatch):
    monkeypatch.delenv(data.DATA_ENV, raising=False)
    with pytest.raises(FileNotFoundError, match="does not exist.*STITCHBENCH_DATA"):
        loader(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="STITCHBENCH_DATA"):
        loader()


def test_cifar_directory_without_batches(tmp_path):
    with pytest.raises(FileNotFoundError, match="lacks"):
        data.load_cifar10(tmp_path)
