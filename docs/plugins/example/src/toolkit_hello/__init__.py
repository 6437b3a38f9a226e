"""toolkit-hello: the smallest complete toolkit plugin."""
