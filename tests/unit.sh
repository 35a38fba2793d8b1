#!/bin/sh
# tests/unit.sh - runs the Criterion binary holding every unit suite.
exec "$UNIT" --jobs 2
