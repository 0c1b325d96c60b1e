"""The event-network intermediate representation."""

from .conv_geometry import ConvGeometry
from .network import Network
from .population import Population
from .projection import Projection
from .weights import WEIGHTS, Conv2d, Dense, Sparse, WeightOperator

__all__ = [
    "Network",
    "Population",
    "Projection",
    "WEIGHTS",
    "WeightOperator",
    "Dense",
    "Sparse",
    "Conv2d",
    "ConvGeometry",
]
