r"""scikit-learn estimators around lifted BCD training: :class:`FenchelLiftedClassifier`,
:class:`FenchelLiftedRegressor`.

They follow scikit-learn's conventions and pass its ``check_estimator`` suite -- ``X`` is
**n_samples x n_features** here (transposed internally to the project's features x samples), every
constructor argument is stored unchanged as an attribute, inputs are validated by
``sklearn.utils.validation`` (``validate_data``: finite real numbers, no complex or sparse data, at least
two samples and one feature, the number of features checked at prediction), ``fit`` learns ``net_``,
``classes_``, ``n_features_in_``, ``history_`` -- so ``get_params``/``set_params``/``clone``/``GridSearchCV``/
``cross_val_score`` work. Needs scikit-learn ≥ 1.6 (the ``sklearn`` extra).

Model: ``sizes = [n_features, *hidden_layer_sizes, n_outputs]``, activations ``activation``,
loss cross-entropy (classifier; ``predict_proba`` = softmax of the logits) or squared
(regressor, single or multi-output), trained by :func:`fenchel_cvx.train` (``method="fenchel"``) or by the
backprop baselines (``method="adam"``/``"sgd"``, learning rate ``lr``).

Classification as in scikit-learn's own classifiers: labels of any hashable type (``classes_`` are the sorted
unique labels; the network has one output per class), continuous or NaN ``y`` raises ``ValueError("Unknown
label type: ...")``/``("Input y contains NaN")``; with two classes ``decision_function`` returns shape
(n_samples,) -- the logit difference z₁ − z₀, positive for ``classes_[1]`` -- so ``roc_auc`` scoring works;
with more, (n_samples, n_classes) logits.

``random_state``: an int seeds the initialisation, the batch order and the validation split (the same int gives
the same model); None or a ``RandomState`` draws a seed from it.
"""

from __future__ import annotations

import numpy as np

try:
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
    from sklearn.utils import check_random_state
    from sklearn.utils.multiclass import check_classification_targets
    from sklearn.utils.validation import check_is_fitted, validate_data
except ImportError as e:  # pragma: no cover - exercised only without scikit-learn
    raise ImportError("fenchel_cvx.estimators needs scikit-learn >= 1.6: pip install 'fenchel-cvx[sklearn]'") from e

from .arrays import ArrayLike
from .network import FenchelNetwork
from .training.presets import TUNED

__all__ = ["FenchelLiftedClassifier", "FenchelLiftedRegressor"]


