"""The embedding encoder and the topic model (seed article → topics → scores with evidence).

Importing this package is cheap: torch and sentence-transformers load only to build the torch encoder or to
make the ONNX export (once); the ONNX encoders run without them.
"""
