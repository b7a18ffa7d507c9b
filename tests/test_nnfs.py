"""The shared lesson code: offline data loaders (tested on small files made here) and the reference MLP."""

import gzip

import numpy as np
import pytest

from autograder import numerical_gradient, rel_error
from nnfs.data import MNIST_IDX_FILES, load_digits, load_mnist, read_idx, text_corpus, train_test_split, write_idx
from nnfs.mlp import MLP, sgd, softmax_cross_entropy, train


def tiny_mnist(rng, num_train=12, num_test=5):
    arrays = {"x_train": rng.integers(0, 256, size=(num_train, 28, 28), dtype=np.uint8),
              "y_train": rng.integers(0, 10, size=num_train, dtype=np.uint8),
              "x_test": rng.integers(0, 256, size=(num_test, 28, 28), dtype=np.uint8),
              "y_test": rng.integers(0, 10, size=num_test, dtype=np.uint8)}
    return arrays


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_load_mnist_reads_the_four_idx_files(tmp_path, suffix):
    arrays = tiny_mnist(np.random.default_rng(0))
    for key, stem in MNIST_IDX_FILES.items():
        write_idx(arrays[key], tmp_path / (stem + suffix))
    X_train, y_train, X_test, y_test = load_mnist(tmp_path)
    assert X_train.shape == (12, 784) and X_test.shape == (5, 784)
    assert np.allclose(X_train.reshape(12, 28, 28) * 255, arrays["x_train"])
    assert np.array_equal(y_test, arrays["y_test"]) and y_test.dtype == np.int64
    assert 0.0 <= X_train.min() and X_train.max() <= 1.0
    assert load_mnist(tmp_path, flatten=False)[0].shape == (12, 28, 28)


def test_load_mnist_reads_an_npz_file(tmp_path):
    arrays = tiny_mnist(np.random.default_rng(1))
    np.savez(tmp_path / "mnist.npz", **arrays)
    X_train, y_train, _, _ = load_mnist(tmp_path / "mnist.npz")
    assert X_train.shape == (12, 784) and np.array_equal(y_train, arrays["y_train"])


def test_load_mnist_explains_what_is_wrong(tmp_path):
    with pytest.raises(FileNotFoundError, match="No MNIST at"):
        load_mnist(tmp_path / "absent")
    with pytest.raises(FileNotFoundError, match="has no train-images-idx3-ubyte"):
        load_mnist(tmp_path)
    np.savez(tmp_path / "partial.npz", x_train=np.zeros((2, 28, 28)))
    with pytest.raises(ValueError, match="lacks"):
        load_mnist(tmp_path / "partial.npz")
    (tmp_path / "bad").write_bytes(b"\x01\x02\x03\x04")
    with pytest.raises(ValueError, match="not an IDX file"):
        read_idx(tmp_path / "bad")
    truncated = tmp_path / "short.gz"
    write_idx(np.zeros((3, 4), dtype=np.uint8), truncated)
    data = gzip.decompress(truncated.read_bytes())[:-2]
    truncated.write_bytes(gzip.compress(data))
    with pytest.raises(ValueError, match="header promises 12 bytes"):
        read_idx(truncated)


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
def test_idx_round_trip(tmp_path, dtype):
    array = (np.arange(24).reshape(2, 3, 4) - 5).astype(dtype)
    assert np.array_equal(read_idx(write_idx(array, tmp_path / "a.idx")), array)


def test_digits_split_is_seeded_and_disjoint():
    X_train, y_train, X_test, y_test = load_digits(seed=3)
    assert X_train.shape == (1438, 64) and X_test.shape == (359, 64)
    assert X_train.max() == 1.0 and X_train.min() == 0.0
    again = load_digits(seed=3)
    assert np.array_equal(again[0], X_train)
    assert load_digits(flatten=False)[0].shape == (1438, 8, 8)
    with pytest.raises(ValueError, match="rows"):
        train_test_split(np.zeros((3, 2)), np.zeros(4))


def test_softmax_cross_entropy_is_stable_and_its_gradient_is_right():
    logits = np.array([[1000.0, 0.0, -1000.0], [1.0, 2.0, 3.0]])
    loss, dlogits = softmax_cross_entropy(logits, np.array([0, 2]))
    assert np.isfinite(loss) and np.isfinite(dlogits).all()
    small = np.random.default_rng(0).normal(size=(4, 3))
    labels = np.array([0, 1, 2, 1])
    numeric = numerical_gradient(lambda z: softmax_cross_entropy(z, labels)[0], small)
    assert rel_error(numeric, softmax_cross_entropy(small, labels)[1]) < 1e-7


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid"])
def test_mlp_gradients_match_centred_differences(activation):
    rng = np.random.default_rng(0)
    model = MLP((5, 7, 4, 3), activation=activation, seed=1)
    X, labels = rng.normal(size=(6, 5)), rng.integers(0, 3, size=6)
    _, grads = model.loss_and_gradients(X, labels)
    for param, grad in zip(model.params, grads):
        def loss_at(value, param=param):
            saved = param.copy()
            param[...] = value
            result = model.loss(X, labels)
            param[...] = saved
            return result
        assert rel_error(numerical_gradient(loss_at, param.copy()), grad) < 1e-5


def test_mlp_learns_digits_deterministically():
    X_train, y_train, X_test, y_test = load_digits()
    runs = []
    for _ in range(2):
        model = MLP((64, 32, 10), seed=0)
        history = train(model, X_train, y_train, update=sgd(0.1), num_epochs=15, batch_size=32, seed=0,
                        X_val=X_test, labels_val=y_test)
        runs.append(history)
    assert runs[0] == runs[1]
    assert runs[0]["val_accuracy"][-1] > 0.93
    assert runs[0]["train_loss"][-1] < runs[0]["train_loss"][0]
    with pytest.raises(ValueError, match="activation must be"):
        MLP((2, 2), activation="swish")


def test_text_corpus_names_what_exists():
    with pytest.raises(FileNotFoundError, match="No text 'absent.txt'"):
        text_corpus("absent.txt")
