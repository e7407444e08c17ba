"""Request handlers, one module per part of the spec. Each is thin: parse, call the store, respond."""
