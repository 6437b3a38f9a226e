"""click adapters: parse, call the control client or core, render (specs/pom/cli.md).

Kept empty: importing a module here must not import its siblings (`pom logs` stays fast).
"""
