"""Applications built on the library: the language-model training and evaluation
commands (:mod:`neuro.apps.lm`), the digits demo (:mod:`neuro.apps.demo`) and the dense
forward pass used as a baseline (:mod:`neuro.apps.dense_forward`).

They sit above the core (``neuro.ir``, ``models``, ``backends``, ``audit``, ``io``,
``hardware``) and the converters, which never import them.
"""
