"""What newsmon brings for a laptop, a demo and its own tests, and never starts unasked: a local Apache Kafka
(``newsmon kafka start``, or when no ``kafka_bootstrap`` is set and a command says it starts one), a server for
recorded feeds and the bundled demo feeds (``--demo``), and the fault tests' crash points."""
