"""fenchel_cvx: Fenchel lifted networks (Gu, Askari, El Ghaoui, AISTATS 2020).

Activations as conjugate pairs (:mod:`fenchel_cvx.activations`), losses
(:mod:`fenchel_cvx.losses`), the lifted network model (:class:`FenchelNetwork`),
datasets (:mod:`fenchel_cvx.data`). Shapes are features x samples everywhere.
"""

from . import activations, data, losses
from .conv import ConvFenchelNetwork
from .network import FenchelNetwork, LiftedTerms

__version__ = "0.1.0"
__all__ = ["FenchelNetwork", "ConvFenchelNetwork", "LiftedTerms", "activations", "losses", "data", "__version__"]