class _FenchelLiftedBase(BaseEstimator):
    """Shared fit logic (see the module docstring); subclasses fix the loss and the targets."""

    _loss = "cross_entropy"

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", method="fenchel", epochs=10, batch_size=500,
                 lam=TUNED["lam"], rho=0.0, gamma=None, x_weight=TUNED["x_weight"], lam_growth=TUNED["lam_growth"],
                 lam_max=float("inf"), gamma_growth=TUNED["gamma_growth"], momentum=TUNED["momentum"],
                 refresh=TUNED["refresh"], x_iters=TUNED["x_iters"], w_iters=TUNED["w_iters"],
                 last_w_iters=TUNED["last_w_iters"], schedule=TUNED["schedule"],
                 lr=1e-3, val_fraction=0.0, patience=None, backend="numpy", device="cpu", dtype="float64",
                 random_state=0, verbose=0, scheduler=None):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.method = method
        self.epochs = epochs
        self.batch_size = batch_size
        self.lam = lam
        self.rho = rho
        self.gamma = gamma
        self.x_weight = x_weight
        self.lam_growth = lam_growth
        self.lam_max = lam_max
        self.gamma_growth = gamma_growth
        self.momentum = momentum
        self.refresh = refresh
        self.x_iters = x_iters
        self.w_iters = w_iters
        self.last_w_iters = last_w_iters
        self.schedule = schedule
        self.lr = lr
        self.val_fraction = val_fraction
        self.patience = patience
        self.backend = backend
        self.device = device
        self.dtype = dtype
        self.random_state = random_state
        self.verbose = verbose
        self.scheduler = scheduler

    # ---- helpers -----------------------------------------------------------------------
    def _hidden(self) -> list[int]:
        h = self.hidden_layer_sizes
        h = (h,) if isinstance(h, (int, np.integer)) else tuple(h)
        if any(isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 1 for s in h):
            raise ValueError(f"hidden_layer_sizes: expected positive integers, got {self.hidden_layer_sizes!r}")
        return [int(s) for s in h]

    def _seed(self) -> int:
        rs = self.random_state
        if isinstance(rs, (int, np.integer)) and not isinstance(rs, bool):
            if rs < 0:
                raise ValueError(f"random_state: expected a non-negative integer, None or a RandomState, got {rs}")
            return int(rs)
        try:
            return int(check_random_state(rs).randint(0, 2**31 - 1))
        except ValueError:
            raise ValueError(f"random_state: expected a non-negative integer, None or a RandomState, "
                             f"got {rs!r}") from None

    def _fit(self, X: np.ndarray, targets: np.ndarray, n_out: int):
        from .baselines import METHODS, train_backprop
        from .training import train

        if self.method not in ("fenchel",) + METHODS:
            raise ValueError(f"method: expected 'fenchel', 'adam' or 'sgd', got {self.method!r}")
        if self.scheduler is not None and self.method != "fenchel":
            raise ValueError(f"scheduler: only method='fenchel' runs on Dask, got method={self.method!r}")
        seed = self._seed()
        sizes = [X.shape[1], *self._hidden(), n_out]
        net = FenchelNetwork(sizes, activation=self.activation, loss=self._loss, lam=self.lam, rho=self.rho,
                             seed=seed)
        # gamma=None: the tuned preset's proximal weights, γ/λ_0 of its hidden layers times λ_0, its output γ
        ratio, last = TUNED["gamma"][0] / TUNED["lam"], TUNED["gamma"][-1]
        gamma = (list(ratio * np.asarray(net.lam)) + [last]) if self.gamma is None else self.gamma
        if self.method == "fenchel":
            learn = train
            if self.scheduler is not None:  # sample-parallel on Dask: "local" or a scheduler address
                from functools import partial

                from .training.dask import train_distributed

                learn = partial(train_distributed, scheduler=self.scheduler)
            res = learn(net, X.T, targets, verbose=self.verbose, progress=False, schedule=self.schedule,
                        epochs=self.epochs, batch_size=self.batch_size, gamma=gamma, x_weight=self.x_weight,
                        lam_growth=self.lam_growth, lam_max=self.lam_max, gamma_growth=self.gamma_growth,
                        momentum=self.momentum, refresh=self.refresh, x_iters=self.x_iters, w_iters=self.w_iters,
                        last_w_iters=self.last_w_iters, backend=self.backend, device=self.device, dtype=self.dtype,
                        seed=seed, val_fraction=self.val_fraction, patience=self.patience)
        else:
            res = train_backprop(net, X.T, targets, method=self.method, lr=self.lr, epochs=self.epochs,
                                 batch_size=self.batch_size, momentum=self.momentum, seed=seed,
                                 device=self.device if self.backend == "torch" else "cpu", dtype=self.dtype,
                                 val_fraction=self.val_fraction, patience=self.patience, verbose=self.verbose,
                                 progress=False)
        self.net_ = res.net
        self.history_ = res.history
        self.n_iter_ = max(r["epoch"] for r in res.history)
        return self

    def _logits(self, X: ArrayLike) -> np.ndarray:
        """Logits of the fitted network, n_samples x n_outputs."""
        check_is_fitted(self, "net_")
        X = validate_data(self, X, reset=False, dtype=np.float64)
        _, Z = self.net_.forward(X.T)
        return np.asarray(Z).T


