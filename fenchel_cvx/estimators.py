r"""scikit-learn estimators around lifted BCD training: :class:`FenchelLiftedClassifier`, :class:`FenchelLiftedRegressor`.

They follow scikit-learn's conventions -- ``X`` is **n_samples x n_features** here (transposed
internally to the project's features x samples), every constructor argument is stored
unchanged as an attribute, ``fit`` learns ``net_``, ``classes_``/``n_features_in_``,
``history_`` -- so ``get_params``/``set_params``/``clone``/``GridSearchCV`` work. scikit-learn
itself is optional (the ``data`` extra): when it is installed the estimators derive from
``BaseEstimator`` and the classifier/regressor mixins; otherwise a minimal compatible base
class provides ``get_params``/``set_params``/``score``.

Model: ``sizes = [n_features, *hidden_layer_sizes, n_outputs]``, activations ``activation``,
loss cross-entropy (classifier; ``predict_proba`` = softmax of the logits) or squared
(regressor), trained by :func:`fenchel_cvx.train` (``method="fenchel"``) or by the
backprop baselines (``method="adam"``/``"sgd"``, learning rate ``lr``).
"""

from __future__ import annotations

import inspect

import numpy as np

from .network import FenchelNetwork

__all__ = ["FenchelLiftedClassifier", "FenchelLiftedRegressor"]

try:  # scikit-learn is optional (the `data` extra)
    from sklearn.base import BaseEstimator as _SkBase
    from sklearn.base import ClassifierMixin as _SkClassifier
    from sklearn.base import RegressorMixin as _SkRegressor

    HAVE_SKLEARN = True
except ImportError:  # pragma: no cover - exercised only without scikit-learn
    HAVE_SKLEARN = False

    class _SkBase:
        """Minimal stand-in for sklearn.base.BaseEstimator (get_params/set_params)."""

        @classmethod
        def _get_param_names(cls):
            sig = inspect.signature(cls.__init__)
            return sorted(p.name for p in sig.parameters.values() if p.name != "self" and p.kind != p.VAR_KEYWORD)

        def get_params(self, deep=True):
            return {k: getattr(self, k) for k in self._get_param_names()}

        def set_params(self, **params):
            valid = self._get_param_names()
            for k, v in params.items():
                if k not in valid:
                    raise ValueError(f"invalid parameter {k!r} for estimator {type(self).__name__}; valid: {valid}")
                setattr(self, k, v)
            return self

        def __repr__(self):
            return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.get_params().items())})"

    class _SkClassifier:
        _estimator_type = "classifier"

        def score(self, X, y, sample_weight=None):
            y = np.asarray(y)
            w = None if sample_weight is None else np.asarray(sample_weight, dtype=float)
            return float(np.average(self.predict(X) == y, weights=w))

    class _SkRegressor:
        _estimator_type = "regressor"

        def score(self, X, y, sample_weight=None):
            y = np.asarray(y, dtype=float)
            pred = np.asarray(self.predict(X), dtype=float).reshape(y.shape)
            w = np.ones(y.shape[0]) if sample_weight is None else np.asarray(sample_weight, dtype=float)
            w = w.reshape((-1,) + (1,) * (y.ndim - 1))
            ss_res = float(np.sum(w * (y - pred) ** 2))
            ss_tot = float(np.sum(w * (y - np.average(y, axis=0, weights=w.reshape(-1))) ** 2))
            return 1.0 - ss_res / ss_tot if ss_tot > 0 else 0.0


class _FenchelLiftedBase(_SkBase):
    """Shared fit logic (see the module docstring); subclasses fix the loss and the targets."""

    _loss = "cross_entropy"

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", method="fenchel", epochs=10, batch_size=500,
                 lam=0.3, rho=0.0, gamma=None, x_weight=1.0, lam_growth=1.5, lam_max=float("inf"), gamma_growth=1.2,
                 momentum=0.7, refresh=True, x_iters=5, w_iters=1, last_w_iters=5, schedule="minibatch",
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
    def _check_X(self, X, fitting: bool):
        X = np.asarray(X, dtype=np.float64) if not hasattr(X, "toarray") else np.asarray(X.toarray(), dtype=np.float64)
        if X.ndim != 2:
            raise ValueError(f"X: expected a 2-D array (n_samples x n_features), got shape {X.shape}")
        if not np.all(np.isfinite(X)):
            raise ValueError("X: contains NaN or inf")
        if not fitting:
            if not hasattr(self, "net_"):
                raise _not_fitted(self)
            if X.shape[1] != self.n_features_in_:
                raise ValueError(f"X: has {X.shape[1]} features, but {type(self).__name__} was fitted with "
                                 f"{self.n_features_in_} features")
        return X

    def _hidden(self):
        h = self.hidden_layer_sizes
        h = (h,) if isinstance(h, (int, np.integer)) else tuple(h)
        if any(isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 1 for s in h):
            raise ValueError(f"hidden_layer_sizes: expected positive integers, got {self.hidden_layer_sizes!r}")
        return [int(s) for s in h]

    def _fit(self, X, targets, n_out):
        from .baselines import METHODS, train_backprop
        from .training import train

        if self.method not in ("fenchel",) + METHODS:
            raise ValueError(f"method: expected 'fenchel', 'adam' or 'sgd', got {self.method!r}")
        if self.scheduler is not None and self.method != "fenchel":
            raise ValueError(f"scheduler: only method='fenchel' runs on Dask, got method={self.method!r}")
        sizes = [X.shape[1], *self._hidden(), n_out]
        net = FenchelNetwork(sizes, activation=self.activation, loss=self._loss, lam=self.lam, rho=self.rho,
                             seed=self.random_state)
        # gamma=None: the tuned proximal weights, 0.1·λ_0 on hidden layers and 1 on the output layer
        gamma = (list(0.1 * np.asarray(net.lam)) + [1.0]) if self.gamma is None else self.gamma
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
                        seed=0 if self.random_state is None else int(self.random_state),
                        val_fraction=self.val_fraction, patience=self.patience)
        else:
            res = train_backprop(net, X.T, targets, method=self.method, lr=self.lr, epochs=self.epochs,
                                 batch_size=self.batch_size, momentum=self.momentum,
                                 seed=0 if self.random_state is None else int(self.random_state),
                                 device=self.device if self.backend == "torch" else "cpu", dtype=self.dtype,
                                 val_fraction=self.val_fraction, patience=self.patience, verbose=self.verbose,
                                 progress=False)
        self.net_ = res.net
        self.history_ = res.history
        self.n_features_in_ = X.shape[1]
        self.n_iter_ = max(r["epoch"] for r in res.history)
        return self

    def _decision(self, X):
        X = self._check_X(X, fitting=False)
        _, Z = self.net_.forward(X.T)
        return np.asarray(Z).T  # n_samples x n_outputs


