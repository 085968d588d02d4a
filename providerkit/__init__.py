"""The provider test kit: drive a real provider with generated schedules and judge it by the spec.

UCloud's providers are written in Go, Kotlin or anything else and spoken to over HTTP. The kit
plays UCloud/Core against one of them:

* :mod:`providerkit.adapter` - the interface through which a provider is driven: the calls Core
  makes on a provider (create, terminate, extend, suspend, unsuspend, retrieveProducts), the
  ``jobs.control.update`` calls it makes back, and optional test hooks (reset, finish, fail, advance);
* :mod:`providerkit.reference` - the spec's own provider (:mod:`spec.provider`) behind that interface;
* :mod:`providerkit.http` - the same interface over UCloud's provider paths, with a local endpoint
  that receives the provider's control calls;
* :mod:`providerkit.server` - the reference provider served over HTTP (and misbehaving variants);
* :mod:`providerkit.kit` - the Hypothesis state machine that drives an adapter, records what it saw
  as a trace and judges it with the trace checker (:mod:`spec.conformance`);
* :mod:`providerkit.proxy` - ``ucsim record``: a recording proxy between UCloud and a provider.

Imports :mod:`spec` and the standard library; never the simulator.
"""
