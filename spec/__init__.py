"""The executable specification of UCloud's compute orchestrator (jobs, providers, resources).

`spec` is the one source of truth for the protocol. It holds:

* :mod:`spec.wire`  - UCloud's JSON shapes as pydantic models (camelCase on the wire);
* :mod:`spec.trace` - the JSON Lines trace format: a streaming reader and a writer;
* the transition system, its rules, variants, mutants and properties (later modules).

This package never imports the simulator, SimPy, pandas or matplotlib: it stays importable and fast.
"""
