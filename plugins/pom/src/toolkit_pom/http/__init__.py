"""HTTP adapters: pom's own API (specs/pom/http.md) and process-compose's (process-compose-api.md).

Kept empty: importing a module here must not import its siblings (`pom logs` stays fast).
"""
