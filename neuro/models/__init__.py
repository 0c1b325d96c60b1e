"""Neuron models: parameters + state + a pure numpy step (the reference semantics)."""

from .base import MODELS, InputModel, NeuronModel
from .fatrelu import FATReLU
from .input import Input, TokenInput
from .readout import Readout

MODELS.register_lazy("egru", "neuro.models.egru:EGRU")
MODELS.register_lazy("kwta", "neuro.models.kwta:KWTA")
MODELS.register_lazy("sas", "neuro.models.sas:SAS")
MODELS.register_lazy("maxpool", "neuro.models.maxpool:MaxPool")

__all__ = ["MODELS", "NeuronModel", "InputModel", "FATReLU", "Input", "TokenInput", "Readout"]
