"""Helpers shared by the `gahb` commands (not a command itself)."""

import json

import click


def parse_key_values(pairs, param_hint):
    """KEY=VALUE pairs -> dict; values are read as JSON when they parse (3, 0.5, [1, 2], true)."""
    values = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected KEY=VALUE, got {pair!r}", param_hint=param_hint)
        try:
            values[key] = json.loads(value)
        except json.JSONDecodeError:
            values[key] = value
    return values