class FenchelLiftedClassifier(ClassifierMixin, _FenchelLiftedBase):
    """Feed-forward classifier trained as a Fenchel lifted network (cross-entropy loss).

    Parameters (all stored as given; see :class:`fenchel_cvx.training.BCDConfig` for the BCD ones; the
    defaults are the tuned schedule :func:`fenchel_cvx.training.tuned`, with ``gamma=None`` meaning its hidden
    layers' ratio γ/λ_0 times ``lam`` on the hidden W-steps -- the preset's γ at the default ``lam`` -- and its γ on
    the output layer)
    ----------
    hidden_layer_sizes : tuple of int, widths of the hidden layers (default (100,))
    activation : name from :func:`fenchel_cvx.activations.names`
    method : "fenchel" (lifted BCD), "adam" or "sgd" (backprop baselines, learning rate ``lr``)
    epochs, batch_size, lam, rho, gamma, x_weight, lam_growth, lam_max, gamma_growth, momentum,
    refresh, x_iters, w_iters, last_w_iters, schedule, val_fraction, patience : training options
    backend ("numpy"/"torch"), device, dtype ("float64"/"float32"), random_state (module docstring), verbose (0 = quiet)
    scheduler : None (one process), ``"local"`` (a 2-worker Dask LocalCluster) or a Dask scheduler
        address ``"tcp://host:8786"``: lifted BCD runs sample-parallel on Dask
        (:func:`fenchel_cvx.training.dask.train_distributed`; method "fenchel", numpy backend)

    Attributes after fit: ``classes_``, ``n_features_in_`` (and ``feature_names_in_`` for a DataFrame),
    ``net_`` (:class:`FenchelNetwork`, one output per class), ``history_`` (per-epoch records), ``n_iter_``
    (epochs run).
    """

    _loss = "cross_entropy"

    def fit(self, X: ArrayLike, y: ArrayLike) -> FenchelLiftedClassifier:
        """Fit on X (n_samples x n_features) and class labels y (n_samples,), any hashable labels."""
        X, y = validate_data(self, X, y, dtype=np.float64, ensure_min_samples=2)
        check_classification_targets(y)
        self.classes_, codes = np.unique(y, return_inverse=True)
        if self.classes_.size < 2:
            raise ValueError(f"y: needs samples of at least 2 classes, got 1 class ({self.classes_[0]!r})")
        return self._fit(X, codes.astype(np.int64), self.classes_.size)

    def decision_function(self, X: ArrayLike) -> np.ndarray:
        """Logits: (n_samples,) z₁ − z₀ for two classes (positive → ``classes_[1]``), else (n_samples, n_classes)."""
        Z = self._logits(X)
        return Z[:, 1] - Z[:, 0] if Z.shape[1] == 2 else Z

    def predict_proba(self, X: ArrayLike) -> np.ndarray:
        """Class probabilities softmax(logits), n_samples x n_classes (columns follow ``classes_``)."""
        Z = self._logits(X)
        Z = Z - Z.max(axis=1, keepdims=True)
        P = np.exp(Z)
        return P / P.sum(axis=1, keepdims=True)

    def predict_log_proba(self, X: ArrayLike) -> np.ndarray:
        """log of :meth:`predict_proba` (computed stably)."""
        Z = self._logits(X)
        Z = Z - Z.max(axis=1, keepdims=True)
        return Z - np.log(np.exp(Z).sum(axis=1, keepdims=True))

    def predict(self, X: ArrayLike) -> np.ndarray:
        """Most probable class label of each sample."""
        Z = self._logits(X)
        return self.classes_[np.argmax(Z, axis=1)]


class FenchelLiftedRegressor(RegressorMixin, _FenchelLiftedBase):
    """Feed-forward regressor trained as a Fenchel lifted network (squared loss ½‖z − y‖²).

    Same parameters as :class:`FenchelLiftedClassifier`; y may be (n_samples,) or
    (n_samples, n_outputs). ``predict`` returns the same shape as the y seen in ``fit``.
    """

    _loss = "squared"

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def fit(self, X: ArrayLike, y: ArrayLike) -> FenchelLiftedRegressor:
        """Fit on X (n_samples x n_features) and real targets y, (n_samples,) or (n_samples, n_outputs)."""
        X, y = validate_data(self, X, y, dtype=np.float64, y_numeric=True, multi_output=True, ensure_min_samples=2)
        y = np.asarray(y, dtype=np.float64)
        self.y_ndim_ = y.ndim
        Y = y.reshape(X.shape[0], -1)
        self.n_outputs_ = Y.shape[1]
        return self._fit(X, Y.T.copy(), Y.shape[1])

    def predict(self, X: ArrayLike) -> np.ndarray:
        """Predicted targets, (n_samples,) or (n_samples, n_outputs) as the y of ``fit``."""
        Z = self._logits(X)
        return Z[:, 0] if self.y_ndim_ == 1 else Z
