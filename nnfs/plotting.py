"""Plotting utilities shared by several lessons (what is drawn is explained in the lessons)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np


def plot_decision_boundary(predict, X: np.ndarray, labels: np.ndarray, ax=None, resolution: int = 200,
                           title: str | None = None, padding: float = 0.5):
    """Colour the plane by predicted class and scatter the points.

    predict: maps (M, 2) points to (M,) classes; X: (N, 2); labels: (N,)
    """
    ax = ax or plt.gca()
    x_min, y_min = X.min(axis=0) - padding
    x_max, y_max = X.max(axis=0) + padding
    grid_x, grid_y = np.meshgrid(np.linspace(x_min, x_max, resolution), np.linspace(y_min, y_max, resolution))
    classes = predict(np.column_stack([grid_x.ravel(), grid_y.ravel()])).reshape(grid_x.shape)
    ax.contourf(grid_x, grid_y, classes, alpha=0.25, cmap="coolwarm")
    ax.scatter(X[:, 0], X[:, 1], c=labels, cmap="coolwarm", edgecolors="k", s=18)
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    if title:
        ax.set_title(title)
    return ax


def plot_history(history: dict, keys=None, ax=None, log_scale: bool = False, title: str | None = None):
    """One curve per history entry (e.g. train_loss, val_loss) against the epoch."""
    ax = ax or plt.gca()
    for key in keys or list(history):
        values = history[key]
        ax.plot(np.arange(1, len(values) + 1), values, label=key.replace("_", " "))
    ax.set_xlabel("epoch")
    if log_scale:
        ax.set_yscale("log")
    ax.legend()
    ax.grid(alpha=0.3)
    if title:
        ax.set_title(title)
    return ax


def confusion_matrix(true_labels: np.ndarray, predicted: np.ndarray, num_classes: int) -> np.ndarray:
    """(num_classes, num_classes) counts; row = true class, column = predicted class."""
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (true_labels, predicted), 1)
    return matrix


def plot_confusion_matrix(matrix: np.ndarray, ax=None, title: str = "Confusion matrix"):
    """Draw counts with their numbers; the diagonal holds the correct predictions."""
    ax = ax or plt.gca()
    ax.imshow(matrix, cmap="Blues")
    for (row, col), count in np.ndenumerate(matrix):
        colour = "white" if count > matrix.max() / 2 else "black"
        ax.text(col, row, str(count), ha="center", va="center", color=colour, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_xticks(range(matrix.shape[1]))
    ax.set_yticks(range(matrix.shape[0]))
    ax.set_title(title)
    return ax


def show_images(images: np.ndarray, titles=None, num_columns: int = 8, size: float = 1.3, cmap: str = "gray",
                symmetric: bool = False):
    """A grid of images (N, H, W); symmetric=True centres the colour map on 0 (for filters)."""
    images = np.asarray(images)
    num_rows = int(np.ceil(len(images) / num_columns))
    fig, axes = plt.subplots(num_rows, num_columns, figsize=(size * num_columns, size * num_rows), squeeze=False)
    for index, ax in enumerate(axes.ravel()):
        ax.axis("off")
        if index >= len(images):
            continue
        if symmetric:
            limit = np.abs(images[index]).max() or 1.0
            ax.imshow(images[index], cmap="RdBu_r", vmin=-limit, vmax=limit)
        else:
            ax.imshow(images[index], cmap=cmap)
        if titles is not None:
            ax.set_title(str(titles[index]), fontsize=8)
    fig.tight_layout()
    return fig
