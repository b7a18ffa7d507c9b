"""A compact multilayer perceptron, used as a tool by lessons that come after the one that builds it.

The training lesson derives and writes this network step by step; later lessons (optimizers, scaling laws)
import this version so that the same code is not pasted again. Each layer's backward pass sits next to its
forward pass.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

ACTIVATIONS = {
    # name: (forward, derivative expressed through the input z)
    "relu": (lambda z: np.maximum(z, 0.0), lambda z: (z > 0).astype(z.dtype)),
    "tanh": (np.tanh, lambda z: 1.0 - np.tanh(z) ** 2),
    "sigmoid": (lambda z: 1.0 / (1.0 + np.exp(-z)), lambda z: np.exp(-z) / (1.0 + np.exp(-z)) ** 2),
}


def softmax_cross_entropy(logits: np.ndarray, labels: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean cross-entropy of softmax(logits) and its gradient.

    logits: (N, K) scores; labels: (N,) integer classes
    returns: loss (float), dlogits (N, K) = (softmax(logits) - one_hot(labels)) / N
    """
    shifted = logits - logits.max(axis=1, keepdims=True)  # same softmax, no overflow
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    n = len(labels)
    loss = -log_probs[np.arange(n), labels].mean()
    dlogits = np.exp(log_probs)
    dlogits[np.arange(n), labels] -= 1.0
    return float(loss), dlogits / n


class MLP:
    """Fully connected network with a softmax cross-entropy output and He-initialised weights.

    layer_sizes: (D, H1, ..., K) -- inputs, hidden widths, classes
    params: [W1 (D, H1), b1 (H1,), W2, b2, ...]; optimizers update these arrays in place
    """

    def __init__(self, layer_sizes, activation: str = "relu", seed: int = 0):
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, not {activation!r}")
        rng = np.random.default_rng(seed)
        self.layer_sizes = tuple(int(n) for n in layer_sizes)
        self.activation = activation
        self.params = []
        for fan_in, fan_out in zip(self.layer_sizes[:-1], self.layer_sizes[1:]):
            self.params.append(rng.normal(0.0, np.sqrt(2.0 / fan_in), size=(fan_in, fan_out)))
            self.params.append(np.zeros(fan_out))

    @property
    def num_parameters(self) -> int:
        return int(sum(p.size for p in self.params))

    def forward(self, X: np.ndarray) -> tuple[np.ndarray, list]:
        """X: (N, D) -> logits (N, K), and the cache the backward pass needs."""
        act, _ = ACTIVATIONS[self.activation]
        cache, h = [], X
        num_layers = len(self.params) // 2
        for layer in range(num_layers):
            W, b = self.params[2 * layer], self.params[2 * layer + 1]
            z = h @ W + b
            cache.append((h, z))
            h = act(z) if layer < num_layers - 1 else z
        return h, cache

    def backward(self, dlogits: np.ndarray, cache: list) -> list[np.ndarray]:
        """dlogits: (N, K) gradient of the loss wrt the logits -> gradients matching ``params``."""
        _, act_grad = ACTIVATIONS[self.activation]
        grads = [None] * len(self.params)
        upstream = dlogits
        for layer in reversed(range(len(cache))):
            h, z = cache[layer]
            if layer < len(cache) - 1:
                upstream = upstream * act_grad(z)
            grads[2 * layer] = h.T @ upstream
            grads[2 * layer + 1] = upstream.sum(axis=0)
            upstream = upstream @ self.params[2 * layer].T
        return grads

    def loss_and_gradients(self, X: np.ndarray, labels: np.ndarray) -> tuple[float, list[np.ndarray]]:
        """X: (N, D), labels: (N,) -> mean cross-entropy and its gradients wrt every parameter."""
        logits, cache = self.forward(X)
        loss, dlogits = softmax_cross_entropy(logits, labels)
        return loss, self.backward(dlogits, cache)

    def loss(self, X: np.ndarray, labels: np.ndarray) -> float:
        return softmax_cross_entropy(self.forward(X)[0], labels)[0]

    def predict(self, X: np.ndarray) -> np.ndarray:
        """X: (N, D) -> (N,) predicted classes."""
        return self.forward(X)[0].argmax(axis=1)

    def accuracy(self, X: np.ndarray, labels: np.ndarray) -> float:
        return float((self.predict(X) == labels).mean())


Update = Callable[[list, list, int], None]


def sgd(learning_rate: float) -> Update:
    """Plain gradient descent as an update rule: params[i] -= learning_rate * grads[i]."""
    def update(params, grads, step):
        for param, grad in zip(params, grads):
            param -= learning_rate * grad
    return update


def train(model: MLP, X: np.ndarray, labels: np.ndarray, *, update: Update, num_epochs: int, batch_size: int,
          seed: int = 0, X_val: np.ndarray | None = None, labels_val: np.ndarray | None = None) -> dict:
    """Mini-batch training; returns per-epoch history.

    X: (N, D), labels: (N,); update(params, grads, step) changes params in place (step counts from 1)
    returns: {"train_loss": [...], "train_accuracy": [...], and "val_loss"/"val_accuracy" if X_val is given}
    """
    rng = np.random.default_rng(seed)
    history = {"train_loss": [], "train_accuracy": []}
    if X_val is not None:
        history.update(val_loss=[], val_accuracy=[])
    step = 0
    for _ in range(num_epochs):
        order = rng.permutation(len(X))
        for start in range(0, len(X), batch_size):
            batch = order[start:start + batch_size]
            _, grads = model.loss_and_gradients(X[batch], labels[batch])
            step += 1
            update(model.params, grads, step)
        history["train_loss"].append(model.loss(X, labels))
        history["train_accuracy"].append(model.accuracy(X, labels))
        if X_val is not None:
            history["val_loss"].append(model.loss(X_val, labels_val))
            history["val_accuracy"].append(model.accuracy(X_val, labels_val))
    return history
