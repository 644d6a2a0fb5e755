"""W2GN: Wasserstein-2 Generative Networks (Korotin et al., ICLR 2021), reproduced."""
from .layers import ConvexQuadratic
from .icnn import ICNN, DenseICNN, ConvICNN, ConvICNN128, init_normal_

__all__ = ["ConvexQuadratic", "ICNN", "DenseICNN", "ConvICNN", "ConvICNN128", "init_normal_"]
