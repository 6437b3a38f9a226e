"""`pom up`: runs the supervisor with its control socket, HTTP listeners and TUI.

Kept empty: importing a module here must not import its siblings (`pom logs` stays fast).
"""
