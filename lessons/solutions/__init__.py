"""Reference solutions of the exercises, one file per lesson (for teachers)."""
