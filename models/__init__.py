"""The embedding encoder and the topic model (seed article → topics → scores with evidence).

Importing this package is cheap: torch and sentence-transformers load only when an encoder is built.
"""
