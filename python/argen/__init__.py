"""argen: generative autoregressive models with exact likelihoods, from Python.

The models are those of the ``argen`` command line, computed by its Rust library:

- images: Gated PixelCNN, PixelCNN and PixelCNN++ (``train_images``, ``open_run``), with
  exact ``log_prob`` in nats, ``bits_per_dim``, cached ``sample`` and ``complete``;
- neural sequence models: window MLP, GRU, LSTM, WaveNet, TCN on a real series or a text
  (``train_sequence``, ``open_run``), with ``evaluate`` and cached ``sample``;
- classical sequence models: AR(p) fits with statsmodels-like results (``fit_ar``) and
  Markov chains of order k (``MarkovChain.fit``);
- the data sets of the command line: ``load_images("digits")`` (embedded),
  ``load_images("fashion-mnist")``, ``load_series("sunspots")`` (embedded), ...

Arrays go in and come out as numpy arrays. Images are uint8 levels, [N, H, W] for grey
images and [N, C, H, W] for colour ones (C = 3, channels R, G, B). Run folders written by
the command line open with ``open_run`` and the other way round.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Optional, Sequence, Union

import numpy as np

from . import _argen
from ._argen import ArResults, MarkovChain, SequenceModel, __version__, load_images, load_series

__all__ = [
    "ArResults",
    "ImageModel",
    "MarkovChain",
    "SequenceModel",
    "bits_per_dim",
    "fit_ar",
    "load_images",
    "load_series",
    "open_run",
    "train_images",
    "train_sequence",
    "__version__",
]


def _levels(images: Any, name: str = "images") -> np.ndarray:
    """Integer image levels as a C-contiguous uint8 array; a ValueError for anything else."""
    array = np.asarray(images)
    if array.dtype == np.uint8:
        return np.ascontiguousarray(array)
    if array.dtype.kind not in "iub":
        raise ValueError(
            f"{name} must hold integer levels (uint8), got dtype {array.dtype}; "
            "quantise real values first"
        )
    if array.size and (array.min() < 0 or array.max() > 255):
        raise ValueError(
            f"{name} holds values outside 0..255 ({array.min()}..{array.max()})"
        )
    return np.ascontiguousarray(array, dtype=np.uint8)


def _labels(labels: Any) -> Optional[np.ndarray]:
    if labels is None:
        return None
    array = np.asarray(labels)
    if array.dtype.kind not in "iub":
        raise ValueError(f"labels must be integers, got dtype {array.dtype}")
    return np.ascontiguousarray(array, dtype=np.int64)


def _vectors(vectors: Any) -> Optional[np.ndarray]:
    if vectors is None:
        return None
    array = np.asarray(vectors, dtype=np.float32)
    if not np.all(np.isfinite(array)):
        raise ValueError("vectors must be finite (no NaN or infinity)")
    return np.ascontiguousarray(array)


def _tqdm_callback() -> Optional[Callable[[dict], None]]:
    """A progress bar per epoch through tqdm, when it is installed."""
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    bars: dict = {}

    def report(info: dict) -> None:
        epoch = info["epoch"]
        if info["event"] == "step":
            bar = bars.get(epoch)
            if bar is None:
                bar = bars[epoch] = tqdm(
                    total=info["steps"], desc=f"epoch {epoch}/{info['epochs']}", leave=True
                )
            bar.update(1)
            bar.set_postfix(
                loss=f"{info['loss']:.4f}", per_s=f"{info['examples_per_second']:.0f}"
            )
        else:
            bar = bars.pop(epoch, None)
            if bar is not None:
                bar.set_postfix_str(info["summary"])
                bar.close()

    return report


def train_images(
    images: Any,
    *,
    levels: int = 256,
    labels: Any = None,
    vectors: Any = None,
    model: str = "gated-pixelcnn",
    channels: Optional[int] = None,
    layers: Optional[int] = None,
    kernel: Optional[int] = None,
    first_kernel: Optional[int] = None,
    head: Optional[int] = None,
    dropout: Optional[float] = None,
    conditional: bool = False,
    resolutions: Optional[int] = None,
    mixture: Optional[int] = None,
    epochs: Optional[int] = None,
    batch_size: Optional[int] = None,
    lr: Optional[float] = None,
    seed: int = 0,
    valid_fraction: float = 0.1,
    out: Optional[str] = None,
    progress: Union[bool, Callable[[dict], None], None] = None,
) -> "ImageModel":
    """Trains an image model on ``images`` (uint8 levels [N, H, W] or [N, C, H, W]).

    The defaults are the command line's (``argen train --help``). The last
    ``valid_fraction`` of the images, in the given order, is held out for validation, and
    the model with the best validation NLL is returned. ``labels`` [N] with
    ``conditional=True`` trains p(x | class); ``vectors`` [N, D] trains p(x | h).

    With ``out`` the run is written to that folder (checkpoints after every epoch, readable
    by ``argen eval`` / ``argen sample``). ``progress`` is a callable that receives a dict
    after every step and epoch (``event``: "step" or "epoch"); by default a tqdm bar when
    tqdm is installed; ``False`` for nothing. Ctrl-C stops training between two steps
    (KeyboardInterrupt; the last checkpoint in ``out`` stays valid).
    """
    callback = _callback(progress)
    inner = _argen.train_images(
        _levels(images),
        levels=levels,
        labels=_labels(labels),
        vectors=_vectors(vectors),
        model=model,
        channels=channels,
        layers=layers,
        kernel=kernel,
        first_kernel=first_kernel,
        head=head,
        dropout=dropout,
        conditional=conditional,
        resolutions=resolutions,
        mixture=mixture,
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        seed=seed,
        valid_fraction=valid_fraction,
        out=None if out is None else str(out),
        callback=callback,
    )
    return ImageModel(inner)


def _callback(progress: Union[bool, Callable[[dict], None], None]) -> Optional[Callable[[dict], None]]:
    if progress is None or progress is True:
        return _tqdm_callback()
    if progress is False:
        return None
    if callable(progress):
        return progress
    raise ValueError("progress must be a callable, True, False or None")


def train_sequence(
    values: Any = None,
    *,
    text: Optional[str] = None,
    sequences: Any = None,
    levels: Optional[int] = None,
    valid_fraction: float = 0.1,
    model: str = "lstm",
    hidden: Optional[int] = None,
    depth: Optional[int] = None,
    blocks: Optional[int] = None,
    window: Optional[int] = None,
    kernel: Optional[int] = None,
    first_kernel: Optional[int] = None,
    mixture: Optional[int] = None,
    dropout: Optional[float] = None,
    epochs: Optional[int] = None,
    batch_size: Optional[int] = None,
    lr: Optional[float] = None,
    seed: int = 0,
    out: Optional[str] = None,
    progress: Union[bool, Callable[[dict], None], None] = None,
) -> SequenceModel:
    """Trains a neural sequence model (``model``: "mlp", "gru", "lstm", "wavenet", "tcn")
    on one real series ``values`` (1-D; standardised, windows of 64 steps from its first
    80%, the rest held out, as the command line cuts a series), on one ``text`` (a
    character model), or on ``sequences`` of discrete levels (integers [N, T], ``levels``
    by default the largest + 1; the last ``valid_fraction`` held out). The defaults are the
    command line's; ``out``, ``progress`` and Ctrl-C work as in ``train_images``."""
    if sequences is not None:
        array = np.asarray(sequences)
        if array.dtype.kind not in "iub":
            raise ValueError(f"sequences must hold integer levels, got dtype {array.dtype}")
        sequences = np.ascontiguousarray(array, dtype=np.int64)
    if values is not None:
        array = np.asarray(values, dtype=np.float64)
        if array.ndim != 1:
            raise ValueError(f"the series must be 1-D, got shape {array.shape}")
        values = np.ascontiguousarray(array)
    return _argen.train_sequence(
        values,
        text=text,
        sequences=sequences,
        levels=levels,
        valid_fraction=valid_fraction,
        model=model,
        hidden=hidden,
        depth=depth,
        blocks=blocks,
        window=window,
        kernel=kernel,
        first_kernel=first_kernel,
        mixture=mixture,
        dropout=dropout,
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        seed=seed,
        out=None if out is None else str(out),
        callback=_callback(progress),
    )


