"""The `gahb` command line: a thin Click front end over keras_gahb's Python API."""
