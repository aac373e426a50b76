"""Pure parsers: one module per provider, raw vendor JSON in, NormalizedEvent out."""
