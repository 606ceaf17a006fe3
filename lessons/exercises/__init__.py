"""Exercise stubs, one file per lesson: the handout (see README.md)."""