def bits_per_dim(model: "ImageModel", images: Any, *, labels: Any = None, vectors: Any = None) -> float:
    """The mean NLL of ``images`` under ``model`` in bits per dimension."""
    return model.bits_per_dim(images, labels=labels, vectors=vectors)


def fit_ar(x: Any, lags: int, *, method: str = "ols") -> ArResults:
    """Fits an AR(``lags``) model with a constant to the series ``x``, like statsmodels'
    ``AutoReg(x, lags, trend="c").fit()`` (``method``: "ols", "yule-walker" or "burg")."""
    array = np.asarray(x, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(f"the series must be 1-D, got shape {array.shape}")
    return _argen.fit_ar(np.ascontiguousarray(array), lags, method=method)


def open_run(path: str, *, weights: str = "best") -> Union["ImageModel", SequenceModel, ArResults, MarkovChain]:
    """Opens a run folder of the command line (or of ``train_images(out=...)``): an image
    run gives an ImageModel (``weights``: "best" or "last"), a neural sequence run a
    SequenceModel, an AR fit ArResults, a Markov chain fit a MarkovChain. FileNotFoundError when it does not exist, ValueError when it
    is not a run or is damaged."""
    run = _argen.open_run(str(path), weights=weights)
    if isinstance(run, _argen.ImageModel):
        return ImageModel(run)
    return run


class ImageModel:
    """A trained image model (Gated PixelCNN, PixelCNN or PixelCNN++), in memory or in a
    run folder. Made by ``train_images`` or ``open_run``."""

    def __init__(self, inner: _argen.ImageModel) -> None:
        self._inner = inner

    def log_prob(self, images: Any, *, labels: Any = None, vectors: Any = None, batch_size: int = 256) -> np.ndarray:
        """log p(x) of each image, in nats: a float64 array [N]. ``labels`` [N] for a
        class-conditional model, ``vectors`` [N, D] for a vector-conditioned one."""
        return self._inner.log_prob(
            _levels(images), labels=_labels(labels), vectors=_vectors(vectors), batch_size=batch_size
        )

    def bits_per_dim(self, images: Any, *, labels: Any = None, vectors: Any = None) -> float:
        """The mean NLL of ``images`` in bits per dimension: -mean(log p(x)) / (C·H·W · ln 2)."""
        log_p = self.log_prob(images, labels=labels, vectors=vectors)
        c, h, w = self.shape
        return float(-np.mean(log_p) / (c * h * w * math.log(2.0)))

    def sample(
        self,
        n: int,
        *,
        seed: int = 0,
        temperature: float = 1.0,
        classes: Union[int, Sequence[int], None] = None,
        vectors: Any = None,
        naive: bool = False,
        batch_size: int = 64,
    ) -> np.ndarray:
        """Draws ``n`` images: uint8 [n, H, W] (grey) or [n, C, H, W] (colour), through the
        cached sampler (``naive=True``: the whole network per value, the same images), in
        batches of ``batch_size`` (bounds memory; the images do not depend on it).
        ``classes``: one class for all or one per image (default: the classes in turn);
        ``temperature`` 1 samples the model, 0 takes the most likely value."""
        if isinstance(classes, (int, np.integer)):
            classes = [int(classes)]
        elif classes is not None:
            classes = [int(c) for c in classes]
        return self._inner.sample(
            n,
            seed=seed,
            temperature=temperature,
            classes=classes,
            vectors=_vectors(vectors),
            naive=naive,
            batch_size=batch_size,
        )

    def complete(
        self,
        images: Any,
        *,
        keep_rows: Optional[int] = None,
        seed: int = 0,
        temperature: float = 1.0,
        labels: Any = None,
        vectors: Any = None,
        naive: bool = False,
    ) -> np.ndarray:
        """Keeps the top ``keep_rows`` rows of each image (default: half) and draws the rest
        given them; returns an array of the images' shape."""
        return self._inner.complete(
            _levels(images),
            keep_rows=keep_rows,
            seed=seed,
            temperature=temperature,
            labels=_labels(labels),
            vectors=_vectors(vectors),
            naive=naive,
        )

    @property
    def shape(self) -> tuple:
        """The image shape (C, H, W)."""
        return self._inner.shape

    @property
    def levels(self) -> int:
        """Discrete values per colour channel."""
        return self._inner.levels

    @property
    def num_params(self) -> int:
        """The number of trained parameters."""
        return self._inner.num_params

    @property
    def num_classes(self) -> Optional[int]:
        """Classes of a class-conditional model, else None."""
        return self._inner.num_classes

    @property
    def model(self) -> str:
        """``gated-pixelcnn``, ``pixelcnn`` or ``pixelcnn-pp``."""
        return self._inner.model

    @property
    def path(self) -> Optional[str]:
        """The run folder, when the model has one."""
        return self._inner.path

    @property
    def config(self) -> dict:
        """The run's settings (what ``config.json`` holds)."""
        return self._inner.config

    def __repr__(self) -> str:
        return repr(self._inner)