def _not_fitted(est):
    msg = f"This {type(est).__name__} instance is not fitted yet. Call 'fit' with appropriate arguments first."
    try:
        from sklearn.exceptions import NotFittedError

        return NotFittedError(msg)
    except ImportError:  # pragma: no cover
        return AttributeError(msg)


class FenchelLiftedClassifier(_SkClassifier, _FenchelLiftedBase):
    """Feed-forward classifier trained as a Fenchel lifted network (cross-entropy loss).

    Parameters (all stored as given; see :class:`fenchel_cvx.training.BCDConfig` for the BCD ones; the
    defaults are the tuned schedule :func:`fenchel_cvx.training.tuned`, with ``gamma=None`` meaning
    0.1·λ_0 on the hidden W-steps and 1 on the output layer)
    ----------
    hidden_layer_sizes : tuple of int, widths of the hidden layers (default (100,))
    activation : name from :func:`fenchel_cvx.activations.names`
    method : "fenchel" (lifted BCD), "adam" or "sgd" (backprop baselines, learning rate ``lr``)
    epochs, batch_size, lam, rho, gamma, x_weight, lam_growth, lam_max, gamma_growth, momentum,
    refresh, x_iters, w_iters, last_w_iters, schedule, val_fraction, patience : training options
    backend ("numpy"/"torch"), device, dtype ("float64"/"float32"), random_state (initialisation
    and batch order), verbose (0 = quiet)
    scheduler : None (one process), ``"local"`` (a 2-worker Dask LocalCluster) or a Dask scheduler
        address ``"tcp://host:8786"``: lifted BCD runs sample-parallel on Dask
        (:func:`fenchel_cvx.training.dask.train_distributed`; method "fenchel", numpy backend)

    Attributes after fit: ``classes_``, ``n_features_in_``, ``net_`` (:class:`FenchelNetwork`),
    ``history_`` (per-epoch records), ``n_iter_`` (epochs run).
    """

    _loss = "cross_entropy"

    def fit(self, X, y):
        """Fit on X (n_samples x n_features) and class labels y (n_samples,), any hashable labels."""
        X = self._check_X(X, fitting=True)
        y = np.asarray(y)
        if y.ndim != 1:
            raise ValueError(f"y: expected a 1-D array of class labels, got shape {y.shape}")
        if y.shape[0] != X.shape[0]:
            raise ValueError(f"y: {y.shape[0]} labels for {X.shape[0]} samples")
        self.classes_, codes = np.unique(y, return_inverse=True)
        if self.classes_.size < 2:
            raise ValueError(f"y: needs at least 2 classes, got {self.classes_.size}")
        return self._fit(X, codes.astype(np.int64), self.classes_.size)

    def decision_function(self, X):
        """Logits, n_samples x n_classes."""
        return self._decision(X)

    def predict_proba(self, X):
        """Class probabilities softmax(logits), n_samples x n_classes (columns follow ``classes_``)."""
        Z = self._decision(X)
        Z = Z - Z.max(axis=1, keepdims=True)
        P = np.exp(Z)
        return P / P.sum(axis=1, keepdims=True)

    def predict(self, X):
        """Most probable class label of each sample."""
        Z = self._decision(X)
        return self.classes_[np.argmax(Z, axis=1)]


class FenchelLiftedRegressor(_SkRegressor, _FenchelLiftedBase):
    """Feed-forward regressor trained as a Fenchel lifted network (squared loss ½‖z − y‖²).

    Same parameters as :class:`FenchelLiftedClassifier`; y may be (n_samples,) or
    (n_samples, n_outputs). ``predict`` returns the same shape as the y seen in ``fit``.
    """

    _loss = "squared"

    def fit(self, X, y):
        """Fit on X (n_samples x n_features) and real targets y."""
        X = self._check_X(X, fitting=True)
        y = np.asarray(y, dtype=np.float64)
        if y.ndim not in (1, 2) or y.shape[0] != X.shape[0]:
            raise ValueError(f"y: expected shape ({X.shape[0]},) or ({X.shape[0]}, n_outputs), got {y.shape}")
        if not np.all(np.isfinite(y)):
            raise ValueError("y: contains NaN or inf")
        self.y_ndim_ = y.ndim
        Y = y.reshape(X.shape[0], -1)
        self.n_outputs_ = Y.shape[1]
        return self._fit(X, Y.T.copy(), Y.shape[1])

    def predict(self, X):
        Z = self._decision(X)
        return Z[:, 0] if self.y_ndim_ == 1 else Z
