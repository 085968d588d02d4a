"""The simulator layer: time, randomness, fake hardware (SimPy). Arrives with a later issue."""
