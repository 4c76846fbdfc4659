"""Type stubs of the Rust extension argen._argen (the classes argen re-exports)."""

from typing import Any, Callable, List, Optional, Sequence, Tuple, Union

import numpy as np
import numpy.typing as npt

__version__: str

class ImageModel:
    """The Rust image model; ``argen.ImageModel`` wraps it."""

    def log_prob(
        self,
        images: npt.NDArray[np.uint8],
        *,
        labels: Optional[npt.NDArray[np.int64]] = None,
        vectors: Optional[npt.NDArray[np.float32]] = None,
        batch_size: int = 256,
    ) -> npt.NDArray[np.float64]: ...
    def sample(
        self,
        n: int,
        *,
        seed: int = 0,
        temperature: float = 1.0,
        classes: Optional[Sequence[int]] = None,
        vectors: Optional[npt.NDArray[np.float32]] = None,
        naive: bool = False,
        batch_size: int = 64,
    ) -> npt.NDArray[np.uint8]: ...
    def complete(
        self,
        images: npt.NDArray[np.uint8],
        *,
        keep_rows: Optional[int] = None,
        seed: int = 0,
        temperature: float = 1.0,
        labels: Optional[npt.NDArray[np.int64]] = None,
        vectors: Optional[npt.NDArray[np.float32]] = None,
        naive: bool = False,
    ) -> npt.NDArray[np.uint8]: ...
    @property
    def num_params(self) -> int: ...
    @property
    def levels(self) -> int: ...
    @property
    def shape(self) -> Tuple[int, int, int]: ...
    @property
    def num_classes(self) -> Optional[int]: ...
    @property
    def path(self) -> Optional[str]: ...
    @property
    def model(self) -> str: ...
    @property
    def config(self) -> dict: ...

class SequenceModel:
    """A trained neural sequence model (mlp, gru, lstm, wavenet, tcn) with its data."""

    def log_prob(self, sequences: Any, *, batch_size: int = 256) -> npt.NDArray[np.float64]:
        """log p(x) of each sequence in nats [N]: str or list of str (text), float [T] or
        [N, T] (series, in its units), integer [T] or [N, T] (levels)."""
    def evaluate(self, split: str = "test", *, batch_size: int = 256) -> dict:
        """The metrics of ``argen eval``: nats_per_step, nats_per_sequence, ..."""
    def sample(
        self, n: int, *, length: Optional[int] = None, seed: int = 0, temperature: float = 1.0, naive: bool = False
    ) -> Union[List[str], npt.NDArray[np.float64], npt.NDArray[np.float32], npt.NDArray[np.uint8]]:
        """list of str (text), float64 [n, length] (series), float32 [n, length, keys]
        (piano rolls) or uint8 [n, 8, 8] (digits)."""
    @property
    def num_params(self) -> int: ...
    @property
    def model(self) -> str: ...
    @property
    def path(self) -> Optional[str]: ...
    @property
    def config(self) -> dict: ...

class ArResults:
    """A fitted AR(p) model with statsmodels' AutoRegResults statistics."""

    @property
    def params(self) -> npt.NDArray[np.float64]:
        """(c, a_1, ..., a_p): the constant, then the weight of x_{t-i}."""
    @property
    def bse(self) -> npt.NDArray[np.float64]:
        """Standard errors of ``params``."""
    @property
    def sigma2(self) -> float:
        """The innovation variance σ²."""
    @property
    def llf(self) -> float:
        """The conditional log-likelihood of the fitted series (nats)."""
    @property
    def aic(self) -> float:
        """-2 llf + 2 (p + 2)."""
    @property
    def bic(self) -> float:
        """-2 llf + ln(nobs) (p + 2)."""
    @property
    def nobs(self) -> int:
        """n - p equations."""
    @property
    def order(self) -> int: ...
    @property
    def method(self) -> str: ...
    def forecast(self, steps: int, *, alpha: float = 0.05) -> dict:
        """Dict of float64 arrays [steps]: ``mean``, ``std``, ``lower``, ``upper``."""
    def simulate(self, n: int, *, seed: int = 0, continuation: bool = True) -> npt.NDArray[np.float64]: ...

Symbols = Union[str, Sequence[int]]

class MarkovChain:
    """A Markov chain of order k over characters (fitted on a str) or integer symbols."""

    @staticmethod
    def fit(
        data: Symbols, order: int = 1, *, smoothing: float = 0.01, alphabet_size: Optional[int] = None
    ) -> "MarkovChain": ...
    def log_prob(self, data: Symbols) -> float:
        """Σ_{t ≥ k} ln p(x_t | x_{t-k..t-1}) in nats."""
    def sample(
        self, n: int, *, seed: int = 0, temperature: float = 1.0, start: Optional[Symbols] = None
    ) -> Union[str, list]: ...
    def stationary(self) -> npt.NDArray[np.float64]:
        """The stationary distribution over the V^k contexts, [V^k]."""
    def n_step(self, past: Symbols, n: int) -> npt.NDArray[np.float64]:
        """The distribution of the symbol n steps after ``past``, [V]."""
    def most_likely_continuation(self, past: Symbols, n: int) -> Tuple[Union[str, list], float]: ...
    def reverse_distribution(self, after: Symbols) -> npt.NDArray[np.float64]:
        """p(x_t | x_{t+1..t+k} = after) under the stationary chain, [V]."""
    def sample_backwards(
        self, after: Symbols, n: int, *, seed: int = 0, temperature: float = 1.0
    ) -> Union[str, list]: ...
    @property
    def order(self) -> int: ...
    @property
    def alphabet_size(self) -> int: ...
    @property
    def alphabet(self) -> Optional[str]: ...
    @property
    def smoothing(self) -> float: ...

def train_images(images: npt.NDArray[np.uint8], **options: Any) -> ImageModel: ...
def train_sequence(values: Optional[npt.NDArray[np.float64]] = None, **options: Any) -> SequenceModel: ...
def fit_ar(x: npt.NDArray[np.float64], lags: int, *, method: str = "ols") -> ArResults: ...
def open_run(path: str, *, weights: str = "best") -> Union[ImageModel, SequenceModel, ArResults, MarkovChain]: ...
def load_images(source: str) -> dict:
    """``levels`` and, for ``train``/``valid``/``test``, (images uint8, labels int64)."""
def load_series(source: str) -> npt.NDArray[np.float64]: ...
